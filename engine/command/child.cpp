#include "engine/command/child.hpp"

#include <signal.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <array>
#include <exception>
#include <initializer_list>
#include <memory>
#include <mutex>

#include "engine/command/posix_launch.hpp"
#include "engine/core/error.hpp"

namespace cachestress::command {
namespace {

uv_handle_t* handle(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }
uv_stream_t* stream(uv_pipe_t* p) { return reinterpret_cast<uv_stream_t*>(p); }
constexpr std::uint64_t k_drain_grace_ms = 1000;

// One read buffer per loop thread: a read callback copies out of it before the next read.
// (Per child it cost a 64 KiB allocation and memset for every command run.) Allocated on
// first use: as a plain thread_local array every thread of the process would carry it.
constexpr std::size_t k_read_buffer_bytes = 65536;
thread_local std::unique_ptr<char[]> t_read_buffer;

// libuv's SIGCHLD handler resets an inherited SIG_IGN only once uv_spawn runs; the pidfd
// path must not let the kernel reap our children before we read their status.
void stop_automatic_reaping() {
  struct sigaction current{};
  if (::sigaction(SIGCHLD, nullptr, &current) != 0) return;
  if (current.sa_handler != SIG_IGN && (current.sa_flags & SA_NOCLDWAIT) == 0) return;
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGCHLD, &dfl, nullptr);
}

}  // namespace

struct Child::State {
  enum class TimerPhase { idle, timeout, kill_grace, report_spawn_error, drain };

  explicit State(uv_loop_t* l) : loop(l) {}
  uv_loop_t* loop;
  bool attached = true;
  DoneFn done;
  bool via_pidfd = false;  // posix_spawn + pidfd (exit_watch), or uv_spawn (process)
  uv_process_t process{};
  uv_poll_t exit_watch{};
  int pidfd = -1;
  uv_pipe_t out{}, err{};
  uv_timer_t timer{};
  int open_handles = 0;
  ChildResult result;
  int pid = 0;
  bool started = false, exited = false, out_eof = false, err_eof = false, finished = false, closing = false;
  TimerPhase timer_phase = TimerPhase::idle;

  int launch_posix(const Spec& spec);
  int launch_uv(Spec& spec);

  void init_handles() {
    for (uv_pipe_t* p : {&out, &err}) {
      uv_pipe_init(loop, p, 0);
      p->data = this;
      ++open_handles;
    }
    uv_timer_init(loop, &timer);
    timer.data = this;
    ++open_handles;
  }

  void close_handle(uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, &State::on_closed);
  }

  void close_all() {
    if (closing) return;
    closing = true;
    close_handle(handle(&out));
    close_handle(handle(&err));
    close_handle(handle(&timer));
    if (started) close_handle(via_pidfd ? handle(&exit_watch) : handle(&process));
  }

  static void on_closed(uv_handle_t* h) {
    auto* self = static_cast<State*>(h->data);
    if (h == handle(&self->exit_watch)) self->close_pidfd();
    if (--self->open_handles == 0 && !self->attached) delete self;
  }

  void close_pidfd() {
    if (pidfd >= 0) ::close(pidfd);
    pidfd = -1;
  }

  void kill(int signum) {
    if (!started || exited || result.spawn_error != 0) return;
    // The child leads its own session and process group (UV_PROCESS_DETACHED, or
    // POSIX_SPAWN_SETSID): signal the group, so
    // what `sh -c` started goes too. Until it is reaped its pid cannot be reused.
    if (::kill(-pid, signum) == 0) return;
    if (via_pidfd)
      (void)signal_pidfd(pidfd, signum);
    else
      (void)uv_process_kill(&process, signum);
  }

  void maybe_finish() {
    if (finished || !exited) return;
    if ((!out_eof || !err_eof) && timer_phase != TimerPhase::drain) {
      // Something the command started in the background still holds a pipe: give it a
      // moment, then report the command anyway.
      timer_phase = TimerPhase::drain;
      uv_timer_start(&timer, &State::on_timer, k_drain_grace_ms, 0);
      return;
    }
    if (!out_eof || !err_eof) return;
    finished = true;
    close_all();
    if (attached && done) {
      try {
        done(result);
      } catch (const std::exception& e) {
        spdlog::critical("unexpected exception in a command callback: {}", e.what());
        std::terminate();
      }
    }
  }

  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    (void)h;
    if (!t_read_buffer) t_read_buffer = std::make_unique<char[]>(k_read_buffer_bytes);
    *buf = uv_buf_init(t_read_buffer.get(), static_cast<unsigned>(k_read_buffer_bytes));
  }

  void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf, std::string& into, std::uint64_t& dropped, bool& eof) {
    if (nread < 0) {
      uv_read_stop(s);
      eof = true;
      maybe_finish();
      return;
    }
    const auto n = static_cast<std::size_t>(nread);
    const std::size_t room = into.size() < k_max_capture ? k_max_capture - into.size() : 0;
    into.append(buf->base, std::min(n, room));
    dropped += n > room ? n - room : 0;
  }

  static void on_out(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<State*>(s->data);
    self->on_read(s, nread, buf, self->result.out, self->result.out_dropped, self->out_eof);
  }
  static void on_err(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<State*>(s->data);
    self->on_read(s, nread, buf, self->result.err, self->result.err_dropped, self->err_eof);
  }

  void on_reaped(std::int64_t exit_status, int term_signal) {
    exited = true;
    result.exit_status = exit_status;
    result.term_signal = term_signal;
    if (timer_phase != TimerPhase::idle) {
      uv_timer_stop(&timer);
      timer_phase = TimerPhase::idle;
    }
    maybe_finish();
  }

  static void on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
    static_cast<State*>(p->data)->on_reaped(exit_status, term_signal);
  }

  // The pidfd turned readable: the child has exited (and is ours alone to reap).
  static void on_pidfd(uv_poll_t* w, int, int) {
    auto* self = static_cast<State*>(w->data);
    std::int64_t exit_status = 0;
    int term_signal = 0;
    const int rc = reap_pidfd(self->pidfd, exit_status, term_signal);
    if (rc == UV_EAGAIN) return;
    uv_poll_stop(w);
    if (rc != 0) {
      // Somebody else reaped it (a stray waitpid(-1)): the status is lost, not invented.
      spdlog::warn("command pid {}: exit status lost ({})", self->pid, uv_strerror(rc));
      exit_status = -1;
    }
    // The pidfd stays open until exit_watch is closed (libuv still knows its number); kill()
    // checks `exited`, so the reaped pid is never signalled.
    self->on_reaped(exit_status, term_signal);
  }

  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<State*>(t->data);
    switch (self->timer_phase) {
      case TimerPhase::timeout:
        self->result.timed_out = true;
        self->kill(SIGTERM);
        self->timer_phase = TimerPhase::kill_grace;
        uv_timer_start(&self->timer, &State::on_timer, k_kill_grace_ms, 0);
        break;
      case TimerPhase::kill_grace:
        self->timer_phase = TimerPhase::idle;
        self->kill(SIGKILL);
        break;
      case TimerPhase::drain:
        self->out_eof = self->err_eof = true;
        self->maybe_finish();
        break;
      case TimerPhase::report_spawn_error:
        self->timer_phase = TimerPhase::idle;
        self->maybe_finish();
        break;
      case TimerPhase::idle: break;
    }
  }
};

Child::Child(uv_loop_t* loop) : m_state(new State(loop)) {}

Child::~Child() {
  State* state = m_state;
  state->attached = false;
  if (state->open_handles == 0) {
    delete state;
    return;
  }
  if (state->started && !state->exited && state->result.spawn_error == 0) {
    state->kill(SIGKILL);  // its exit callback reaps it and closes everything
    return;
  }
  state->close_all();
}

namespace {

bool use_pidfd(Child::Launcher launcher) {
  switch (launcher) {
    case Child::Launcher::posix_spawn: return true;
    case Child::Launcher::uv_spawn: return false;
    case Child::Launcher::automatic: break;
  }
  return pidfd_launch_supported();
}

}  // namespace

// posix_spawn + pidfd: the child's exit arrives as a readable pidfd on the loop.
int Child::State::launch_posix(const Spec& spec) {
  via_pidfd = true;
  Launched launched;
  if (int rc = posix_launch(spec.argv, spec.env, spec.cwd, launched); rc != 0) return rc;
  // A handle that cannot take its fd leaves a child nobody would watch: kill and reap it
  // now, and close the fds no handle owns (an opened pipe closes with its handle).
  const auto give_up = [&](int rc, std::initializer_list<int> unowned_fds) {
    abandon_child(launched.pid);
    for (int fd : unowned_fds) ::close(fd);
    return rc;
  };
  if (int rc = uv_pipe_open(&out, launched.out_fd); rc != 0) {
    return give_up(rc, {launched.out_fd, launched.err_fd, launched.pidfd});
  }
  if (int rc = uv_pipe_open(&err, launched.err_fd); rc != 0) return give_up(rc, {launched.err_fd, launched.pidfd});
  if (int rc = uv_poll_init(loop, &exit_watch, launched.pidfd); rc != 0) return give_up(rc, {launched.pidfd});
  pid = launched.pid;
  pidfd = launched.pidfd;
  exit_watch.data = this;
  ++open_handles;
  started = true;
  uv_poll_start(&exit_watch, UV_READABLE, &State::on_pidfd);
  return 0;
}

// uv_spawn: libuv forks, execs and reaps (its SIGCHLD handler calls on_exit).
int Child::State::launch_uv(Spec& spec) {
  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::array<uv_stdio_container_t, 3> stdio{};
  stdio[0].flags = UV_IGNORE;  // /dev/null
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = stream(&out);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = stream(&err);

  uv_process_options_t options{};
  options.exit_cb = &State::on_exit;
  options.file = argv[0];
  options.args = argv.data();
  options.env = envp.data();
  options.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  options.flags = UV_PROCESS_DETACHED;  // own process group: kill() reaches what it starts
  options.stdio_count = static_cast<int>(stdio.size());
  options.stdio = stdio.data();
  process.data = this;
  const int rc = uv_spawn(loop, &process, &options);
  ++open_handles;  // uv_spawn initialises the handle even when it fails
  started = true;
  pid = process.pid;
  return rc;
}

void Child::start(Spec spec, DoneFn done) {
  static std::once_flag process_setup;
  std::call_once(process_setup, [] {
    ::signal(SIGPIPE, SIG_IGN);
    stop_automatic_reaping();
  });
  State& s = *m_state;
  s.done = std::move(done);
  s.init_handles();

  int rc = UV_EINVAL;  // an empty argv never reaches a launcher
  if (!spec.argv.empty()) rc = use_pidfd(spec.launcher) ? s.launch_posix(spec) : s.launch_uv(spec);
  if (rc != 0) {
    // Report on a later loop turn, so the caller's state is consistent when `done` runs.
    s.result.spawn_error = rc;
    s.exited = s.out_eof = s.err_eof = true;
    s.timer_phase = State::TimerPhase::report_spawn_error;
    uv_timer_start(&s.timer, &State::on_timer, 0, 0);
    return;
  }
  uv_read_start(stream(&s.out), &State::on_alloc, &State::on_out);
  uv_read_start(stream(&s.err), &State::on_alloc, &State::on_err);
  if (spec.timeout_ms > 0) {
    s.timer_phase = State::TimerPhase::timeout;
    uv_timer_start(&s.timer, &State::on_timer, spec.timeout_ms, 0);
  }
}

void Child::kill(int signum) noexcept { m_state->kill(signum); }

}  // namespace cachestress::command
