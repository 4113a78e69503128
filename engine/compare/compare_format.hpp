#pragma once
// The comparison as a terminal table, a Markdown comment (for bots) or JSON.
#include <nlohmann/json.hpp>
#include <string>

#include "engine/compare/compare.hpp"

namespace cachestress::compare {

std::string to_text(const Comparison& comparison);
std::string to_markdown(const Comparison& comparison);
nlohmann::json to_json(const Comparison& comparison);

}  // namespace cachestress::compare
