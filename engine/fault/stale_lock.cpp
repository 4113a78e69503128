#include "engine/fault/stale_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "engine/core/error.hpp"

namespace cachestress::fault {
namespace {

// Non-blocking exclusive lock of the whole file with the run's lock kind; async-signal-safe
// (it runs in the forked child too). Returns 0 or -1 with errno set.
int try_lock(int fd, model::LockKind kind) {
  if (kind == model::LockKind::flock) return ::flock(fd, LOCK_EX | LOCK_NB);
  struct flock lk{};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  return ::fcntl(fd, kind == model::LockKind::ofd ? F_OFD_SETLK : F_SETLK, &lk);
}

struct Target {
  int dir_fd = -1;
  std::string name;
};

}  // namespace

StaleLockReport leave_stale_locks(const fs::Root& root, const std::vector<std::string>& lock_paths, model::LockKind kind) {
  StaleLockReport report;
  if (lock_paths.empty()) return report;  // no kernel-locked mounts (or BuildKit): nothing to leave
  std::vector<Target> targets;
  auto close_all = [&targets] {
    for (auto& t : targets) ::close(t.dir_fd);
  };
  for (const auto& path : lock_paths) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
    if (int rc = dir.empty() ? 0 : root.make_dirs(dir); rc < 0) {
      close_all();
      throw EnvironmentError("stale_lock: cannot create " + dir + ": " + errno_text(-rc));
    }
    int fd = root.open_file(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
      close_all();
      throw EnvironmentError("stale_lock: cannot create " + path + ": " + errno_text(-fd));
    }
    ::close(fd);
    // The child opens by name beneath this directory fd: its own open file, so its OFD or
    // flock lock is not shared with (and kept alive by) any descriptor of ours.
    int dir_fd = dir.empty() ? ::fcntl(root.fd(), F_DUPFD_CLOEXEC, 0) : root.open_file(dir, O_RDONLY | O_DIRECTORY);
    if (dir_fd < 0) {
      close_all();
      throw EnvironmentError("stale_lock: cannot open " + dir + ": " + errno_text(dir_fd == -1 ? errno : -dir_fd));
    }
    targets.push_back({dir_fd, path.substr(slash == std::string::npos ? 0 : slash + 1)});
  }
  report.files = targets.size();
  report.example = lock_paths.front();

  // The holder: locks every file, then dies holding them (exit status 0 = it held them all).
  // Between fork and _exit only async-signal-safe calls: the parent may have threads.
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    close_all();
    throw EnvironmentError(std::string("stale_lock: fork: ") + errno_text(err));
  }
  if (pid == 0) {
    for (const auto& t : targets) {
      const int fd = ::openat(t.dir_fd, t.name.c_str(), O_RDWR | O_NOFOLLOW);
      if (fd < 0 || try_lock(fd, kind) != 0) ::_exit(1);
    }
    ::_exit(0);  // dies holding every lock: the kernel releases them, the files stay
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  report.holder_pid = pid;
  report.holder_locked_all = WIFEXITED(status) && WEXITSTATUS(status) == 0;

  // The kernel freed them: each lock can be taken at once (and is let go again).
  report.freed_by_kernel = true;
  for (const auto& t : targets) {
    const int fd = ::openat(t.dir_fd, t.name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || try_lock(fd, kind) != 0) report.freed_by_kernel = false;
    if (fd >= 0) ::close(fd);
  }
  close_all();
  return report;
}

}  // namespace cachestress::fault
