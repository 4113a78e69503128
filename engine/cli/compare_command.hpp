#pragma once
#include "engine/cli/commands.hpp"

namespace cachestress::cli {

// `cachestress compare BASE.json NEW.json`: per-metric verdicts; exit 0 no regression,
// 1 regression, 2 input error.
Command add_compare_command(CLI::App& app);

}  // namespace cachestress::cli
