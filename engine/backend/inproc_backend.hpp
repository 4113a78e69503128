#pragma once
// --backend inproc: every build is a state machine on the loop thread (acquire mounts ->
// batches of file operations on the backend's lanes (BatchLanes) -> hold timers -> release
// -> gap), with real kernel locks taken by the waiter pool (engine/lock/) so the loop never
// blocks.
// Buildah's per-process gate and BuildKit's instance pool live in the MountTable; the
// engine's own lock_overlap oracle in the HolderRegistry.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/backend/inproc_build.hpp"
#include "engine/backend/mount_table.hpp"
#include "engine/backend/recorder.hpp"
#include "engine/lock/waiter_pool.hpp"

namespace cachestress::backend {

class InprocBackend : public Backend {
 public:
  explicit InprocBackend(Context& context);
  ~InprocBackend() override;

  void start_build(const BuildTicket& ticket) override;
  bool stage_build(const BuildTicket& ticket) override;
  bool start_staged() override { return lane_builds() && m_lanes->start_now(); }
  void unstage() override;
  void interrupt(std::uint64_t build, int signum) override;
  void forget_root(const std::string& root) override { m_mounts.drop_root(root); }

  // Loop-thread entry points of a build's callbacks.
  void on_timer(InprocBuild& build);
  void on_batch_done(InprocBuild& build);
  void on_kernel_lock(InprocBuild& build, int result);
  void end_unacquired(InprocBuild& build, int result);
  void on_lock_held(InprocBuild& build);
  void started_in_chain(InprocBuild& build);
  void on_lane_started(InprocBuild& build);

 protected:
  // Sends the filled batch to a lane; on_batch_done follows (fake: no files).
  virtual void submit_batch(InprocBuild& build);
  core::Loop& loop() { return m_ctx.loop; }

 private:
  void begin_step(InprocBuild& build);
  std::string set_up_mounts(InprocBuild& build);
  void acquire_next(InprocBuild& build);
  void try_instance(InprocBuild& build, HeldMount& mount);
  void granted(InprocBuild& build, HeldMount& mount);
  void pass_gate(CacheState& state);
  bool one_hop(const InprocBuild& build) const;
  void submit_kernel_lock(InprocBuild& build, CacheState& state);
  void prepare_kernel_lock(InprocBuild& build, CacheState& state);
  void record_writes(const InprocBuild& build);
  void arm_standby(CacheState& state);
  void notify_owner(CacheState& state);
  void adopt(CacheState& state, InprocBuild& taken);
  void queue_taken(KernelLockJob& job);
  void started_at(InprocBuild& build, std::uint64_t started_us);
  static bool is_standby(const CacheState& state, const InprocBuild& build);
  bool reclaim_standby(CacheState& state, InprocBuild& build);
  void on_section_done(InprocBuild& build);
  bool stage_in_chain(const BuildTicket& ticket, CacheState* state);
  bool stage_on_lane(const BuildTicket& ticket);
  // Every build is one batch run on a lane (not the fake backend: it runs no batches there).
  bool lane_builds() const { return m_single_batch_builds && writes_files(); }
  void report_entry(const InprocBuild& build, const HeldMount& mount, const HolderRegistry::Entry& entry);
  void fill_batch(InprocBuild& build);
  std::unique_ptr<InprocBuild> make_build(const BuildTicket& ticket);
  InprocBuild* make_staged(const BuildTicket& ticket);
  void keep_parts(InprocBuild& build);
  void record_batch_writes(const InprocBuild& build);
  void start_in_place(InprocBuild& ended);
  void adopt_successor(InprocBuild& next, std::uint64_t started_us);
  void start_successor(InprocBuild& build);
  bool take_back_staged(InprocBuild& build);
  void lock_timeout(InprocBuild& build);
  std::string lock_timeout_reason(const InprocBuild& build) const;
  std::string holder_key(const InprocBuild& build, const HeldMount& mount) const;
  void run_ops(InprocBuild& build);
  void queue_batch(InprocBuild& build);
  void account_outcome(InprocBuild& build, const ops::OpItem& item, const ops::OpOutcome& outcome);
  void release_mounts(InprocBuild& build);
  void end_step(InprocBuild& build);
  void fail(InprocBuild& build, std::string reason);
  void finish(InprocBuild& build, BuildEnd end, std::string failure = {});
  BuildRef ref(const InprocBuild& build) const { return {build.id, build.kind, build.root}; }

  Context& m_ctx;
  const model::Scenario& m_scenario;
  const semantics::Profile& m_profile;
  Recorder& m_recorder;
  // Every build is one step that is one locked section (stage_build can chain them).
  bool m_single_section_builds = false;
  // Every build is one step that is one batch of Buildah shared mounts (stage_on_lane).
  bool m_single_batch_builds = false;
  std::uint64_t m_staged_builds = 0;
  std::unique_ptr<lock::WaiterPool> m_waiters;
  MountTable m_mounts;
  HolderRegistry m_holders;
  // Who holds each locked/private cache (root|key), for naming deadlocks on a lock timeout.
  std::unordered_map<std::string, std::uint64_t> m_lock_holder;
  // Ended builds' containers, their buffers reused by the next builds (make_build).
  struct SpareParts {
    ops::OpBatch batch;
    std::vector<HeldMount> mounts;
    std::vector<HolderRegistry::Entry> entries;
  };
  std::vector<SpareParts> m_spare_parts;
  std::vector<void*> m_build_storage;  // ended builds' memory, for the next (make_build)
  std::unordered_map<std::uint64_t, std::unique_ptr<InprocBuild>> m_builds;
  // After m_builds: destroyed first, so no lane still runs a batch of a destroyed build.
  std::unique_ptr<BatchLanes> m_lanes;
};

// --backend fake: the in-process state machine touching no files (every operation succeeds
// on the next loop turn): what the engine itself costs.
class FakeBackend final : public InprocBackend {
 public:
  using InprocBackend::InprocBackend;
  bool writes_files() const override { return false; }

 protected:
  void submit_batch(InprocBuild& build) override;
};

}  // namespace cachestress::backend
