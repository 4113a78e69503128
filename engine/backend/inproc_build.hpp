#pragma once
// One in-process build in flight: a state machine driven by the InprocBackend on the loop
// thread. It owns what its steps need off the loop (a timer, a lane job, a lock job), so
// nothing is allocated per operation; it is destroyed only when no job of it is
// outstanding.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/backend/batch_lanes.hpp"
#include "engine/backend/mount_table.hpp"
#include "engine/core/loop.hpp"
#include "engine/fs/safe_fs.hpp"
#include "engine/lock/waiter_pool.hpp"
#include "engine/model/scenario.hpp"
#include "engine/ops/file_ops.hpp"
#include "engine/ops/rng.hpp"
#include "engine/semantics/profile.hpp"

namespace cachestress::backend {

enum class Phase {
  acquiring,       // taking the step's mounts in order
  waiting_gate,    // queued behind an in-process holder of a Buildah locked cache
  waiting_kernel,  // a waiter thread is blocked in the kernel lock for it
  polling,         // BuildKit locked: re-checks every 100 ms
  running_ops,     // a batch of file operations is on a lane (BatchLanes)
  holding,         // simulated work inside the step (timer)
  gap,             // between steps, no mounts held (timer)
  staged,          // admitted ahead (stage_build), to start as a build in flight ends
};

// The mount's spec and layout are the run's (Scenario, Layouts), pointed to rather than
// copied: a build copying its three hashed paths and its label allocated four strings a mount.
struct HeldMount {
  const model::Mount* spec = nullptr;
  const semantics::MountLayout* layout = nullptr;
  const std::string& key() const { return layout->key; }              // the profile's cache key
  const std::string& cache_dir() const { return layout->cache_dir; }  // relative to the cache root
  const std::string& lock_file() const { return layout->lock_file; }  // ...; empty: no kernel lock
  std::string label() const { return spec->label(); }                 // how reports name the cache
  std::string instance_dir;  // relative to the workspace, once granted
  std::uint32_t instance = 0;
  model::Sharing sharing = model::Sharing::shared;
  int lock_fd = -1;
  bool granted = false;
  bool queued = false;      // had to queue behind another holder
  bool holds_gate = false;  // fcntl locks: the in-process gate stays held until release
  std::uint64_t granted_us = 0;
};

class InprocBackend;
struct InprocBuild;

// Opens the lock file beneath the workspace and blocks in the kernel until it is held.
// With a `section` it is a whole locked step in one hop off the loop: acquire, enter the
// holder registry, run the batch, leave, unlock and close; run() then returns 0, not the fd.
class KernelLockJob final : public lock::LockJob {
 public:
  KernelLockJob(InprocBackend& backend, InprocBuild& build) : m_backend(backend), m_build(build) {}
  const fs::Root* root = nullptr;
  std::string path;
  model::LockKind kind = model::LockKind::ofd;
  bool waited_in_kernel = false;  // worker writes, loop reads after done()

  // The one-hop critical section (null: only take the lock). Set by the loop before
  // submit; written by the worker, read by the loop only after done().
  struct Section {
    ops::OpBatch* batch = nullptr;
    HolderRegistry* holders = nullptr;
    const std::string* instance_dir = nullptr;
    HolderRegistry::Holder self;
    HolderRegistry::Entry entry;       // what entering the registry found
    std::uint64_t acquired_us = 0;     // core::now_us() when the kernel lock was held
    std::uint64_t released_us = 0;     // ... and when it was let go
    bool ops_ran = false;
  };
  Section* section = nullptr;
  // One-hop jobs: the key's parked builds (CacheState::standby), taken once the lock allows.
  StandbyChain<KernelLockJob>* standby = nullptr;
  std::atomic<int>* kernel_waiters = nullptr;  // the key's CacheState::kernel_waiters
  std::atomic<bool> counted{false};            // counted in *kernel_waiters until past its acquire
  void count_waiter();      // before the job is queued (loop or worker)
  void uncount_waiter();    // worker after its acquire, or loop after done()
  // Worker: took a parked job and queued it itself (the loop reads it after a notice).
  std::atomic<bool> handed_on{false};
  // Worker, on the job it took from the standby chain: its next held() is the adopt notice.
  std::atomic<bool> adopt_notice{false};
  // Worker, on a job it took from the standby chain with builds still parked behind it: the
  // loop will be woken soon by whoever takes the last few, so this job does not wake it
  // before it blocks in the kernel (flush_notices). Read by the thread that runs the job.
  std::atomic<bool> quiet_wait{false};
  // Staged job started by a thread whose build ended (StandbyChain::start_next), read by the
  // loop in started(): builds that started before it still waited for the lock.
  bool queued_behind = false;
  // Worker: this job's thread started a staged build in its build's place (loop: after done()).
  std::atomic<bool> started_next{false};
  // The build staged to follow this one (InprocBackend::stage_build): this job's thread
  // queues it the moment this build's lock is let go, or the loop does when this job is done.
  std::atomic<KernelLockJob*> successor{nullptr};
  std::uint64_t taken_us = 0;  // staged job: when a thread (or the loop) started the build
  bool wake_on_start = true;   // -c 1 staged job: its start wakes the loop (set before it is parked)
  std::atomic<bool> notify_held{false};     // loop: a build queued behind this one on the gate
  std::atomic<bool> stop_after_lock{false};  // loop: the build was interrupted, skip the ops
  int run() override;
  void done(int result) override;
  void held() override;
  void started() override;
  InprocBuild& build() const { return m_build; }
  // A staged job starts now, behind `ahead` started builds (under the chain's mutex).
  void mark_started(std::size_t ahead) {
    taken_us = core::now_us();
    queued_behind = ahead > 0;
  }

 private:
  bool hand_on_standby(bool notify);
  void start_staged();
  void hand_on_successor();
  static void announce_adopted(KernelLockJob* next, bool wake);
  void hand_on_adopted(KernelLockJob* next, bool wake);
  int waiters() const { return kernel_waiters != nullptr ? kernel_waiters->load(std::memory_order_acquire) : 0; }
  InprocBackend& m_backend;
  InprocBuild& m_build;
};

// A step's op batch on a lane (BatchLanes): run there, read back on the loop.
class BatchJob final : public LaneJob {
 public:
  explicit BatchJob(InprocBuild& build) : m_build(build) {}
  std::uint64_t ended_us = 0;  // lane: when the batch's last operation returned
  // A build that is one batch (InprocBackend::lane_builds): the lane enters the holder
  // registry for each mount just before the batch and leaves just after, so a build a lane
  // starts holds its mounts exactly while it runs. What entering found, read by the loop.
  HolderRegistry* holders = nullptr;
  std::vector<HolderRegistry::Entry> entries;
  void run() override;
  void done() override;
  void started() override;
  bool may_start_next() const override;

 private:
  InprocBuild& m_build;
};

struct InprocBuild {
  InprocBuild(core::Loop& loop, InprocBackend& owner, const BuildTicket& ticket);
  InprocBuild(const InprocBuild&) = delete;
  InprocBuild& operator=(const InprocBuild&) = delete;

  InprocBackend& backend;
  std::uint64_t id;
  int kind;
  std::string root;  // cache root, relative to the workspace ("roots/b12")
  ops::Rng rng;
  Phase phase = Phase::acquiring;
  bool cancelled = false;
  std::uint32_t step = 0;
  std::size_t next_mount = 0;
  std::size_t next_op = 0;
  bool step_mounted = false;  // the first batch of the step created the mount directories
  std::uint32_t seq = 0;
  std::uint64_t step_start_us = 0;
  std::uint64_t wait_start_us = 0;
  std::uint64_t lock_deadline_us = 0;  // --lock-timeout: when the current wait gives up (0: never)
  bool gate_passed = false;            // one-hop section: the gate was handed on when the lock was held
  KernelLockJob::Section section;
  bool lock_timed_out = false;
  // The step's work ended then, seen by the thread that did it (a one-hop section's unlock,
  // or the lane that ran an unlocked step's last batch); 0: when the loop hears of it.
  std::uint64_t step_end_us = 0;
  std::uint64_t work_end_us = 0;     // the last step ended then (0: the build goes on)
  InprocBuild* successor_build = nullptr;  // staged behind this build (loop's record)
  InprocBuild* predecessor = nullptr;      // Phase::staged: the build it follows
  bool staged_on_lane = false;             // Phase::staged: in BatchLanes' staged jobs
  std::vector<HeldMount> mounts;
  std::vector<int> workload_locks;  // trylock fds held until the step ends
  ops::OpBatch batch;
  std::atomic<bool> cancel_ops{false};  // read by a batch on a lane (OpBatch::cancel)
  core::LazyTimer timer;
  KernelLockJob lock_job;
  BatchJob batch_job{*this};
};

}  // namespace cachestress::backend
