#pragma once
// `cachestress worker`: one build of `--backend process`, run in its own process. It reads
// its plan (engine/worker/plan.hpp) from stdin, takes its cache root from TMPDIR, runs the
// steps synchronously (blocking is fine: this process does nothing else), and reports every
// step event as a JSON line (engine/worker/protocol.hpp) on the event fd (fd 3).
//
// Exit status: 0 every step ran ("done" sent), 1 the build failed ("failed" sent),
// 2 protocol error: bad plan, TMPDIR missing or outside the workspace ("failed" sent when
// the event fd works). Killed by a signal: the parent sees the signal; the kernel releases
// every lock the process held.
#include <string_view>

#include "engine/worker/plan.hpp"

namespace cachestress::worker {

inline constexpr int k_event_fd = 3;
// Where a build started by the runner finds the workspace directory (fork server and
// spawned alike): an inherited fd, so nothing resolves the workspace's path.
inline constexpr int k_workspace_fd = 4;

enum WorkerExit : int { exit_done = 0, exit_failed = 1, exit_protocol = 2 };

// Runs one build. plan_text: the plan JSON; tmpdir: the TMPDIR value (nullptr when unset);
// events are written to event_fd. workspace_fd >= 0: the workspace is this directory (taken
// over, closed at the end) and the plan's path only names it; else the plan's path is opened.
// Never throws; safe to call from a test, on any thread.
// kinds: kinds already parsed (decode_plan's cache), or nullptr.
int run_worker(std::string_view plan_text, const char* tmpdir, int event_fd, int workspace_fd = -1,
               KindCache* kinds = nullptr) noexcept;

// The subcommand's body: reads the plan from stdin (bounded), TMPDIR from the environment,
// and arranges to die with the parent (PR_SET_PDEATHSIG) so no worker outlives the run.
// workspace_fd >= 0 (--workspace-fd, always given by the runner): the workspace is that
// inherited directory; -1 (by hand, debugging) opens the plan's path.
int worker_main(int event_fd, int workspace_fd = -1);

}  // namespace cachestress::worker
