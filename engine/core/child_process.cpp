#include "engine/core/child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include "engine/core/error.hpp"
#include "engine/core/loop.hpp"
#include "engine/core/posix_launch.hpp"

namespace cachestress::core {
namespace {

uv_handle_t* handle(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }
uv_stream_t* stream(uv_pipe_t* p) { return reinterpret_cast<uv_stream_t*>(p); }

// A callback must not throw into libuv's C frames (the rule of loop.hpp's handles).
template <typename Fn>
void guarded(const char* where, Fn&& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::critical("unexpected exception in a child process {} callback: {}", where, e.what());
    std::terminate();
  }
}

// One read buffer per loop thread: a read callback is done with it before the next read.
// (Per child it cost a 64 KiB allocation for every child.) Allocated on first use: as a
// plain thread_local array every thread of the process would carry it.
constexpr std::size_t k_read_buffer_bytes = 65536;
thread_local std::unique_ptr<char[]> t_read_buffer;

char* read_buffer() {
  if (!t_read_buffer) t_read_buffer = std::make_unique<char[]>(k_read_buffer_bytes);
  return t_read_buffer.get();
}

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

bool use_pidfd(ChildProcess::Launcher launcher) {
  switch (launcher) {
    case ChildProcess::Launcher::posix_spawn: return true;
    case ChildProcess::Launcher::uv_spawn: return false;
    case ChildProcess::Launcher::automatic: break;
  }
  return pidfd_launch_supported();
}

// Keeps what the capture keeps; returns how many of the n bytes head mode kept (the rest
// is past its limit). Tail mode keeps them all, for now.
std::size_t keep(CapturedOutput& into, const Capture& how, const char* data, std::size_t n) {
  if (how.keep == Capture::Keep::head) {
    const std::size_t room = into.text.size() < how.limit ? how.limit - into.text.size() : 0;
    into.text.append(data, std::min(n, room));
    into.dropped += n > room ? n - room : 0;
    return std::min(n, room);
  }
  into.text.append(data, n);
  if (into.text.size() > how.limit) {
    const std::size_t excess = into.text.size() - how.limit;
    into.text.erase(0, excess);
    into.dropped += excess;
  }
  return n;
}

}  // namespace

struct ChildProcess::State final : HandleData {
  enum class TimerPhase { idle, timeout, kill_grace, drain, report_spawn_error };
  enum Stream { k_out, k_err, k_fd3, k_streams };

  // A pipe we read from: the child's stdout, stderr or fd 3.
  struct Reader {
    uv_pipe_t pipe{};
    bool used = false;  // initialised (a handle to close)
    bool eof = true;    // nothing more will be read from it
  };

  explicit State(uv_loop_t* l) : loop(l) {}

  uv_loop_t* loop;
  bool attached = true;  // the ChildProcess still exists
  ExitFn on_exit;
  DataFn on_fd3;
  Capture capture[2];
  CapturedOutput captured[2];
  std::uint64_t kill_grace_ms = k_default_kill_grace_ms;
  bool end_group_on_exit = false;

  bool via_pidfd = false;  // posix_spawn + pidfd (exit_watch), or uv_spawn (process)
  uv_process_t process{};
  uv_poll_t exit_watch{};
  bool process_open = false, watch_open = false;
  int pidfd = -1;
  std::array<Reader, k_streams> readers{};
  uv_pipe_t in{};
  bool in_used = false;
  uv_write_t write_req{};
  std::string payload;
  uv_timer_t timer{};
  int open_handles = 0;  // initialised and not yet closed; the last close frees a detached state

  ChildExit result;
  int pid = 0;
  bool started = false;   // a child ran (or uv_spawn's handle exists)
  bool exited = false, finished = false, closing = false;
  TimerPhase timer_phase = TimerPhase::idle;

  static State* of(void* data) noexcept { return static_cast<State*>(static_cast<HandleData*>(data)); }
  HandleData* as_data() noexcept { return this; }

  void init_pipe(uv_pipe_t& p) {
    uv_pipe_init(loop, &p, 0);  // cannot fail for a non-IPC pipe
    p.data = as_data();
    ++open_handles;
  }

  void init_handles(const Spec& spec) {
    if (spec.stdin_payload) {
      init_pipe(in);
      in_used = true;
    }
    readers[k_out].used = spec.out.keep != Capture::Keep::nothing;
    readers[k_err].used = spec.err.keep != Capture::Keep::nothing;
    readers[k_fd3].used = static_cast<bool>(spec.fd3);
    for (Reader& r : readers) {
      if (r.used) init_pipe(r.pipe);
    }
    uv_timer_init(loop, &timer);
    timer.data = as_data();
    ++open_handles;
  }

  void close_handle(uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, &State::on_closed);
  }

  void close_all() {
    if (closing) return;
    closing = true;
    if (in_used) close_handle(handle(&in));
    for (Reader& r : readers) {
      if (r.used) close_handle(handle(&r.pipe));
    }
    close_handle(handle(&timer));
    if (process_open) close_handle(handle(&process));
    if (watch_open) close_handle(handle(&exit_watch));
  }

  static void on_closed(uv_handle_t* h) {
    State* self = of(h->data);
    if (h == handle(&self->exit_watch)) self->close_pidfd();
    if (--self->open_handles == 0 && !self->attached) delete self;
  }

  void close_pidfd() {
    if (pidfd >= 0) ::close(pidfd);
    pidfd = -1;
  }

  bool alive() const { return started && !exited && result.spawn_error == 0; }

  void kill(int signum) {
    if (!alive()) return;
    // The child leads its own session and process group (POSIX_SPAWN_SETSID, or
    // UV_PROCESS_DETACHED): signal the group, so what it started goes too. Until it is
    // reaped its pid cannot be reused, so the group is still ours.
    if (::kill(-pid, signum) == 0) return;
    const int rc = via_pidfd ? signal_pidfd(pidfd, signum) : uv_process_kill(&process, signum);
    if (rc != 0 && rc != UV_ESRCH) spdlog::warn("kill({}, {}): {}", pid, signum, uv_error_text(rc));
  }

  // An interrupt: the signal now, SIGKILL after the grace if it has not exited (as a timeout
  // ends it, without calling it one).
  void stop(int signum) {
    if (!alive()) return;
    kill(signum);
    if (timer_phase == TimerPhase::kill_grace) return;  // already counting down
    timer_phase = TimerPhase::kill_grace;
    uv_timer_start(&timer, &State::on_timer, kill_grace_ms, 0);
  }

  // Loop::close() found one of our handles open: nobody will run the loop for the exit any
  // more, so kill and reap the child here (it dies at once), then close everything.
  void close_left_open(uv_handle_t*) noexcept override {
    if (alive()) {
      abandon_child(pid);
      exited = true;
    }
    finished = true;  // no callback from a closing loop
    close_all();
  }

  bool all_eof() const {
    return std::all_of(readers.begin(), readers.end(), [](const Reader& r) { return r.eof; });
  }

  // Reported once the child was reaped and its pipes all reached EOF (or the drain ran out).
  void maybe_finish() {
    if (finished || !exited) return;
    if (!all_eof()) {
      if (timer_phase != TimerPhase::drain) {
        // Something the child started still holds a pipe: give it a moment, then report.
        timer_phase = TimerPhase::drain;
        uv_timer_start(&timer, &State::on_timer, k_drain_grace_ms, 0);
      }
      return;
    }
    finished = true;
    close_all();  // the state survives this callback: it is freed by the close callbacks
    if (attached && on_exit) guarded("exit", [&] { on_exit(result); });
  }

  void deliver(Stream which, const char* data, std::size_t n) {
    if (which == k_fd3) {
      if (attached && on_fd3) guarded("fd 3", [&] { on_fd3(std::string_view(data, n)); });
      return;
    }
    const std::size_t kept = keep(captured[which], capture[which], data, n);
    if (kept < n && attached && capture[which].past_limit) {
      guarded("past-limit", [&] { capture[which].past_limit(std::string_view(data + kept, n - kept)); });
    }
  }

  // Reads a pipe until it would block (libuv keeps it non-blocking) or ends.
  void read_buffered(Stream which) {
    Reader& r = readers[which];
    if (r.eof || uv_is_closing(handle(&r.pipe))) return;
    uv_os_fd_t fd = -1;
    if (uv_fileno(handle(&r.pipe), &fd) != 0) return;
    char* buffer = read_buffer();
    for (;;) {
      const ssize_t n = ::read(fd, buffer, k_read_buffer_bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      deliver(which, buffer, static_cast<std::size_t>(n));
      if (finished || !attached) return;
    }
  }

  // ---- libuv callbacks ---------------------------------------------------------------

  static void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(read_buffer(), static_cast<unsigned>(k_read_buffer_bytes));
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    State* self = of(s->data);
    Stream which = k_out;
    while (which != k_fd3 && s != stream(&self->readers[which].pipe)) which = static_cast<Stream>(which + 1);
    if (nread < 0) {  // UV_EOF, or an error that ends the stream all the same
      uv_read_stop(s);
      self->readers[which].eof = true;
      self->maybe_finish();
      return;
    }
    self->deliver(which, buf->base, static_cast<std::size_t>(nread));
  }

  static void on_written(uv_write_t* req, int) {
    // Written or not (a child that died early gives EPIPE), stdin is done: close it for EOF.
    State* self = of(req->data);
    self->payload.clear();
    self->payload.shrink_to_fit();
    self->close_handle(handle(&self->in));
  }

  void on_reaped(std::int64_t exit_status, int term_signal) {
    exited = true;
    result.exit_status = exit_status;
    result.term_signal = term_signal;
    if (timer_phase != TimerPhase::idle) {
      uv_timer_stop(&timer);
      timer_phase = TimerPhase::idle;
    }
    if (!attached) {
      finished = true;  // nobody to tell: close at once, whoever still holds a pipe
      close_all();
      return;
    }
    maybe_finish();
  }

  static void on_process_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
    State* self = of(p->data);
    // libuv reaped it already: the group's id is still held by any member left in it.
    if (self->end_group_on_exit) ::kill(-self->pid, SIGKILL);
    self->on_reaped(exit_status, term_signal);
  }

  // The pidfd turned readable: the child has exited (and is ours alone to reap).
  static void on_pidfd(uv_poll_t* w, int, int) {
    State* self = of(w->data);
    // Readable means exited: while it is an unreaped zombie its pid (the group's id) cannot
    // be reused, so this reaches only what it left behind in its group. They close the pipes
    // they inherited, so no drain grace is waited (and counted in the build's time).
    if (self->end_group_on_exit) ::kill(-self->pid, SIGKILL);
    std::int64_t exit_status = 0;
    int term_signal = 0;
    const int rc = reap_pidfd(self->pidfd, exit_status, term_signal);
    if (rc == UV_EAGAIN) return;
    uv_poll_stop(w);
    if (rc != 0) {
      // Somebody else reaped it (a stray waitpid(-1)): the status is lost, not invented.
      spdlog::warn("child pid {}: exit status lost ({})", self->pid, uv_strerror(rc));
      exit_status = -1;
    }
    // The pidfd stays open until exit_watch is closed (libuv still knows its number); kill()
    // checks `exited`, so the reaped pid is never signalled.
    self->on_reaped(exit_status, term_signal);
  }

  static void on_timer(uv_timer_t* t) {
    State* self = of(t->data);
    switch (self->timer_phase) {
      case TimerPhase::timeout:
        self->result.timed_out = true;
        self->kill(SIGTERM);
        self->timer_phase = TimerPhase::kill_grace;
        uv_timer_start(&self->timer, &State::on_timer, self->kill_grace_ms, 0);
        break;
      case TimerPhase::kill_grace:
        self->timer_phase = TimerPhase::idle;
        self->kill(SIGKILL);
        break;
      case TimerPhase::drain:
        // Timers run before the loop polls: on a busy loop this can fire while a pipe still
        // holds the child's last bytes. Read what is buffered now, then stop waiting for
        // pipes someone else keeps open.
        for (int which = 0; which < k_streams && !self->finished && self->attached; ++which) {
          self->read_buffered(static_cast<Stream>(which));
        }
        for (Reader& r : self->readers) r.eof = true;
        self->maybe_finish();
        break;
      case TimerPhase::report_spawn_error:
        self->timer_phase = TimerPhase::idle;
        self->maybe_finish();
        break;
      case TimerPhase::idle: break;
    }
  }

  int launch_posix(Spec& spec);
  int launch_uv(Spec& spec);
  void start_io(Spec& spec);
};

// posix_spawn + pidfd: the child's exit arrives as a readable pidfd on the loop.
int ChildProcess::State::launch_posix(Spec& spec) {
  via_pidfd = true;
  LaunchPipes pipes;
  pipes.in = in_used;
  pipes.out = readers[k_out].used;
  pipes.err = readers[k_err].used;
  pipes.fd3 = readers[k_fd3].used;
  if (!in_used) pipes.in_from = spec.stdin_fd;
  pipes.fd4_from = spec.fd4_from;
  Launched launched;
  const int launch_rc = spec.launch ? spec.launch(pipes, launched) : posix_launch(spec.argv, spec.env, spec.cwd, pipes, launched);
  if (launch_rc != 0) return launch_rc;
  // Each fd goes to its handle; one that cannot take it leaves a child nobody would watch:
  // kill and reap it now, and close the fds no handle owns (an opened pipe closes with its
  // handle).
  std::array<int*, 5> unowned{&launched.in_fd, &launched.out_fd, &launched.err_fd, &launched.fd3_fd, &launched.pidfd};
  const auto give_up = [&](int rc) {
    abandon_child(launched.pid);
    for (int* fd : unowned) {
      if (*fd >= 0) ::close(*fd);
    }
    return rc;
  };
  const auto open = [&](uv_pipe_t& p, int& fd) {
    if (fd < 0) return 0;
    const int rc = uv_pipe_open(&p, fd);
    if (rc == 0) fd = -1;  // the handle owns it now
    return rc;
  };
  if (int rc = open(in, launched.in_fd); rc != 0) return give_up(rc);
  if (int rc = open(readers[k_out].pipe, launched.out_fd); rc != 0) return give_up(rc);
  if (int rc = open(readers[k_err].pipe, launched.err_fd); rc != 0) return give_up(rc);
  if (int rc = open(readers[k_fd3].pipe, launched.fd3_fd); rc != 0) return give_up(rc);
  if (int rc = uv_poll_init(loop, &exit_watch, launched.pidfd); rc != 0) return give_up(rc);
  pid = launched.pid;
  pidfd = std::exchange(launched.pidfd, -1);  // closed once exit_watch is
  exit_watch.data = as_data();
  watch_open = true;
  ++open_handles;
  started = true;
  uv_poll_start(&exit_watch, UV_READABLE, &State::on_pidfd);
  return 0;
}

// uv_spawn: libuv forks, execs and reaps (its SIGCHLD handler calls on_process_exit).
int ChildProcess::State::launch_uv(Spec& spec) {
  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);

  const auto pipe_to = [](uv_pipe_t& p, bool used, int direction) {
    uv_stdio_container_t c{};
    c.flags = used ? static_cast<uv_stdio_flags>(UV_CREATE_PIPE | direction) : UV_IGNORE;  // /dev/null
    if (used) c.data.stream = stream(&p);
    return c;
  };
  uv_stdio_container_t stdin_container = pipe_to(in, in_used, UV_READABLE_PIPE);  // the child's view: it reads fd 0
  if (!in_used && spec.stdin_fd >= 0) {
    stdin_container.flags = UV_INHERIT_FD;
    stdin_container.data.fd = spec.stdin_fd;
  }
  // fd 4: libuv dup2s it into place (and, like posix_launch, copes with low source fds).
  uv_stdio_container_t fd4_container{};
  fd4_container.flags = UV_IGNORE;
  if (spec.fd4_from >= 0) {
    fd4_container.flags = UV_INHERIT_FD;
    fd4_container.data.fd = spec.fd4_from;
  }
  std::array<uv_stdio_container_t, 5> stdio{
      stdin_container,
      pipe_to(readers[k_out].pipe, readers[k_out].used, UV_WRITABLE_PIPE),
      pipe_to(readers[k_err].pipe, readers[k_err].used, UV_WRITABLE_PIPE),
      pipe_to(readers[k_fd3].pipe, readers[k_fd3].used, UV_WRITABLE_PIPE),
      fd4_container,
  };

  uv_process_options_t options{};
  options.exit_cb = &State::on_process_exit;
  options.file = argv[0];
  options.args = argv.data();
  options.env = envp.data();
  options.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  options.flags = UV_PROCESS_DETACHED;  // own session: kill() reaches what it starts
  options.stdio_count = spec.fd4_from >= 0 ? 5 : readers[k_fd3].used ? 4 : 3;
  options.stdio = stdio.data();
  process.data = as_data();
  const int rc = uv_spawn(loop, &process, &options);
  ++open_handles;  // uv_spawn initialises the handle even when it fails
  process_open = true;
  if (rc != 0) return rc;
  started = true;
  pid = process.pid;
  return 0;
}

void ChildProcess::State::start_io(Spec& spec) {
  if (in_used) {
    payload = std::move(*spec.stdin_payload);
    if (payload.empty()) {
      close_handle(handle(&in));
    } else {
      write_req.data = as_data();
      uv_buf_t buf = uv_buf_init(payload.data(), static_cast<unsigned>(payload.size()));
      if (uv_write(&write_req, stream(&in), &buf, 1, &State::on_written) != 0) close_handle(handle(&in));
    }
  }
  for (Reader& r : readers) {
    if (!r.used) continue;
    r.eof = false;
    uv_read_start(stream(&r.pipe), &State::on_alloc, &State::on_read);
  }
  if (spec.timeout_ms > 0) {
    // Never early: the loop's clock is cached at its turn's start (stale by the work done
    // since) and counts whole ms, so a 2 ms timeout fired after 1.6 ms. Read it now, and
    // add the ms the flooring may take off.
    uv_update_time(loop);
    timer_phase = TimerPhase::timeout;
    uv_timer_start(&timer, &State::on_timer, spec.timeout_ms + 1, 0);
  }
}

ChildProcess::ChildProcess(uv_loop_t* loop) : m_state(new State(loop)) {}

ChildProcess::~ChildProcess() {
  State* state = m_state;
  state->attached = false;
  if (state->open_handles == 0) {
    delete state;  // never started, or everything is already closed
    return;
  }
  if (state->alive()) {
    // Never close a process handle before its exit: kill, and let the exit reap the child
    // and close everything (the loop keeps running until then).
    state->kill(SIGKILL);
    return;
  }
  state->close_all();
}

int ChildProcess::start(Spec spec, ExitFn on_exit) {
  static std::once_flag process_setup;
  std::call_once(process_setup, [] {
    ::signal(SIGPIPE, SIG_IGN);
    stop_automatic_reaping();
  });
  State& s = *m_state;
  if (s.open_handles != 0 || s.finished) return UV_EALREADY;
  s.init_handles(spec);
  s.on_exit = std::move(on_exit);
  s.on_fd3 = std::move(spec.fd3);
  s.capture[State::k_out] = spec.out;
  s.capture[State::k_err] = spec.err;
  s.kill_grace_ms = spec.kill_grace_ms;
  s.end_group_on_exit = spec.end_group_on_exit;

  int rc = UV_EINVAL;  // an empty argv never reaches a launcher
  if (spec.launch || !spec.argv.empty()) rc = spec.launch || use_pidfd(spec.launcher) ? s.launch_posix(spec) : s.launch_uv(spec);
  if (rc != 0) {
    s.result.spawn_error = rc;
    s.exited = true;
    for (State::Reader& r : s.readers) r.eof = true;
    if (spec.spawn_errors == SpawnErrors::reported) {
      // Reported on a later loop turn, so the caller's state is consistent when on_exit runs.
      s.timer_phase = State::TimerPhase::report_spawn_error;
      uv_timer_start(&s.timer, &State::on_timer, 0, 0);
    } else {
      s.finished = true;
      s.close_all();
    }
    return rc;
  }
  s.start_io(spec);
  return 0;
}

void ChildProcess::kill(int signum) noexcept { m_state->kill(signum); }
void ChildProcess::stop(int signum) noexcept { m_state->stop(signum); }
int ChildProcess::pid() const noexcept { return m_state->pid; }
bool ChildProcess::running() const noexcept { return m_state->started && !m_state->finished; }
bool ChildProcess::timed_out() const noexcept { return m_state->result.timed_out; }
CapturedOutput& ChildProcess::out() noexcept { return m_state->captured[State::k_out]; }
CapturedOutput& ChildProcess::err() noexcept { return m_state->captured[State::k_err]; }
const CapturedOutput& ChildProcess::out() const noexcept { return m_state->captured[State::k_out]; }
const CapturedOutput& ChildProcess::err() const noexcept { return m_state->captured[State::k_err]; }

}  // namespace cachestress::core
