#include "engine/command/child.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <array>
#include <exception>
#include <mutex>

#include "engine/core/error.hpp"

namespace cachestress::command {
namespace {

uv_handle_t* handle(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }
uv_stream_t* stream(uv_pipe_t* p) { return reinterpret_cast<uv_stream_t*>(p); }
constexpr std::uint64_t k_drain_grace_ms = 1000;

}  // namespace

struct Child::State {
  enum class TimerPhase { idle, timeout, kill_grace, report_spawn_error, drain };

  explicit State(uv_loop_t* l) : loop(l) {}
  uv_loop_t* loop;
  bool attached = true;
  DoneFn done;
  uv_process_t process{};
  uv_pipe_t out{}, err{};
  uv_timer_t timer{};
  int open_handles = 0;
  std::array<char, 65536> buffer{};  // one read at a time on this loop
  ChildResult result;
  int pid = 0;
  bool started = false, exited = false, out_eof = false, err_eof = false, finished = false, closing = false;
  TimerPhase timer_phase = TimerPhase::idle;

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
    if (started) close_handle(handle(&process));
  }

  static void on_closed(uv_handle_t* h) {
    auto* self = static_cast<State*>(h->data);
    if (--self->open_handles == 0 && !self->attached) delete self;
  }

  void kill(int signum) {
    if (!started || exited || result.spawn_error != 0) return;
    // The child leads its own process group (UV_PROCESS_DETACHED): signal the group, so
    // what `sh -c` started goes too. Until it is reaped its pid cannot be reused.
    if (::kill(-pid, signum) == 0) return;
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
    auto* self = static_cast<State*>(h->data);
    *buf = uv_buf_init(self->buffer.data(), static_cast<unsigned>(self->buffer.size()));
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

  static void on_exit(uv_process_t* p, std::int64_t exit_status, int term_signal) {
    auto* self = static_cast<State*>(p->data);
    self->exited = true;
    self->result.exit_status = exit_status;
    self->result.term_signal = term_signal;
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

void Child::start(Spec spec, DoneFn done) {
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
  State& s = *m_state;
  s.done = std::move(done);
  s.init_handles();

  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::array<uv_stdio_container_t, 3> stdio{};
  stdio[0].flags = UV_IGNORE;  // /dev/null
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = stream(&s.out);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = stream(&s.err);

  uv_process_options_t options{};
  options.exit_cb = &State::on_exit;
  options.file = argv[0];
  options.args = argv.data();
  options.env = envp.data();
  options.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  options.flags = UV_PROCESS_DETACHED;  // own process group: kill() reaches what it starts
  options.stdio_count = static_cast<int>(stdio.size());
  options.stdio = stdio.data();
  s.process.data = &s;
  int rc = UV_EINVAL;  // an empty argv never reaches uv_spawn
  if (argv[0] != nullptr) {
    rc = uv_spawn(s.loop, &s.process, &options);
    ++s.open_handles;  // uv_spawn initialises the handle even when it fails
    s.started = true;
  }
  if (rc != 0) {
    // Report on a later loop turn, so the caller's state is consistent when `done` runs.
    s.result.spawn_error = rc;
    s.exited = s.out_eof = s.err_eof = true;
    s.timer_phase = State::TimerPhase::report_spawn_error;
    uv_timer_start(&s.timer, &State::on_timer, 0, 0);
    return;
  }
  s.pid = s.process.pid;
  uv_read_start(stream(&s.out), &State::on_alloc, &State::on_out);
  uv_read_start(stream(&s.err), &State::on_alloc, &State::on_err);
  if (spec.timeout_ms > 0) {
    s.timer_phase = State::TimerPhase::timeout;
    uv_timer_start(&s.timer, &State::on_timer, spec.timeout_ms, 0);
  }
}

void Child::kill(int signum) noexcept { m_state->kill(signum); }

}  // namespace cachestress::command
