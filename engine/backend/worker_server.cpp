#include "engine/backend/worker_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "engine/core/error.hpp"
#include "engine/worker/fork_server.hpp"

extern char** environ;

namespace cachestress::backend {
namespace {

// How long the server may take to start, or to answer a request, before it counts as hung.
constexpr int k_reply_timeout_s = 10;
constexpr std::size_t k_server_stderr_tail = 4096;

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (const auto nl = text.rfind('\n'); nl != std::string::npos) text.erase(0, nl + 1);
  return text.substr(0, 200);
}

// An fd above 0..3, so that a child's dup2 onto its low fds never clobbers it.
int above_stdio(int fd) {
  if (fd > 3) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 4);
  ::close(fd);
  return moved;
}

}  // namespace

struct WorkerServer::Link {
  explicit Link(int f) : fd(f) {}
  ~Link() {
    if (fd >= 0) ::close(fd);
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  int fd;
};

std::vector<std::string> own_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

WorkerServer::WorkerServer(core::Loop& loop, std::string exe, int workspace_fd)
    : m_loop(loop), m_exe(std::move(exe)), m_workspace_fd(workspace_fd) {}

WorkerServer::~WorkerServer() { stop(); }  // m_server's destructor SIGKILLs a server still running

void WorkerServer::fail(std::string why) noexcept {
  if (m_broken.empty()) m_broken = std::move(why);
  if (m_link) ::shutdown(m_link->fd, SHUT_RDWR);
  m_link.reset();
  if (m_server) m_server->kill(SIGKILL);
}

void WorkerServer::start(std::function<void(std::string error)> ready) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    ready("fork server: socketpair: " + errno_text(errno));
    return;
  }
  const int ours = above_stdio(pair[0]);
  const int theirs = above_stdio(pair[1]);
  if (ours < 0 || theirs < 0) {
    if (ours >= 0) ::close(ours);
    if (theirs >= 0) ::close(theirs);
    ready("fork server: cannot move the socket above fd 3");
    return;
  }
  // A plan can be large (a big scenario): let one request through whole where the system allows.
  const int sndbuf = 4 * 1024 * 1024;
  ::setsockopt(ours, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  const timeval timeout{k_reply_timeout_s, 0};
  ::setsockopt(ours, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  m_link = std::make_shared<Link>(ours);

  core::ChildProcess::Spec spec;
  spec.argv = {m_exe, "worker", "--serve"};
  spec.env = own_environment();
  // Every symbol bound once in the server, not lazily again in each forked build.
  if (std::none_of(spec.env.begin(), spec.env.end(), [](const std::string& e) { return e.starts_with("LD_BIND_NOW="); })) {
    spec.env.emplace_back("LD_BIND_NOW=1");
    spec.env.push_back(std::string(worker::k_fork_server_added_env) + "=LD_BIND_NOW");
  }
  spec.stdin_fd = theirs;
  spec.err = {core::Capture::Keep::tail, k_server_stderr_tail};
  m_server = std::make_unique<core::ChildProcess>(m_loop.raw());
  const int rc = m_server->start(std::move(spec), [this](const core::ChildExit& exit) {
    if (m_stopped) return;
    std::string why = exit.term_signal != 0 ? "killed by signal " + std::to_string(exit.term_signal)
                                            : "exited with status " + std::to_string(exit.exit_status);
    if (auto line = last_line(m_server->err().text); !line.empty()) why += ": " + line;
    spdlog::error("the fork server of --backend process {} during the run", why);
    fail("the fork server of --backend process " + why);
  });
  ::close(theirs);
  if (rc != 0) {
    m_link.reset();
    ready("cannot start the fork server (" + m_exe + " worker --serve): " + uv_error_text(rc));
    return;
  }
  // Its hello (its pid) once it has exec'd and loaded: waited for off the loop.
  auto result = std::make_shared<int>(0);
  core::queue_work(
      m_loop,
      [link = m_link, result] {
        pid_t pid = 0;
        const int read_rc = worker::read_fork_reply(link->fd, pid);
        *result = read_rc != 0 ? read_rc : pid > 0 ? 0 : -EPROTO;
      },
      [this, result, ready = std::move(ready)](int) {
        if (*result == 0 && m_broken.empty() && !m_stopped) {
          ready({});
          return;
        }
        std::string why = !m_broken.empty() ? m_broken
                          : *result == -EAGAIN ? "no answer within " + std::to_string(k_reply_timeout_s) + " s"
                                               : errno_text(-*result);
        if (*result != 0) fail(why);
        ready(why.starts_with("the fork server") ? why : "the fork server of --backend process cannot start: " + why);
      });
}

int WorkerServer::launch(const std::string& tmpdir, const std::string& plan, const core::LaunchPipes& pipes,
                         core::Launched& out) {
  if (!m_broken.empty() || !m_link) return UV_EPIPE;
  if (pipes.in || pipes.out || !pipes.err || !pipes.fd3) return UV_EINVAL;  // what a worker build has
  int ours[4], theirs[4];
  if (int rc = core::make_launch_pipes(pipes, ours, theirs); rc != 0) return rc;
  int rc = worker::send_fork_request(m_link->fd, tmpdir, plan, m_workspace_fd, theirs[2], theirs[3]);
  ::close(theirs[2]);
  ::close(theirs[3]);
  // The reply (the clone's pid) is read here, on the loop thread, as uv_spawn itself reads
  // its exec-status pipe before returning: the server answers right after clone(), so
  // this wait is one fork, the same as a spawn's. A server that hangs is bounded by
  // SO_RCVTIMEO and then fails the run's remaining builds, never the loop.
  pid_t pid = 0;
  if (rc == 0) rc = worker::read_fork_reply(m_link->fd, pid);
  if (rc == -EAGAIN) {
    fail("the fork server of --backend process did not answer a request within " + std::to_string(k_reply_timeout_s) + " s");
  } else if (rc == -EPIPE || rc == -ECONNRESET || rc == -EPROTO) {
    fail("the fork server of --backend process is gone (" + errno_text(-rc) + ")");
  } else if (rc == 0 && pid <= 0) {
    rc = pid < 0 ? pid : -EPROTO;  // it could not clone (EAGAIN, ENOMEM...): this build fails
  }
  int pidfd = -1;
  if (rc == 0) {
    pidfd = core::open_pidfd(pid);
    if (pidfd < 0) {
      rc = pidfd;
      core::abandon_child(pid);
    }
  }
  if (rc != 0) {
    ::close(ours[2]);
    ::close(ours[3]);
    return rc;
  }
  out.pid = pid;
  out.pidfd = pidfd;
  out.err_fd = ours[2];
  out.fd3_fd = ours[3];
  return 0;
}

void WorkerServer::stop() noexcept {
  m_stopped = true;
  if (m_link) ::shutdown(m_link->fd, SHUT_RDWR);  // the server reads EOF and exits
  m_link.reset();
}

void WorkerServer::kill_now() noexcept {
  m_stopped = true;
  if (!m_server || !m_server->running()) return;
  const int pid = m_server->pid();
  m_server->kill(SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace cachestress::backend
