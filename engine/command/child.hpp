#pragma once
// One child process of the command backend, on the run's loop: started with posix_spawn and
// watched through a pidfd (posix_launch.hpp says why; uv_spawn where pidfds are not
// available), with stdout and stderr captured through pipes (bounded in memory), stdin from /dev/null, an optional
// timeout (SIGTERM to its process group, SIGKILL after a grace period), and one callback
// when it has been reaped and both pipes reached EOF. The loop thread never blocks here.
//
// Lifetime follows ../shared/docs/style.md: the handles live in a heap state freed by the
// last close callback. Destroying a Child whose process still runs sends SIGKILL to its
// group and leaves the state to reap it; no callback comes after that.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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
  enum class Launcher { automatic, posix_spawn, uv_spawn };

  struct Spec {
    std::vector<std::string> argv;  // argv[0] is looked up in the environment's PATH
    std::vector<std::string> env;   // the whole environment, "KEY=VALUE"
    std::string cwd;
    std::uint64_t timeout_ms = 0;   // 0: none
    Launcher launcher = Launcher::automatic;
  };
  using DoneFn = std::function<void(ChildResult&)>;

  explicit Child(uv_loop_t* loop);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Spawns; `done` is called exactly once, also when the spawn fails (on a later loop turn).
  void start(Spec spec, DoneFn done);
  // Signals the child's process group while it has not been reaped (no-op afterwards).
  void kill(int signum) noexcept;

 private:
  struct State;
  State* m_state;
};

}  // namespace cachestress::command
