#pragma once
#include <string_view>
#include <vector>

namespace cachestress::scenario {

// A built-in scenario: its name (the file name without .toml) and its TOML text.
struct EmbeddedScenario {
  std::string_view name;
  std::string_view toml;
};

// Every scenarios/*.toml compiled into the binary, sorted by name.
const std::vector<EmbeddedScenario>& embedded_scenarios();

}  // namespace cachestress::scenario
