#pragma once
// Subcommands beyond run/list/show, one file each (engine/cli/<name>_command.cpp). Each
// registers its CLI11 subcommand and returns what to run when it was parsed. Errors are
// thrown as InputError (exit 2) / EnvironmentError (exit 3); the return value is the exit code.
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace cachestress::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Adds every extra subcommand to app (commands.cpp lists them).
std::vector<Command> add_extra_commands(CLI::App& app);

}  // namespace cachestress::cli
