#pragma once
// The parent side of one `--backend process` build: a core::ChildProcess (posix_spawn +
// pidfd, uv_spawn where pidfds are not available) that writes the plan to the child's stdin
// and hands the bytes of its fd 3 here, where they are split into event lines
// (engine/worker/protocol.hpp), decoded and reported; a protocol violation kills the child.
// The loop thread never blocks here: writes, reads, the exit and timeouts are callbacks.
//
// Child stdio: 0 = plan (then EOF), 1 = /dev/null, 2 = captured (last k_stderr_tail bytes),
// 3 = events, 4 = the workspace directory when Spec::workspace_fd is set. The child gets its
// own session: a terminal's Ctrl-C reaches only the runner, which decides what each child
// gets (kill()). A worker also asks the kernel to kill it if the runner dies
// (PR_SET_PDEATHSIG), so nothing outlives a run.
//
// Lifetime (core::ChildProcess's): on_exit is called exactly once per successful start(),
// after the child was reaped and its pipes reached EOF (or the drain grace ran out); nothing
// is called after the ProcessBuild is destroyed, also from inside its own callbacks.
// Destroying a ProcessBuild whose child still runs sends SIGKILL and leaves the launcher's
// state to reap the child and close itself: no zombie, no dangling callback.
//
// Side effect: start() sets SIGPIPE to ignored for the whole process (once), so writing a
// plan to a child that already died is an EPIPE, not the runner's death.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/child_process.hpp"
#include "engine/worker/protocol.hpp"

namespace cachestress::backend {

class ProcessBuild {
 public:
  static constexpr std::size_t k_stderr_tail = 4096;
  // After --build-timeout's SIGTERM, SIGKILL follows this much later unless the child is gone.
  static constexpr std::uint64_t k_default_kill_grace_ms = 2000;

  struct Spec {
    std::string exe;                // the program (own_executable() for a worker)
    std::vector<std::string> args;  // argv after the program, e.g. {"worker"}
    std::string plan;               // written to the child's stdin, then EOF
    std::vector<std::string> env;   // the child's whole environment, "KEY=VALUE" each
    int workspace_fd = -1;          // >= 0: the child's fd 4 is a copy (worker::k_workspace_fd)
    std::uint64_t timeout_ms = 0;   // --build-timeout: SIGTERM after this long (0: never)
    std::uint64_t kill_grace_ms = k_default_kill_grace_ms;
    core::ChildProcess::Launcher launcher = core::ChildProcess::Launcher::automatic;
    // Set: starts the child instead (the fork server, which gets the plan itself): exe, args,
    // plan and env are not used, and the child's stdin is /dev/null.
    core::ChildProcess::LaunchFn launch;
  };

  // at_us: the worker's own timestamp of the event (core::now_us clock).
  using EventFn = std::function<void(const worker::protocol::Event& event, std::uint64_t at_us)>;
  // exit_status: the child's exit code (0 when killed); term_signal: the signal that killed
  // it, or 0. How to read it (in this order): protocol_error() non-empty -> the child broke the
  // protocol and was killed for it; timed_out() -> killed by the build timeout; term_signal ->
  // crashed or killed; otherwise exit_status (see engine/worker/worker.hpp).
  using ExitFn = std::function<void(std::int64_t exit_status, int term_signal)>;

  ProcessBuild(uv_loop_t* loop, EventFn on_event, ExitFn on_exit);
  ~ProcessBuild();
  ProcessBuild(const ProcessBuild&) = delete;
  ProcessBuild& operator=(const ProcessBuild&) = delete;

  // Spawns the child. 0, or a libuv error (UV_ENOENT, UV_EMFILE, UV_EAGAIN...) in which case
  // no callback will come. Call at most once.
  [[nodiscard]] int start(Spec spec);

  // Sends a signal to the child's process group while the child has not been reaped
  // (no-op afterwards): the child and anything it started.
  void kill(int signum) noexcept;

  int pid() const noexcept;
  // Started and on_exit not called yet.
  bool running() const noexcept;
  bool timed_out() const noexcept;
  // The first protocol violation ("line 3: unknown event \"x\""), empty when none.
  const std::string& protocol_error() const noexcept;
  // The last k_stderr_tail bytes the child wrote to stderr.
  const std::string& stderr_tail() const noexcept;

 private:
  // The line decoding state. Shared with the launcher's fd 3 callback, so that a ProcessBuild
  // destroyed by its own on_event leaves the splitter alive until that callback returns.
  struct Decoder;
  std::shared_ptr<Decoder> m_decoder;
  core::ChildProcess m_child;  // after m_decoder: destroyed (detached) first
};

// Our own binary (uv_exepath), to run `<exe> worker`. Throws EnvironmentError.
std::string own_executable();

// This process's environment with TMPDIR set to `tmpdir` (added when absent): the child's
// environment under the env policy (the runner picks tmpdir).
std::vector<std::string> environment_with_tmpdir(const std::string& tmpdir);

}  // namespace cachestress::backend
