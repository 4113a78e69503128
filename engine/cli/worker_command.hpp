#pragma once
// The hidden `cachestress worker` subcommand (listed in engine/cli/commands.cpp).
#include "engine/cli/commands.hpp"

namespace cachestress::cli {

Command add_worker_command(CLI::App& app);

}  // namespace cachestress::cli
