#pragma once

namespace cachestress::cli {

// The hidden `cachestress worker` subcommand: one build of --backend process.
// serve: be the run's fork server on fd 0 instead (engine/worker/fork_server).
int run_worker_command(int event_fd, int workspace_fd, bool serve);

}  // namespace cachestress::cli
