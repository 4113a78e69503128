#pragma once
// One named setting of a run, given as text: how --sweep values and [sweep] entries change
// a scenario ("concurrency" = "16", "sharing" = "locked"). Shared by the CLI and the loader
// so a sweep value means exactly what the flag of the same name means.
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/scenario.hpp"

namespace cachestress::scenario {

// The setting names a sweep may vary, in a stable order.
const std::vector<std::string_view>& sweep_keys();

// Applies key=value to the scenario. Throws InputError "KEY: expected ... (got "VALUE")".
void apply_setting(model::Scenario& scenario, std::string_view key, std::string_view value);

// Parses "key=v1,v2,v3" (a --sweep argument) into an axis; checks every value.
model::SweepAxis parse_sweep_flag(std::string_view text, const model::Scenario& scenario);

}  // namespace cachestress::scenario
