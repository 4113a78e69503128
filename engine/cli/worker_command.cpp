// `cachestress worker [--event-fd N] [--workspace-fd N] [--serve]`: one build of --backend process
// (engine/worker/worker.hpp), or with --serve the run's fork server (engine/worker/fork_server.hpp).
// Hidden from --help: the parent runs it, a user never needs to. By hand, for debugging:
//   cachestress worker --event-fd 1 < plan.json     (events on stdout)
#include "engine/cli/worker_command.hpp"

#include "engine/worker/fork_server.hpp"
#include "engine/worker/worker.hpp"

namespace cachestress::cli {

int run_worker_command(int event_fd, int workspace_fd, bool serve) {
  return serve ? worker::serve_forks(0) : worker::worker_main(event_fd, workspace_fd);
}

}  // namespace cachestress::cli
