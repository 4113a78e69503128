// `cachestress worker [--event-fd N]`: one build of --backend process (engine/worker/worker.hpp).
// `cachestress worker --serve`: the run's fork server, a build per request on its fd 0
// (engine/worker/fork_server.hpp). Hidden from --help: the parent runs them, a user never
// needs to. By hand, for debugging:
//   cachestress worker --event-fd 1 < plan.json     (events on stdout)
#include "engine/cli/worker_command.hpp"

#include <memory>

#include "engine/worker/fork_server.hpp"
#include "engine/worker/worker.hpp"

namespace cachestress::cli {

Command add_worker_command(CLI::App& app) {
  auto* command = app.add_subcommand("worker", "internal: run one build of --backend process (plan on stdin)");
  command->group("");  // an empty group hides it from --help
  auto event_fd = std::make_shared<int>(worker::k_event_fd);
  command->add_option("--event-fd", *event_fd, "write event lines to this fd (default 3)");
  auto serve = std::make_shared<bool>(false);
  command->add_flag("--serve", *serve, "be the run's fork server: fork a build per request on fd 0 (a socket)");
  return {command, [event_fd, serve] { return *serve ? worker::serve_forks(0) : worker::worker_main(*event_fd); }};
}

}  // namespace cachestress::cli
