#include "engine/lock/kernel_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace cachestress::lock {
namespace {

struct flock whole_file(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;  // to the end, however the file grows
  fl.l_pid = 0;  // required 0 for OFD locks
  return fl;
}

int result(int rc) { return rc == 0 ? 0 : -errno; }

int lock_call(int fd, model::LockKind kind, bool wait, short type) {
  if (kind == model::LockKind::flock) {
    int op = type == F_UNLCK ? LOCK_UN : (type == F_RDLCK ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
    int rc = result(::flock(fd, op));
    return rc == -EWOULDBLOCK ? -EAGAIN : rc;
  }
  struct flock fl = whole_file(type);
  int cmd = kind == model::LockKind::ofd ? (wait ? F_OFD_SETLKW : F_OFD_SETLK) : (wait ? F_SETLKW : F_SETLK);
  int rc = result(::fcntl(fd, cmd, &fl));
  return rc == -EACCES ? -EAGAIN : rc;  // POSIX allows EACCES for a held record lock
}

}  // namespace

int acquire_blocking(int fd, model::LockKind kind) noexcept { return lock_call(fd, kind, true, F_WRLCK); }
int try_acquire(int fd, model::LockKind kind) noexcept { return lock_call(fd, kind, false, F_WRLCK); }
int try_acquire_shared(int fd, model::LockKind kind) noexcept { return lock_call(fd, kind, false, F_RDLCK); }
int release(int fd, model::LockKind kind) noexcept { return lock_call(fd, kind, false, F_UNLCK); }

}  // namespace cachestress::lock
