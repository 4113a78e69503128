#pragma once
// Text helpers the scenario files share (parser, TOML writer, equality): message quoting,
// expectation comparisons and their order. Internal to engine/scenario/.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model/scenario.hpp"

namespace cachestress::scenario {

// Escapes control bytes so a message stays on one line; optionally quotes and truncates.
std::string escape(std::string_view text, bool quote, std::size_t max_bytes);
// A value in a message: quoted, escaped, at most 80 bytes.
std::string quoted(std::string_view text);

// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view text);

// "<= 5", ">0", "3": the operator (== when none) and the number; nothing when malformed.
std::optional<std::pair<model::Comparison, double>> parse_comparison(std::string_view text);

// Unconditional expectations first, then by condition, then by field.
bool expectation_order(const model::Expectation& a, const model::Expectation& b);
std::vector<model::Expectation> sorted_by_field(std::vector<model::Expectation> expectations);

}  // namespace cachestress::scenario
