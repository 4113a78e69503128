// `cachestress worker [--event-fd N]`: one build of --backend process (engine/worker/worker.hpp).
// Hidden from --help: the parent runs it, a user never needs to. By hand, for debugging:
//   cachestress worker --event-fd 1 < plan.json     (events on stdout)
#include "engine/cli/worker_command.hpp"

#include <memory>

#include "engine/worker/worker.hpp"

namespace cachestress::cli {

Command add_worker_command(CLI::App& app) {
  auto* command = app.add_subcommand("worker", "internal: run one build of --backend process (plan on stdin)");
  command->group("");  // an empty group hides it from --help
  auto event_fd = std::make_shared<int>(worker::k_event_fd);
  command->add_option("--event-fd", *event_fd, "write event lines to this fd (default 3)");
  return {command, [event_fd] { return worker::worker_main(*event_fd); }};
}

}  // namespace cachestress::cli
