#pragma once
// One named setting of a run, given as text: how --sweep values and [sweep] entries change
// a scenario ("concurrency" = "16", "sharing" = "locked"). Shared by the CLI and the loader
// so a sweep value means exactly what the flag of the same name means.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/scenario.hpp"

namespace cachestress::scenario {

inline constexpr const char* k_backend_choices = "inproc, fake, process, command";
inline constexpr double k_max_build_timeout_s = 86400;
inline constexpr const char* k_duration_help = "a duration in 0..86400 s such as 30, 30s, 500ms or 2m";

// "30" or "30s" (seconds), "500ms", "2m"; nothing when malformed, negative or over max_s.
std::optional<std::uint32_t> parse_duration_ms(std::string_view text, double max_s);

// The setting names a sweep may vary, in a stable order.
const std::vector<std::string_view>& sweep_keys();

// Applies key=value to the scenario. Throws InputError "KEY: expected ... (got "VALUE")".
void apply_setting(model::Scenario& scenario, std::string_view key, std::string_view value);

// Parses "key=v1,v2,v3" (a --sweep argument) into an axis; checks every value.
model::SweepAxis parse_sweep_flag(std::string_view text, const model::Scenario& scenario);

}  // namespace cachestress::scenario
