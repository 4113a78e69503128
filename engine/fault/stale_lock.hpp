#pragma once
// [faults] stale_lock: before the run, a holder that then died leaves its lock file at every
// locked mount's lock path. Buildah's locked mounts lock
// `<cache parent>/buildah-cache-lockfiles/<key>/buildah-cache-lockfile` with a kernel record
// lock, so the file outlives a holder killed mid-step (and prune is the only thing that ever
// removes it), but the lock does not: the kernel frees it when the holder dies. A stale lock
// file must therefore never block a build (unlike create-exclusive lock files, which stay
// "held" until someone deletes them). The holder is a real child process that opens and locks
// every file with the run's lock kind and exits while holding them.
#include <string>
#include <vector>

#include "engine/fs/safe_fs.hpp"
#include "engine/model/scenario.hpp"

namespace cachestress::fault {

struct StaleLockReport {
  std::uint64_t files = 0;        // lock files left behind
  std::string example;            // one of them, relative to the workspace
  long holder_pid = 0;            // the dead holder
  bool holder_locked_all = false; // it really held every lock when it died
  bool freed_by_kernel = false;   // after its death each lock could be taken without waiting
};

// Creates each lock file (paths relative to the workspace root), has a child process lock
// them all with `kind` and exit, then checks the kernel freed them. Runs before the loop
// starts. Throws EnvironmentError when a file cannot be made or the child cannot run.
StaleLockReport leave_stale_locks(const fs::Root& root, const std::vector<std::string>& lock_paths, model::LockKind kind);

}  // namespace cachestress::fault
