#include "engine/backend/process_build.hpp"

#include <signal.h>

#include <array>
#include <climits>
#include <cstring>
#include <optional>
#include <utility>

#include "engine/core/error.hpp"
#include "engine/worker/line_splitter.hpp"
#include "engine/worker/worker.hpp"

extern char** environ;

namespace cachestress::backend {

namespace protocol = worker::protocol;

struct ProcessBuild::Decoder {
  Decoder(EventFn event_fn, ExitFn exit_fn) : on_event(std::move(event_fn)), on_exit(std::move(exit_fn)) {}

  EventFn on_event;
  ExitFn on_exit;
  core::ChildProcess* child = nullptr;  // valid while attached
  bool attached = true;                 // the ProcessBuild still exists
  worker::LineSplitter lines{protocol::k_max_line_bytes};
  std::string protocol_error;
  std::uint64_t line_number = 0;

  void fail_protocol(std::string why) {
    if (protocol_error.empty()) protocol_error = "line " + std::to_string(line_number) + ": " + std::move(why);
    // Its events can no longer be trusted; the kernel releases its locks.
    if (attached) child->kill(SIGKILL);
  }

  // A chunk of the event pipe, cut anywhere.
  void feed(std::string_view chunk) {
    const bool ok = lines.feed(chunk, [this](std::string_view line) { return on_line(line); });
    if (!ok && attached) {
      ++line_number;
      fail_protocol("longer than " + std::to_string(protocol::k_max_line_bytes) + " bytes");
    }
  }

  bool on_line(std::string_view line) {
    ++line_number;
    if (!protocol_error.empty() || !attached) return false;
    std::optional<protocol::Line> decoded;
    try {
      decoded = protocol::decode_line(line);
    } catch (const protocol::ProtocolError& e) {
      fail_protocol(e.what());
      return false;
    }
    if (on_event) on_event(decoded->event, decoded->at_us);
    return attached;  // on_event may have destroyed the ProcessBuild
  }

  void exited(const core::ChildExit& exit) {
    if (protocol_error.empty() && exit.term_signal == 0 && lines.pending() > 0) {
      protocol_error = "truncated event line at end of stream";
    }
    if (on_exit) on_exit(exit.exit_status, exit.term_signal);
  }
};

ProcessBuild::ProcessBuild(uv_loop_t* loop, EventFn on_event, ExitFn on_exit)
    : m_decoder(std::make_shared<Decoder>(std::move(on_event), std::move(on_exit))), m_child(loop) {
  m_decoder->child = &m_child;
}

ProcessBuild::~ProcessBuild() {
  m_decoder->attached = false;  // then m_child's destructor kills a running child
}

int ProcessBuild::start(Spec spec) {
  core::ChildProcess::Spec launch;
  launch.argv.reserve(spec.args.size() + 1);
  launch.argv.push_back(std::move(spec.exe));
  for (auto& a : spec.args) launch.argv.push_back(std::move(a));
  launch.env = std::move(spec.env);
  if (spec.launch) {
    launch.launch = std::move(spec.launch);
  } else {
    launch.stdin_payload = std::move(spec.plan);
  }
  launch.err = {core::Capture::Keep::tail, k_stderr_tail};
  static_assert(worker::k_event_fd == 3, "the event pipe is the launcher's fd 3");
  static_assert(worker::k_workspace_fd == 4, "the workspace is the launcher's fd 4");
  launch.fd4_from = spec.workspace_fd;
  launch.fd3 = [decoder = m_decoder](std::string_view chunk) { decoder->feed(chunk); };
  launch.timeout_ms = spec.timeout_ms;
  launch.kill_grace_ms = spec.kill_grace_ms;
  launch.launcher = spec.launcher;
  // Called only while this ProcessBuild exists.
  return m_child.start(std::move(launch), [decoder = m_decoder](const core::ChildExit& exit) { decoder->exited(exit); });
}

void ProcessBuild::kill(int signum) noexcept { m_child.kill(signum); }
int ProcessBuild::pid() const noexcept { return m_child.pid(); }
bool ProcessBuild::running() const noexcept { return m_child.running(); }
bool ProcessBuild::timed_out() const noexcept { return m_child.timed_out(); }
const std::string& ProcessBuild::protocol_error() const noexcept { return m_decoder->protocol_error; }
const std::string& ProcessBuild::stderr_tail() const noexcept { return m_child.err().text; }

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
