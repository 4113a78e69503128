#pragma once
// How a worker process takes a step's cache mounts. One build per process, so there is no
// in-process gate: every locked mount is a real kernel lock that contends with the other
// workers' (fcntl, OFD and flock all exclude across processes).
//
//   semantics      shared                  locked                                private
//   buildah*       <cache dir>             kernel lock on the profile's lock file rejected
//   buildkit       first <cache dir>/N     exclusive kernel lock on              first <cache dir>/N whose
//                  whose N.lock takes a    <cache dir>/0.lock (waits for         N.lock try-locks
//                  shared lock             shared holders too)
// BuildKit coordinates in buildkitd's memory, which separate processes cannot share, so under
// the process backend the instance table is the N.lock files: a shared user holds a shared
// lock, so it skips (forks past) an instance a locked or private user holds and a locked user
// waits while shared users are in. Locked waits in the kernel (no 100 ms polling); see
// engine/worker/README.md.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "engine/fs/safe_fs.hpp"
#include "engine/model/scenario.hpp"
#include "engine/semantics/profile.hpp"
#include "engine/worker/holder_marker.hpp"

namespace cachestress::worker {

struct ChildMount {
  model::Sharing sharing = model::Sharing::shared;
  std::string instance_dir;  // relative to the workspace
  std::uint32_t instance = 0;
  bool created = false;      // the instance directory did not exist yet
  int lock_fd = -1;
  std::uint64_t wait_us = 0;
  bool waited = false;       // another holder had the lock when we asked
  std::uint64_t granted_us = 0;
  HolderMarker marker;
  std::optional<HolderMarker::Holder> overlap;  // locked: another live holder's marker was there
};

class ChildMounts {
 public:
  // root: the cache root relative to the workspace (taken from TMPDIR).
  ChildMounts(const fs::Root& workspace, const semantics::Profile& profile, model::LockKind lock_kind, std::string root,
              std::uint64_t build, std::string kind)
      : m_workspace(workspace), m_profile(profile), m_lock_kind(lock_kind), m_root(std::move(root)), m_build(build),
        m_kind(std::move(kind)) {}

  // Blocks until the mount is held. 0 or -errno (the lock file could not be opened or locked;
  // -EDEADLK when the kernel sees fcntl locks waiting in a cycle). `before_blocking` runs
  // when a lock is busy, just before the worker blocks for it.
  [[nodiscard]] int acquire(const model::Mount& mount, ChildMount& out,
                            const std::function<void()>& before_blocking = {});
  // Removes the holder marker, then unlocks. Never blocks.
  void release(ChildMount& mount) noexcept;

 private:
  int lock_blocking(const std::string& lock_path, ChildMount& out, const std::function<void()>& before_blocking);
  // BuildKit instances: the first N whose N.lock this lock (exclusive, or shared) try-locks.
  int take_instance(const std::string& cache_dir, bool shared, ChildMount& out);
  bool exists(const std::string& dir) const;

  const fs::Root& m_workspace;
  const semantics::Profile& m_profile;
  model::LockKind m_lock_kind;
  std::string m_root;
  std::uint64_t m_build;
  std::string m_kind;
};

}  // namespace cachestress::worker
