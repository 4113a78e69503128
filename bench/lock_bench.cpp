// Cost of one uncontended exclusive whole-file lock + unlock, for the three lock kinds a
// locked mount can use. Our wrappers (engine/lock/kernel_lock) and the raw syscalls side
// by side, so any gap is our code; plus the full per-mount cycle the runner does
// (open beneath the workspace, lock, unlock, close).
//
// Run: build/dev/bench/lock_bench   (TMPDIR picks the filesystem; /tmp by default)
#include "engine/fs/safe_fs.hpp"
#include "engine/lock/kernel_lock.hpp"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

using cachestress::model::LockKind;
namespace lock = cachestress::lock;

std::string temp_base() {
  const char* tmpdir = std::getenv("TMPDIR");
  return tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
}

// A real, empty file on the TMPDIR filesystem, removed again when the benchmark ends.
class TempLockFile {
 public:
  TempLockFile() : m_path(temp_base() + "/lock_bench-XXXXXX") { m_fd = ::mkstemp(m_path.data()); }
  ~TempLockFile() {
    if (m_fd >= 0) ::close(m_fd);
    ::unlink(m_path.c_str());
  }
  TempLockFile(const TempLockFile&) = delete;
  TempLockFile& operator=(const TempLockFile&) = delete;
  int fd() const noexcept { return m_fd; }

 private:
  std::string m_path;
  int m_fd = -1;
};

// A private workspace directory with the Root the runner would open on it.
class TempWorkspace {
 public:
  TempWorkspace()
      : m_path(cachestress::fs::make_workspace(temp_base())), m_root(cachestress::fs::Root::open(m_path)) {}
  ~TempWorkspace() {
    (void)m_root.remove_tree("");
    ::rmdir(m_path.c_str());
  }
  TempWorkspace(const TempWorkspace&) = delete;
  TempWorkspace& operator=(const TempWorkspace&) = delete;
  const cachestress::fs::Root& root() const noexcept { return m_root; }

 private:
  std::string m_path;
  cachestress::fs::Root m_root;
};

// One row per lock kind, named after it: bm_raw_lock_unlock/ofd.
#define CACHESTRESS_PER_LOCK_KIND(fn)            \
  BENCHMARK_CAPTURE(fn, fcntl, LockKind::fcntl); \
  BENCHMARK_CAPTURE(fn, flock, LockKind::flock); \
  BENCHMARK_CAPTURE(fn, ofd, LockKind::ofd)

// Our wrappers: acquire_blocking + release, exactly as a locked mount calls them.
void bm_engine_lock_unlock(benchmark::State& state, LockKind kind) {
  TempLockFile file;
  if (file.fd() < 0) {
    state.SkipWithError("mkstemp failed");
    return;
  }
  for (auto _ : state) {
    if (lock::acquire_blocking(file.fd(), kind) != 0 || lock::release(file.fd(), kind) != 0) {
      state.SkipWithError("lock call failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
CACHESTRESS_PER_LOCK_KIND(bm_engine_lock_unlock);

// The runner tries first and blocks only on EAGAIN: the uncontended path is try_acquire.
void bm_engine_try_lock_unlock(benchmark::State& state, LockKind kind) {
  TempLockFile file;
  if (file.fd() < 0) {
    state.SkipWithError("mkstemp failed");
    return;
  }
  for (auto _ : state) {
    if (lock::try_acquire(file.fd(), kind) != 0 || lock::release(file.fd(), kind) != 0) {
      state.SkipWithError("lock call failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
CACHESTRESS_PER_LOCK_KIND(bm_engine_try_lock_unlock);

// The bare syscalls, for comparison with the wrappers above.
int raw_lock(int fd, LockKind kind, short type) {
  if (kind == LockKind::flock) return ::flock(fd, type == F_UNLCK ? LOCK_UN : LOCK_EX);
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return ::fcntl(fd, kind == LockKind::ofd ? F_OFD_SETLKW : F_SETLKW, &fl);
}

void bm_raw_lock_unlock(benchmark::State& state, LockKind kind) {
  TempLockFile file;
  if (file.fd() < 0) {
    state.SkipWithError("mkstemp failed");
    return;
  }
  for (auto _ : state) {
    if (raw_lock(file.fd(), kind, F_WRLCK) != 0 || raw_lock(file.fd(), kind, F_UNLCK) != 0) {
      state.SkipWithError("lock syscall failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
CACHESTRESS_PER_LOCK_KIND(bm_raw_lock_unlock);

// What one uncontended locked mount costs the runner in total: KernelLockJob::run opens
// the lock file beneath the workspace (openat2 + the regular-file checks) and locks it;
// release_mounts unlocks and closes.
void bm_engine_lock_file_cycle(benchmark::State& state, LockKind kind) {
  TempWorkspace workspace;
  const std::string lock_path = "buildah-cache-lockfiles/key/buildah-cache-lockfile";
  if (workspace.root().make_dirs("buildah-cache-lockfiles/key") != 0) {
    state.SkipWithError("make_dirs failed");
    return;
  }
  for (auto _ : state) {
    const int fd = workspace.root().open_file(lock_path, O_RDWR | O_CREAT);
    if (fd < 0 || lock::try_acquire(fd, kind) != 0) {
      state.SkipWithError("open or lock failed");
      if (fd >= 0) ::close(fd);
      break;
    }
    (void)lock::release(fd, kind);
    ::close(fd);
  }
  state.SetItemsProcessed(state.iterations());
}
CACHESTRESS_PER_LOCK_KIND(bm_engine_lock_file_cycle);

}  // namespace

BENCHMARK_MAIN();
