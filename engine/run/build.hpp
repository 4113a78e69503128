#pragma once
// One build in flight: a state machine driven by the Runner on the loop thread. It owns
// the libuv objects its steps need (a timer, a work request, a lock job), so nothing is
// allocated per operation; it is destroyed only when no request of it is outstanding.
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/loop.hpp"
#include "engine/fs/safe_fs.hpp"
#include "engine/lock/waiter_pool.hpp"
#include "engine/model/scenario.hpp"
#include "engine/run/file_ops.hpp"
#include "engine/run/process_build.hpp"
#include "engine/run/rng.hpp"

namespace cachestress::run {

enum class Phase {
  arriving,        // ramp: waiting for its start time
  acquiring,       // taking the step's mounts in order
  waiting_gate,    // queued behind an in-process holder of a Buildah locked cache
  waiting_kernel,  // a waiter thread is blocked in the kernel lock for it
  polling,         // BuildKit locked: re-checks every 100 ms
  running_ops,     // a batch of file operations is on the threadpool
  holding,         // simulated work inside the step (timer)
  gap,             // between steps, no mounts held (timer)
  removing_root,   // per-build cache root being removed
  worker,          // --backend process: a child process runs the whole build
};

enum class BuildEnd { completed, failed, interrupted };

struct HeldMount {
  std::string key;           // the profile's cache key
  std::string cache_dir;     // relative to the cache root (profile layout)
  std::string lock_file;     // relative to the cache root; empty when no kernel lock
  std::string instance_dir;  // relative to the workspace, once granted
  std::uint32_t instance = 0;
  model::Sharing sharing = model::Sharing::shared;
  int lock_fd = -1;
  bool granted = false;
  bool queued = false;  // had to queue behind another holder
  bool holds_gate = false;  // fcntl locks: the in-process gate stays held until release
  std::string label;        // the mount's id, or its target: how reports name the cache
  std::uint64_t granted_us = 0;
};

class Runner;

// Opens the lock file beneath the workspace and blocks in the kernel until it is held.
class KernelLockJob final : public lock::LockJob {
 public:
  KernelLockJob(Runner& runner, struct Build& build) : m_runner(runner), m_build(build) {}
  const fs::Root* root = nullptr;
  std::string path;
  model::LockKind kind = model::LockKind::ofd;
  bool waited_in_kernel = false;  // worker writes, loop reads after done()
  int run() override;
  void done(int result) override;

 private:
  Runner& m_runner;
  struct Build& m_build;
};

struct Build {
  Build(core::Loop& loop, Runner& owner, std::uint64_t build_id, int build_kind, std::uint64_t seed);
  Build(const Build&) = delete;
  Build& operator=(const Build&) = delete;

  Runner& runner;
  std::uint64_t id;
  int kind;
  std::string root;  // cache root, relative to the workspace ("roots/b12")
  Rng rng;
  Phase phase = Phase::acquiring;
  BuildEnd end = BuildEnd::completed;
  std::string failure;
  bool cancelled = false;
  std::uint32_t step = 0;
  std::size_t next_mount = 0;
  std::size_t next_op = 0;
  bool step_mounted = false;  // the first batch of the step created the mount directories
  std::uint32_t seq = 0;
  std::uint64_t admitted_us = 0;
  std::uint64_t step_start_us = 0;
  std::uint64_t wait_start_us = 0;
  std::uint64_t lock_deadline_us = 0;  // --lock-timeout: when the current wait gives up (0: never)
  bool lock_timed_out = false;
  std::vector<HeldMount> mounts;
  std::vector<int> workload_locks;  // trylock fds held until the step ends
  OpBatch batch;
  // --backend process (engine/run/process_backend.cpp): the worker and what it said so far.
  std::unique_ptr<ProcessBuild> process;
  std::uint64_t spawned_us = 0;
  bool worker_done = false;    // it sent "done"
  bool fault_killed = false;   // [faults] kill_lock_holder chose it
  std::string worker_failure;  // it sent "failed": the reason
  std::string worker_root;     // the cache root it took from TMPDIR ("hello"), relative to the workspace
  // The locked mount it is blocked on, from its "waiting" event until "granted": the wait
  // graph that --lock-timeout and deadlock naming walk.
  struct WorkerWait {
    std::string lock;   // Runner::lock_name: root and key, one per kernel lock
    std::string label;  // the mount as the in-process runner names it ("id=cache-a")
  };
  std::optional<WorkerWait> worker_waiting;
  std::string worker_lock_failure;  // --lock-timeout gave up on it (SIGKILL sent): the reason it is failed with
  std::vector<std::pair<std::uint32_t, std::string>> worker_locks;  // locked mounts held now: index, lock name
  std::uint32_t worker_step = 0;  // the step of its latest grant (worker_locks are all of it)
  uv_work_t work{};
  core::Timer timer;
  KernelLockJob lock_job;
};

}  // namespace cachestress::run
