#pragma once

namespace cachestress::cli {

// The hidden `cachestress worker` subcommand: one build of --backend process.
int run_worker_command(int event_fd);

}  // namespace cachestress::cli
