#pragma once
#include "engine/cli/command_line.hpp"

namespace cachestress::cli {

// `cachestress compare BASE.json NEW.json`: per-metric verdicts; returns the exit code: 0 no
// regression, 1 regression, 4 inconclusive; input errors throw InputError (exit 2).
int run_compare_command(const CompareFlags& flags);

}  // namespace cachestress::cli
