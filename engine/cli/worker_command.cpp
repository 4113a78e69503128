// `cachestress worker [--event-fd N]`: one build of --backend process (engine/worker/worker.hpp).
// Hidden from --help: the parent runs it, a user never needs to. By hand, for debugging:
//   cachestress worker --event-fd 1 < plan.json     (events on stdout)
#include "engine/cli/worker_command.hpp"

#include "engine/worker/worker.hpp"

namespace cachestress::cli {

int run_worker_command(int event_fd) { return worker::worker_main(event_fd); }

}  // namespace cachestress::cli
