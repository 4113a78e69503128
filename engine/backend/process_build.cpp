#include "engine/backend/process_build.hpp"

#include <signal.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <mutex>

#include "engine/core/error.hpp"
#include "engine/worker/line_splitter.hpp"
#include "engine/worker/worker.hpp"

extern char** environ;

namespace cachestress::backend {
namespace {

namespace protocol = worker::protocol;

// After the exit, how long the event pipe may stay open (a grandchild holding fd 3) before
// the build is reported anyway.
constexpr std::uint64_t k_drain_grace_ms = 1000;

// A callback must not throw into libuv's C frames (same rule as core::Loop's handles).
template <typename Fn>
void guarded(const char* where, Fn&& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::critical("unexpected exception in process build {} callback: {}", where, e.what());
    std::terminate();
  }
}

uv_handle_t* handle(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }
uv_stream_t* stream(uv_pipe_t* p) { return reinterpret_cast<uv_stream_t*>(p); }

}  // namespace

struct ProcessBuild::State {
  enum class TimerPhase { idle, timeout, kill_grace, drain };

  State(uv_loop_t* l, EventFn event_fn, ExitFn exit_fn)
      : loop(l), on_event(std::move(event_fn)), on_exit(std::move(exit_fn)) {}

  uv_loop_t* loop;
  EventFn on_event;
  ExitFn on_exit;
  bool attached = true;  // the ProcessBuild still exists

  uv_process_t process{};
  uv_pipe_t in{}, events{}, err{};
  uv_timer_t timer{};
  uv_write_t write_req{};
  int open_handles = 0;  // initialised and not yet closed; the last close frees the state

  std::string plan;
  worker::LineSplitter lines{protocol::k_max_line_bytes};
  std::array<char, 65536> buffer{};  // one read at a time on this loop: shared by both pipes
  std::string stderr_tail;
  std::string protocol_error;
  std::uint64_t line_number = 0;

  int pid = 0;
  bool started = false, exited = false, events_eof = false, finished = false, closing = false;
  bool timed_out = false;
  TimerPhase timer_phase = TimerPhase::idle;
  std::uint64_t kill_grace_ms = k_default_kill_grace_ms;
  std::int64_t exit_status = 0;
  int term_signal = 0;

  void init_handles() {
    for (uv_pipe_t* p : {&in, &events, &err}) {
      uv_pipe_init(loop, p, 0);  // cannot fail for a non-IPC pipe
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
    close_handle(handle(&in));
    close_handle(handle(&events));
    close_handle(handle(&err));
    close_handle(handle(&timer));
    if (started) close_handle(handle(&process));
  }

  static void on_closed(uv_handle_t* h) {
    auto* self = static_cast<State*>(h->data);
    if (--self->open_handles == 0 && !self->attached) delete self;
  }

  void kill(int signum) {
    if (!started || exited) return;
    // The child leads its own process group (UV_PROCESS_DETACHED did setsid before exec):
    // signal the group, so a helper it started cannot outlive it or keep its pipes open.
    // Until the child is reaped its pid cannot be reused, so the group is still ours.
    if (::kill(-pid, signum) == 0) return;
    const int rc = uv_process_kill(&process, signum);
    if (rc != 0 && rc != UV_ESRCH) spdlog::warn("kill({}, {}): {}", pid, signum, uv_error_text(rc));
  }

  void fail_protocol(std::string why) {
    if (protocol_error.empty()) protocol_error = "line " + std::to_string(line_number) + ": " + std::move(why);
    kill(SIGKILL);  // its events can no longer be trusted; the kernel releases its locks
  }

  // Reads the event pipe until it would block (libuv keeps it non-blocking) or ends.
  void read_buffered_events() {
    if (events_eof || uv_is_closing(handle(&events))) return;
    uv_os_fd_t fd = -1;
    if (uv_fileno(handle(&events), &fd) != 0) return;
    for (;;) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      const uv_buf_t buf = uv_buf_init(buffer.data(), static_cast<unsigned>(n));
      on_events(stream(&events), n, &buf);
      if (finished || !attached) return;
    }
  }

  // Reported once the child was reaped and its events were all read (or the drain ran out).
  void maybe_finish() {
    if (finished || !exited) return;
    if (!events_eof && timer_phase != TimerPhase::drain) {
      timer_phase = TimerPhase::drain;
      uv_timer_start(&timer, &State::on_timer, k_drain_grace_ms, 0);
      return;
    }
    finished = true;
    if (protocol_error.empty() && term_signal == 0 && lines.pending() > 0) {
      protocol_error = "truncated event line at end of stream";
    }
    close_all();  // the state survives this callback: it is freed by the close callbacks
    if (attached && on_exit) guarded("exit", [&] { on_exit(exit_status, term_signal); });
  }

  // ---- libuv callbacks ---------------------------------------------------------------

  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<State*>(h->data);
    *buf = uv_buf_init(self->buffer.data(), static_cast<unsigned>(self->buffer.size()));
  }

  static void on_events(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<State*>(s->data);
    if (nread < 0) {  // UV_EOF, or an error that ends the stream all the same
      uv_read_stop(s);
      self->events_eof = true;
      self->maybe_finish();
      return;
    }
    const bool ok = self->lines.feed(std::string_view(buf->base, static_cast<std::size_t>(nread)),
                                     [self](std::string_view line) { return self->on_line(line); });
    if (!ok) {
      ++self->line_number;
      self->fail_protocol("longer than " + std::to_string(protocol::k_max_line_bytes) + " bytes");
    }
  }

  bool on_line(std::string_view line) {
    ++line_number;
    if (!protocol_error.empty() || !attached) return false;
    try {
      const protocol::Event event = protocol::decode_event(line);
      if (on_event) guarded("event", [&] { on_event(event); });
    } catch (const protocol::ProtocolError& e) {
      fail_protocol(e.what());
      return false;
    }
    return attached;  // on_event may have destroyed the ProcessBuild
  }

  static void on_stderr(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<State*>(s->data);
    if (nread < 0) {
      uv_read_stop(s);
      return;
    }
    self->stderr_tail.append(buf->base, static_cast<std::size_t>(nread));
    if (self->stderr_tail.size() > k_stderr_tail) self->stderr_tail.erase(0, self->stderr_tail.size() - k_stderr_tail);
  }

  static void on_written(uv_write_t* req, int) {
    // Written or not (a child that died early gives EPIPE), stdin is done: close it for EOF.
    auto* self = static_cast<State*>(req->data);
    self->plan.clear();
    self->plan.shrink_to_fit();
    self->close_handle(handle(&self->in));
  }

  static void on_process_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
    auto* self = static_cast<State*>(p->data);
    self->exited = true;
    self->exit_status = exit_status;
    self->term_signal = term_signal;
    if (self->timer_phase != TimerPhase::idle) {
      uv_timer_stop(&self->timer);
      self->timer_phase = TimerPhase::idle;
    }
    self->maybe_finish();
  }

  static void on_timer(uv_timer_t* t) {
    auto* self = static_cast<State*>(t->data);
    switch (self->timer_phase) {
      case TimerPhase::timeout:
        self->timed_out = true;
        self->kill(SIGTERM);
        self->timer_phase = TimerPhase::kill_grace;
        uv_timer_start(&self->timer, &State::on_timer, self->kill_grace_ms, 0);
        break;
      case TimerPhase::kill_grace:
        self->timer_phase = TimerPhase::idle;
        self->kill(SIGKILL);
        break;
      case TimerPhase::drain:
        // Timers run before the loop polls: on a busy loop this can fire while the pipe
        // still holds the child's last lines. Read what is buffered now, then stop
        // waiting for a pipe someone else keeps open.
        self->read_buffered_events();
        self->events_eof = true;
        self->maybe_finish();
        break;
      case TimerPhase::idle: break;
    }
  }
};

ProcessBuild::ProcessBuild(uv_loop_t* loop, EventFn on_event, ExitFn on_exit)
    : m_loop(loop), m_state(new State(loop, std::move(on_event), std::move(on_exit))) {}

ProcessBuild::~ProcessBuild() {
  State* state = m_state;
  state->attached = false;
  if (state->open_handles == 0) {
    delete state;  // never started (or everything is already closed)
    return;
  }
  if (state->started && !state->exited) {
    // Never close a process handle before its exit: kill, and let the exit callback reap
    // the child and close everything (the loop keeps running until then).
    state->kill(SIGKILL);
    return;
  }
  state->close_all();
}

int ProcessBuild::start(Spec spec) {
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });

  State& s = *m_state;
  if (s.open_handles != 0) return UV_EALREADY;
  s.init_handles();
  s.kill_grace_ms = spec.kill_grace_ms;

  std::vector<char*> argv{spec.exe.data()};
  for (auto& a : spec.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::array<uv_stdio_container_t, 4> stdio{};
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = stream(&s.in);
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = stream(&s.err);
  static_assert(worker::k_event_fd == 3, "the event pipe is stdio[3]");
  stdio[3].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[3].data.stream = stream(&s.events);

  uv_process_options_t options{};
  options.exit_cb = &State::on_process_exit;
  options.file = spec.exe.c_str();
  options.args = argv.data();
  options.env = envp.data();
  options.flags = UV_PROCESS_DETACHED;  // own session: only the runner signals it
  options.stdio_count = static_cast<int>(stdio.size());
  options.stdio = stdio.data();

  s.process.data = &s;
  const int rc = uv_spawn(m_loop, &s.process, &options);
  ++s.open_handles;  // uv_spawn initialises the handle even when it fails
  s.started = true;
  if (rc != 0) {
    s.exited = true;  // nothing to reap
    s.finished = true;
    s.close_all();
    return rc;
  }
  s.pid = s.process.pid;

  s.plan = std::move(spec.plan);
  s.write_req.data = &s;
  uv_buf_t buf = uv_buf_init(s.plan.data(), static_cast<unsigned>(s.plan.size()));
  if (uv_write(&s.write_req, stream(&s.in), &buf, 1, &State::on_written) != 0) s.close_handle(handle(&s.in));
  uv_read_start(stream(&s.events), &State::on_alloc, &State::on_events);
  uv_read_start(stream(&s.err), &State::on_alloc, &State::on_stderr);
  if (spec.timeout_ms > 0) {
    s.timer_phase = State::TimerPhase::timeout;
    uv_timer_start(&s.timer, &State::on_timer, spec.timeout_ms, 0);
  }
  return 0;
}

void ProcessBuild::kill(int signum) noexcept { m_state->kill(signum); }
int ProcessBuild::pid() const noexcept { return m_state->pid; }
bool ProcessBuild::running() const noexcept { return m_state->started && !m_state->finished; }
bool ProcessBuild::timed_out() const noexcept { return m_state->timed_out; }
const std::string& ProcessBuild::protocol_error() const noexcept { return m_state->protocol_error; }
const std::string& ProcessBuild::stderr_tail() const noexcept { return m_state->stderr_tail; }

std::string own_executable() {
  std::array<char, PATH_MAX + 1> path{};
  std::size_t size = path.size();
  if (int rc = uv_exepath(path.data(), &size); rc != 0) {
    throw EnvironmentError("cannot find our own executable for --backend process: " + uv_error_text(rc));
  }
  return std::string(path.data(), size);
}

std::vector<std::string> environment_with_tmpdir(const std::string& tmpdir) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "TMPDIR=", 7) != 0) env.emplace_back(*e);
  }
  env.push_back("TMPDIR=" + tmpdir);
  return env;
}

}  // namespace cachestress::backend
