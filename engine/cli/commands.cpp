#include "engine/cli/commands.hpp"

namespace cachestress::cli {

std::vector<Command> add_extra_commands(CLI::App& app) {
  std::vector<Command> commands;
  (void)app;
  // One line per subcommand file, e.g. commands.push_back(add_compare_command(app));
  return commands;
}

}  // namespace cachestress::cli
