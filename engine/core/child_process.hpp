#pragma once
// One child process on the loop, the one launcher of the process and command backends:
// started with posix_spawn and watched through a pidfd (posix_launch.hpp says why), or with
// uv_spawn where pidfds are not available. The loop thread never blocks here: the stdin
// payload's write, the reads, the exit and the timers are all callbacks.
//
// The child: fd 0 is /dev/null or a payload written then closed (EOF); fds 1 and 2 are
// /dev/null or captured (the first N bytes, or the last N); fd 3, when asked for, is a pipe
// whose bytes are handed to a callback in chunks as they arrive; fd 4, when asked for, a copy
// of one of our fds (a directory the child must reach without a path). It leads its own session
// (so its own process group, and no controlling terminal: a terminal's Ctrl-C reaches only
// us), with every signal at its default disposition (our ignored SIGPIPE is not inherited).
// kill() and the timeout (SIGTERM, then SIGKILL after the grace) signal its whole group.
//
// on_exit is called once, after the child was reaped and every pipe read reached EOF; a pipe
// still held open by something the child started (in its own session) is given a drain grace,
// after which what it has buffered is read and the child reported anyway.
//
// Lifetime (the handle rules of loop.hpp): the handles live in a heap state freed by the last
// close callback. Destroying a ChildProcess whose child still runs SIGKILLs its group and
// leaves the state to reap it; no callback comes after the destruction (also when it happens
// inside one of them). Every handle's data is a HandleData: core::Loop::close() finding the
// child still running SIGKILLs and reaps it (a short blocking wait) and closes the rest,
// with no callback.
//
// Side effects: the first start() sets SIGPIPE to ignored for the whole process (writing to a
// child that died is an EPIPE, not our death), and undoes an inherited SIG_IGN of SIGCHLD
// (the kernel must not reap our children before we read their status).
#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/posix_launch.hpp"

namespace cachestress::core {

// What becomes of the child's stdout or stderr.
struct Capture {
  enum class Keep { nothing, head, tail };  // nothing: /dev/null
  Keep keep = Keep::nothing;
  std::size_t limit = 0;  // head: the first `limit` bytes are kept; tail: the last `limit`
  // head: the bytes past the limit, as they arrive (while the ChildProcess exists), so what
  // is not kept can still be looked at.
  std::function<void(std::string_view chunk)> past_limit{};
};

struct CapturedOutput {
  std::string text;
  std::uint64_t dropped = 0;  // bytes beyond the limit, counted not kept
};

struct ChildExit {
  int spawn_error = 0;  // a libuv error (UV_ENOENT...): the child never ran (SpawnErrors::reported)
  std::int64_t exit_status = 0;  // its exit code (0 when killed; -1 when the status was lost)
  int term_signal = 0;           // the signal that killed it, or 0
  bool timed_out = false;        // killed because of Spec::timeout_ms
};

class ChildProcess {
 public:
  static constexpr std::uint64_t k_default_kill_grace_ms = 2000;
  static constexpr std::uint64_t k_drain_grace_ms = 1000;

  // How the child is started. automatic: posix_spawn + pidfd where the kernel allows it.
  enum class Launcher { automatic, posix_spawn, uv_spawn };
  // returned: start() returns the error and no callback comes. reported: start() returns it
  // too, and on_exit comes on a later loop turn with ChildExit::spawn_error set.
  enum class SpawnErrors { returned, reported };

  using DataFn = std::function<void(std::string_view chunk)>;
  // Starts the child some other way than posix_spawn (a fork server, engine/backend/
  // worker_server.hpp): makes the pipes asked for (make_launch_pipes), has the child started as
  // OUR child (so its pidfd can be waited on) leading its own session, and fills Launched with
  // its pid, a pidfd and our ends. 0 or a libuv error, with nothing left open or running.
  using LaunchFn = std::function<int(const LaunchPipes& pipes, Launched& out)>;
  using ExitFn = std::function<void(const ChildExit& exit)>;

  struct Spec {
    std::vector<std::string> argv;   // argv[0] is looked up in env's PATH unless it has a '/'
    std::vector<std::string> env;    // the whole environment, "KEY=VALUE"
    std::string cwd;                 // empty: ours
    std::optional<std::string> stdin_payload;  // none: /dev/null (or stdin_fd); else written, then EOF
    int stdin_fd = -1;               // >= 0 and no payload: the child's fd 0 is a copy of this fd
    int fd4_from = -1;               // >= 0: the child's fd 4 is a copy of this fd (not with `launch`)
    Capture out, err;
    DataFn fd3;                      // set: fd 3 is a pipe whose bytes come here
    std::uint64_t timeout_ms = 0;    // 0: none; else SIGTERM to the group after this long
    std::uint64_t kill_grace_ms = k_default_kill_grace_ms;  // then SIGKILL this much later
    // SIGKILL what the child left running in its process group when it exits, as a RUN
    // step's processes end with its container (not a setup that starts a service). What
    // left the group (setsid, a daemon) is beyond this.
    bool end_group_on_exit = false;
    Launcher launcher = Launcher::automatic;
    LaunchFn launch;                 // set: starts the child (pidfd watch; `launcher` ignored)
    SpawnErrors spawn_errors = SpawnErrors::returned;
  };

  explicit ChildProcess(uv_loop_t* loop);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Spawns: 0, or a libuv error (UV_ENOENT, UV_EACCES, UV_EMFILE...). Call at most once.
  [[nodiscard]] int start(Spec spec, ExitFn on_exit);
  // Signals the child's process group while it has not been reaped (no-op afterwards).
  void kill(int signum) noexcept;
  // Signals the group now and SIGKILLs it after the Spec's kill grace unless it exits first:
  // an interrupt that a child ignoring SIGTERM cannot outlast.
  void stop(int signum) noexcept;

  int pid() const noexcept;
  // Started and on_exit not called yet.
  bool running() const noexcept;
  bool timed_out() const noexcept;
  // What was captured so far (all of it once on_exit runs; the caller may move it out then).
  CapturedOutput& out() noexcept;
  CapturedOutput& err() noexcept;
  const CapturedOutput& out() const noexcept;
  const CapturedOutput& err() const noexcept;

 private:
  struct State;
  State* m_state;
};

}  // namespace cachestress::core
