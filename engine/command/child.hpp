#pragma once
// One child process of the command backend, on the run's loop: a core::ChildProcess
// (posix_spawn + pidfd, uv_spawn where pidfds are not available) with stdin from /dev/null,
// stdout and stderr captured (bounded in memory), an optional timeout (SIGTERM to its process
// group, SIGKILL after a grace period), and one callback when it has been reaped and both
// pipes reached EOF, also when it could not start. The loop thread never blocks here.
//
// Lifetime is core::ChildProcess's: destroying a Child whose process still runs sends SIGKILL
// to its group and leaves the launcher's state to reap it; no callback comes after that.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/child_process.hpp"
#include "engine/model/command.hpp"

namespace cachestress::command {

struct ChildResult {
  int spawn_error = 0;        // a libuv error (UV_ENOENT...): the command never ran
  std::int64_t exit_status = 0;
  int term_signal = 0;        // the signal that killed it, or 0
  bool timed_out = false;
  std::string out, err;       // captured, at most k_max_capture bytes each
  std::uint64_t out_dropped = 0, err_dropped = 0;  // bytes beyond the cap, counted not kept
};

class Child {
 public:
  static constexpr std::size_t k_max_capture = 1024 * 1024;
  static constexpr std::uint64_t k_kill_grace_ms = 2000;

  // How the child is started. automatic: posix_spawn + pidfd where the kernel allows it.
  using Launcher = core::ChildProcess::Launcher;

  struct Spec {
    std::vector<std::string> argv;  // argv[0] is looked up in the environment's PATH
    std::vector<std::string> env;   // the whole environment, "KEY=VALUE"
    std::string cwd;
    std::uint64_t timeout_ms = 0;   // 0: none
    Launcher launcher = Launcher::automatic;
    bool end_group_on_exit = false;  // core::ChildProcess::Spec's: true for a build's command
    // Set: the bytes of stdout or stderr past k_max_capture as they arrive, with what was kept
    // of that stream (complete by then).
    std::function<void(model::OutputStream stream, std::string_view kept, std::string_view chunk)> past_limit{};
  };
  using DoneFn = std::function<void(ChildResult&)>;

  explicit Child(uv_loop_t* loop) : m_process(loop) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Spawns; `done` is called exactly once, also when the spawn fails (on a later loop turn).
  void start(Spec spec, DoneFn done);
  // Signals the child's process group while it has not been reaped (no-op afterwards).
  void kill(int signum) noexcept { m_process.kill(signum); }
  void stop(int signum) noexcept { m_process.stop(signum); }  // SIGKILL after k_kill_grace_ms

 private:
  core::ChildProcess m_process;
  decltype(Spec::past_limit) m_past_limit;
};

}  // namespace cachestress::command
