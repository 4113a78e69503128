#include "engine/cli/commands.hpp"

#include "engine/cli/compare_command.hpp"
#include "engine/cli/report_command.hpp"
#include "engine/cli/worker_command.hpp"

namespace cachestress::cli {

std::vector<Command> add_extra_commands(CLI::App& app) {
  std::vector<Command> commands;
  (void)app;
  // One line per subcommand file, e.g. commands.push_back(add_compare_command(app));
  commands.push_back(add_report_command(app));
  commands.push_back(add_compare_command(app));
  commands.push_back(add_worker_command(app));
  return commands;
}

}  // namespace cachestress::cli
