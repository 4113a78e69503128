#include "engine/worker/fork_server.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "engine/semantics/profile.hpp"
#include "engine/worker/plan.hpp"
#include "engine/worker/worker.hpp"

namespace cachestress::worker {
namespace {

struct Header {
  std::uint32_t magic;
  std::uint32_t tmpdir_bytes;
  std::uint32_t plan_bytes;
};

constexpr int k_request_fds = 3;  // workspace, stderr, events

int send_reply(int socket_fd, pid_t value) noexcept {
  const std::int32_t v = value;
  for (;;) {
    if (::send(socket_fd, &v, sizeof v, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof v)) return 0;
    if (errno != EINTR) return -errno;
  }
}

void close_fds(const std::vector<int>& fds) noexcept {
  for (int fd : fds) ::close(fd);
}

// Every fd from `first` up, closed (close_range where the kernel has it).
void close_from(int first) noexcept {
  if (::syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
  const long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (max > 0 ? max : 1024); ++fd) ::close(static_cast<int>(fd));
}

// In the forked build process: become what `cachestress worker` would be, then run it.
[[noreturn]] void run_forked_build(pid_t runner, const std::vector<int>& fds, const std::string& tmpdir,
                                   std::string_view plan, KindCache& kinds) noexcept {
  // Die with the runner (our parent, thanks to CLONE_PARENT); it may have died just now.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != runner) ::_exit(exit_protocol);
  ::setsid();  // its own session and process group, as a spawned worker has
  int high[k_request_fds];
  for (int i = 0; i < k_request_fds; ++i) {
    high[i] = ::fcntl(fds[static_cast<std::size_t>(i)], F_DUPFD, 10);  // out of the way of 0..4
    if (high[i] < 0) ::_exit(exit_protocol);
  }
  // fd 0 was the server's socket: /dev/null (the server's fd 1) instead.
  if (::dup2(STDOUT_FILENO, STDIN_FILENO) < 0 || ::dup2(high[1], STDERR_FILENO) < 0 || ::dup2(high[2], k_event_fd) < 0 ||
      ::dup2(high[0], k_workspace_fd) < 0) {
    ::_exit(exit_protocol);
  }
  close_from(k_workspace_fd + 1);
  ::setenv("TMPDIR", tmpdir.c_str(), 1);
  ::_exit(run_worker(plan, tmpdir.c_str(), k_event_fd, k_workspace_fd, &kinds));
}

}  // namespace

int send_fork_request(int socket_fd, std::string_view tmpdir, std::string_view plan, int workspace_fd, int stderr_fd,
                      int event_fd) noexcept {
  if (tmpdir.size() > k_max_tmpdir_bytes || plan.size() > k_max_plan_bytes) return -EMSGSIZE;
  Header header{k_fork_request_magic, static_cast<std::uint32_t>(tmpdir.size()), static_cast<std::uint32_t>(plan.size())};
  std::array<iovec, 3> iov{iovec{&header, sizeof header}, iovec{const_cast<char*>(tmpdir.data()), tmpdir.size()},
                           iovec{const_cast<char*>(plan.data()), plan.size()}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_request_fds)] = {};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * k_request_fds);
  const int fds[k_request_fds] = {workspace_fd, stderr_fd, event_fd};
  std::memcpy(CMSG_DATA(cm), fds, sizeof fds);
  for (;;) {
    if (::sendmsg(socket_fd, &msg, MSG_NOSIGNAL) >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

int read_fork_reply(int socket_fd, pid_t& pid) noexcept {
  std::int32_t v = 0;
  for (;;) {
    const ssize_t n = ::recv(socket_fd, &v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) {
      pid = v;
      return 0;
    }
    if (n == 0) return -EPIPE;  // the server closed its end: it is gone
    if (n > 0) return -EPROTO;
    if (errno != EINTR) return -errno;
  }
}

// What every build would otherwise do again in its own copy: OpenSSL's one-time setup (the
// first SHA256 of a Buildah cache key loads its configuration and tables), and the dynamic
// linker's lazy symbol binding (the runner starts us with LD_BIND_NOW set, so every symbol
// is bound before the first fork; the variables it added are removed so builds do not see them).
void warm_up() {
  if (const char* added = std::getenv(k_fork_server_added_env)) {
    std::string names = added;
    ::unsetenv(k_fork_server_added_env);
    for (std::size_t at = 0; at < names.size();) {
      const std::size_t comma = std::min(names.find(',', at), names.size());
      ::unsetenv(names.substr(at, comma - at).c_str());
      at = comma + 1;
    }
  }
  model::Mount mount;
  mount.target = "/warm-up";
  (void)semantics::buildah_cache_key(mount);
}

int serve_forks(int socket_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const pid_t runner = ::getppid();
  if (runner == 1) return exit_protocol;  // the runner is already gone
  warm_up();
  if (send_reply(socket_fd, ::getpid()) != 0) return exit_protocol;  // ready
  // The receive buffer is not inherited by builds (MADV_DONTFORK): every fork write-protects
  // the pages a build shares with us, and each of our later writes to one is a copy-on-write
  // fault; a build gets its request as the strings below instead.
  const std::size_t buffer_bytes = sizeof(Header) + k_max_tmpdir_bytes + k_max_plan_bytes;
  void* mapped = ::mmap(nullptr, buffer_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return exit_protocol;
  ::madvise(mapped, buffer_bytes, MADV_DONTFORK);
  const std::span<char> buffer(static_cast<char*>(mapped), buffer_bytes);
  KindCache kinds;  // each kind's steps parsed once here, inherited by every build of it
  for (;;) {
    iovec iov{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_request_fds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return exit_protocol;
    if (n == 0) return exit_done;  // the runner closed its end: the run is over
    std::vector<int> fds;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
        fds.push_back(fd);
      }
    }
    Header header{};
    if (static_cast<std::size_t>(n) >= sizeof header) std::memcpy(&header, buffer.data(), sizeof header);
    const bool well_formed = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 && fds.size() == k_request_fds &&
                             static_cast<std::size_t>(n) >= sizeof header && header.magic == k_fork_request_magic &&
                             static_cast<std::size_t>(n) == sizeof header + header.tmpdir_bytes + header.plan_bytes;
    if (!well_formed) {
      close_fds(fds);
      if (send_reply(socket_fd, -EPROTO) != 0) return exit_protocol;
      continue;
    }
    const std::string tmpdir(buffer.data() + sizeof header, header.tmpdir_bytes);
    const std::string plan(buffer.data() + sizeof header + header.tmpdir_bytes, header.plan_bytes);
    try {
      (void)decode_plan(plan, &kinds);  // a plan it rejects is rejected again in the build, which reports why
    } catch (const std::exception&) {
    }
    // Raw clone, not fork(): CLONE_PARENT makes the build the runner's child. This process
    // has one thread, so skipping glibc's fork handlers leaves nothing locked in the child.
    const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) run_forked_build(runner, fds, tmpdir, plan, kinds);
    const int clone_error = errno;
    close_fds(fds);
    if (send_reply(socket_fd, pid > 0 ? static_cast<pid_t>(pid) : -clone_error) != 0) return exit_protocol;
  }
}

}  // namespace cachestress::worker
