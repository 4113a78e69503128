#include "engine/backend/inproc_backend.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <utility>
#include <vector>

#include "engine/core/loop.hpp"
#include "engine/model/failure.hpp"
#include "engine/backend/wait_graph.hpp"
#include "engine/lock/kernel_lock.hpp"
#include "engine/ops/failure_text.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define CACHESTRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHESTRESS_ASAN 1
#endif
#endif
#ifdef CACHESTRESS_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace cachestress::backend {

using model::Sharing;
using semantics::LockStyle;

namespace {

constexpr std::uint64_t k_poll_ms = 100;  // BuildKit's locked-mount poll period
// --concurrency 1: a chain of staged builds wakes the loop once per this many builds
// (above, the standby chain's k_staged_low decides).
constexpr std::uint64_t k_wake_every = 32;

using core::now_us;

// How many ended builds' containers and memory are kept for the next (InprocBackend::make_build):
// enough for the few hundred a delivery of staged builds ends and starts at once.
constexpr std::size_t k_spare_parts = 1024;

// A kept build's memory is poisoned under AddressSanitizer until the next build is made in
// it, so a stale pointer to an ended build still reports (use-after-poison) as it would
// after a free.
void poison_build_storage([[maybe_unused]] void* storage) {
#ifdef CACHESTRESS_ASAN
  __asan_poison_memory_region(storage, sizeof(InprocBuild));
#endif
}
void unpoison_build_storage([[maybe_unused]] void* storage) {
#ifdef CACHESTRESS_ASAN
  __asan_unpoison_memory_region(storage, sizeof(InprocBuild));
#endif
}

// `out` = "<root>/<relative>", reusing out's buffer.
void assign_beneath(std::string& out, const std::string& root, const std::string& relative) {
  out.reserve(root.size() + 1 + relative.size());
  out.assign(root).append("/").append(relative);
}

// Where a granted mount's files are: the build's cache root and the mount's directory.
void set_instance_dir(const InprocBuild& build, HeldMount& mount) { assign_beneath(mount.instance_dir, build.root, mount.cache_dir()); }

// A build kind's only step, when it has one step with no gap and no hold (its operations
// run back to back, and the build ends when they do); else null.
const model::Step* sole_unpaused_step(const model::BuildKind& kind) {
  if (kind.steps.size() != 1 || kind.steps.front().gap_ms != 0) return nullptr;
  const auto& ops = kind.steps.front().ops;
  const bool holds = std::any_of(ops.begin(), ops.end(), [](const model::Operation& op) { return op.kind == model::OpKind::hold; });
  return holds ? nullptr : &kind.steps.front();
}

// Whether every build of the scenario is a single step run as one locked section (one
// Buildah locked mount, no hold, no gap): one build ends exactly when its lock is let go.
bool single_section_builds(const model::Scenario& scenario, const semantics::Profile& profile) {
  if (profile.lock_style() != LockStyle::kernel_gate || profile.private_style() == semantics::PrivateStyle::instance_pool) return false;
  return std::all_of(scenario.kinds.begin(), scenario.kinds.end(), [&](const model::BuildKind& kind) {
    const model::Step* step = sole_unpaused_step(kind);
    return step != nullptr && step->mounts.size() == 1 && step->mounts.front().sharing == Sharing::locked &&
           profile.rejection(step->mounts.front()).empty();
  });
}

// Whether every build of the scenario is one batch on a lane and nothing else: one step of
// Buildah shared mounts (plain bind mounts, granted at once), no hold, no gap, no trylock
// (its lock would outlive the batch until the loop heard of the end). One build ends exactly
// when its batch does, so the lane that ran it can start the next (stage_on_lane). Not with
// a cache root per build: the runner counts a build in flight until its root is removed.
bool single_batch_builds(const model::Scenario& scenario, const semantics::Profile& profile) {
  if (profile.private_style() == semantics::PrivateStyle::instance_pool) return false;
  if (scenario.run.isolation.kind == model::IsolationKind::per_build && scenario.run.env_policy == model::EnvPolicy::propagate) {
    return false;
  }
  return std::all_of(scenario.kinds.begin(), scenario.kinds.end(), [&](const model::BuildKind& kind) {
    const model::Step* step = sole_unpaused_step(kind);
    if (step == nullptr || step->mounts.empty()) return false;
    const bool all_shared = std::all_of(step->mounts.begin(), step->mounts.end(), [&](const model::Mount& mount) {
      return mount.sharing == Sharing::shared && profile.rejection(mount).empty();
    });
    return all_shared && std::none_of(step->ops.begin(), step->ops.end(), [](const model::Operation& op) { return op.kind == model::OpKind::trylock; });
  });
}

}  // namespace

// ---- InprocBuild -------------------------------------------------------------------------

InprocBuild::InprocBuild(core::Loop& loop, InprocBackend& owner, const BuildTicket& ticket)
    : backend(owner),
      id(ticket.id),
      kind(ticket.kind),
      root(ticket.root),
      rng(ticket.seed),
      timer(loop, [this] { backend.on_timer(*this); }),
      lock_job(owner, *this) {}

// ---- Backend -----------------------------------------------------------------------------

InprocBackend::InprocBackend(Context& context)
    : m_ctx(context),
      m_scenario(context.scenario),
      m_profile(context.profile),
      m_recorder(context.recorder),
      m_single_section_builds(single_section_builds(context.scenario, context.profile)),
      m_single_batch_builds(single_batch_builds(context.scenario, context.profile)),
      m_waiters(std::make_unique<lock::WaiterPool>(context.loop, context.lock_threads)),
      m_lanes(std::make_unique<BatchLanes>(context.loop, context.io_threads,
                                           context.scenario.run.concurrency == 1 ? k_staged_low_one : k_staged_low)) {}

InprocBackend::~InprocBackend() {
  for (void* storage : m_build_storage) {
    unpoison_build_storage(storage);
    ::operator delete(storage);
  }
}

// A new build, with the containers an ended build left (keep_parts) when there are some: a
// steady run then allocates no batch, path or mount list per build (malloc was ~40% of the
// loop thread's time at -c 16 on the shared scenario).
std::unique_ptr<InprocBuild> InprocBackend::make_build(const BuildTicket& ticket) {
  std::unique_ptr<InprocBuild> build;
  if (m_build_storage.empty()) {
    build = std::make_unique<InprocBuild>(m_ctx.loop, *this, ticket);
  } else {
    // An ended build's memory (finish): the default deleter frees it like any other, since
    // it came from the same ::operator new(sizeof(InprocBuild)).
    void* storage = m_build_storage.back();
    m_build_storage.pop_back();
    unpoison_build_storage(storage);
    try {
      build.reset(std::construct_at(static_cast<InprocBuild*>(storage), m_ctx.loop, *this, ticket));
    } catch (...) {
      ::operator delete(storage);
      throw;
    }
  }
  if (!m_spare_parts.empty()) {
    SpareParts& parts = m_spare_parts.back();
    build->batch = std::move(parts.batch);  // refilled in place before any use (ops::fill_batch)
    build->mounts = std::move(parts.mounts);
    build->batch_job.entries = std::move(parts.entries);
    m_spare_parts.pop_back();
  }
  return build;
}

// The build is about to be destroyed, nothing of it outstanding: its containers go to the next.
void InprocBackend::keep_parts(InprocBuild& build) {
  if (m_spare_parts.size() >= k_spare_parts) return;
  SpareParts& parts = m_spare_parts.emplace_back();
  parts.batch = std::move(build.batch);
  parts.batch.cancel = nullptr;
  parts.mounts = std::move(build.mounts);
  parts.mounts.clear();  // set_up_mounts fills it; until then the build has none
  parts.entries = std::move(build.batch_job.entries);
}

// A build admitted ahead (stage_build), its step's mounts set up; null when a mount is
// rejected (single_section_builds() and single_batch_builds() rule that out).
InprocBuild* InprocBackend::make_staged(const BuildTicket& ticket) {
  auto owned = make_build(ticket);
  if (!set_up_mounts(*owned).empty()) return nullptr;
  InprocBuild& staged = *m_builds.emplace(ticket.id, std::move(owned)).first->second;
  staged.phase = Phase::staged;
  return &staged;
}

void InprocBackend::start_build(const BuildTicket& ticket) {
  auto build = make_build(ticket);
  InprocBuild& ref = *build;
  m_builds.emplace(ticket.id, std::move(build));
  begin_step(ref);
}

// Every slot taken, when every build is one locked section (above -c 1: stage_in_chain).
// --concurrency 1: the next build is prepared now and parked
// behind the build that owns its cache's gate: that
// build's waiter thread starts it as soon as it lets the lock go (hand_on_successor), so one
// build follows the other without a round trip through the loop. Its section is ready, its
// job reserved; it counts as started from the moment a thread takes it.
bool InprocBackend::stage_build(const BuildTicket& ticket) {
  if (lane_builds()) return stage_on_lane(ticket);
  if (!m_single_section_builds || !writes_files()) return false;
  const auto& layout = m_ctx.layouts.step(static_cast<std::size_t>(ticket.kind), 0).front();
  CacheState* state = m_mounts.find(ticket.root, layout.lock_file);
  if (m_scenario.run.concurrency > 1) return stage_in_chain(ticket, state);
  if (state == nullptr || !state->gate_busy || !state->gate_queue.empty() || !state->standby_builds.empty()) return false;
  InprocBuild* before = state->gate_owner;  // parked behind the last build already staged
  while (before != nullptr && before->successor_build != nullptr) before = before->successor_build;
  if (before == nullptr || before->lock_job.section == nullptr || before->cancelled) return false;
  InprocBuild* staged = make_staged(ticket);
  if (staged == nullptr) return false;
  InprocBuild& next = *staged;
  next.predecessor = before;
  prepare_kernel_lock(next, *state);
  m_waiters->reserve(&next.lock_job);
  next.lock_job.wake_on_start = m_staged_builds++ % k_wake_every == 0;
  before->successor_build = &next;
  before->lock_job.successor.store(&next.lock_job, std::memory_order_release);
  return true;
}

// --concurrency above 1: the next build is prepared now and staged at the tail of its
// cache's standby chain, while a build of that cache is in flight: the thread of the next
// build of the cache to end starts it in that build's place (KernelLockJob::start_staged),
// so the slot is refilled the moment it frees, without a round trip through the loop.
bool InprocBackend::stage_in_chain(const BuildTicket& ticket, CacheState* state) {
  if (state == nullptr || !state->gate_busy) return false;  // none in flight: none would start it
  if (!state->gate_queue.empty()) return false;  // it would start ahead of builds waiting longer
  InprocBuild* staged = make_staged(ticket);
  if (staged == nullptr) return false;
  InprocBuild& next = *staged;
  prepare_kernel_lock(next, *state);
  m_waiters->reserve(&next.lock_job);
  state->standby.stage(&next.lock_job);
  return true;
}

// Every build is one batch: the next is prepared now and staged on the lanes, and the lane
// whose batch ends next starts it in that build's place (BatchLanes::stage).
bool InprocBackend::stage_on_lane(const BuildTicket& ticket) {
  InprocBuild* staged = make_staged(ticket);
  if (staged == nullptr) return false;
  InprocBuild& next = *staged;
  for (auto& mount : next.mounts) set_instance_dir(next, mount);
  next.next_mount = next.mounts.size();
  next.staged_on_lane = true;
  fill_batch(next);
  m_lanes->stage(&next.batch_job);
  return true;
}

// A lane started this staged build as the build before it on that lane ended: its step
// counts from then, and its writes are its own from then (polluter attribution).
void InprocBackend::on_lane_started(InprocBuild& build) {
  const std::uint64_t started_us = build.batch_job.started_us();
  build.staged_on_lane = false;
  build.phase = Phase::running_ops;  // interrupted meanwhile: cancel_ops stops it, done() ends it
  build.step_start_us = started_us;
  record_batch_writes(build);
  m_ctx.host.build_started(build.id, started_us);
}

// A waiter thread started this staged build (at `taken_us`) as a build of its cache ended,
// or the loop did (start_in_place): it waits for the lock in the standby chain from then on,
// like a build parked there.
void InprocBackend::started_in_chain(InprocBuild& build) {
  HeldMount& mount = build.mounts[build.next_mount];
  CacheState& state = m_mounts.state(build.root, mount.lock_file());
  build.phase = Phase::waiting_gate;
  mount.queued = build.lock_job.queued_behind;
  state.standby_builds.push_back(&build);
  started_at(build, build.lock_job.taken_us);
  if (build.cancelled) {
    // Interrupted before the loop heard it start: it ends now, or its job is stopped.
    interrupt(build.id, SIGINT);
    return;
  }
  if (!state.gate_busy) {
    // Started after the gate went free (the loop passed it before hearing of this start, or
    // a build ended on the loop): nobody of ours holds the lock to hand it on. Queue it.
    if (!state.standby.take_back(&build.lock_job)) return;  // a thread took it: its adopt notice follows
    adopt(state, build);
    queue_taken(build.lock_job);
  }
}

// A staged build started at `started_us` (stamped by the thread that started it, or the
// loop): its step, its wait and its lock timeout count from then, and the runner counts it.
void InprocBackend::started_at(InprocBuild& build, std::uint64_t started_us) {
  build.step_start_us = started_us;
  build.wait_start_us = started_us;
  if (const auto timeout_ms = m_scenario.run.lock_timeout_ms; timeout_ms > 0) {
    build.lock_deadline_us = started_us + std::uint64_t{timeout_ms} * 1000;
    const std::uint64_t now = now_us();
    build.timer.start(build.lock_deadline_us > now ? (build.lock_deadline_us - now + 999) / 1000 : 0);
  }
  m_recorder.waiting(ref(build), build.mounts[build.next_mount].cache_dir(), m_ctx.host.since_start_us(started_us));
  m_ctx.host.build_started(build.id, started_us);
}

// A prepared section job the loop took (from the standby chain or a successor link), its
// build adopted: queued for a waiter thread, counted as one of ours waiting for the lock.
void InprocBackend::queue_taken(KernelLockJob& job) {
  job.count_waiter();
  m_waiters->enqueue(&job);
}

// A build ended on the loop (it failed, timed out, or was never held) without its thread
// starting a staged build in its place: the loop starts one, so the slot does not stay empty.
void InprocBackend::start_in_place(InprocBuild& ended) {
  if (m_scenario.run.concurrency <= 1 || !m_single_section_builds || ended.phase == Phase::staged) return;
  if (ended.cancelled || m_ctx.host.stopping() || ended.lock_job.started_next.load(std::memory_order_relaxed)) return;
  if (ended.mounts.empty()) return;
  CacheState* state = m_mounts.find(ended.root, ended.mounts.front().lock_file());
  if (state == nullptr) return;
  KernelLockJob* started = nullptr;
  (void)state->standby.start_next([&started](KernelLockJob* next, std::size_t ahead, std::size_t) {
    next->mark_started(ahead);
    started = next;
  });
  ended.lock_job.started_next.store(true, std::memory_order_relaxed);
  if (started != nullptr) started_in_chain(started->build());
}

// A staged build started (a waiter thread took its job at `started_us`, or the loop did): it
// owns its cache's gate from now on, and its wait and lock timeout count from then.
void InprocBackend::adopt_successor(InprocBuild& next, std::uint64_t started_us) {
  if (next.predecessor != nullptr) next.predecessor->successor_build = nullptr;
  next.predecessor = nullptr;
  started_at(next, started_us);
  adopt(m_mounts.state(next.root, next.mounts[next.next_mount].lock_file()), next);
}

// The build staged behind `build` that no waiter thread took (it was parked after the
// thread looked, or the lock was never held): the loop starts it, before `build` ends.
void InprocBackend::start_successor(InprocBuild& build) {
  InprocBuild* next = build.successor_build;
  if (next == nullptr) return;
  KernelLockJob* job = build.lock_job.successor.exchange(nullptr, std::memory_order_acq_rel);
  if (job == nullptr) return;  // a thread took it; its adopt notice is on the way
  adopt_successor(*next, now_us());
  queue_taken(*job);
}

// ---- Steps and mounts --------------------------------------------------------------------

void InprocBackend::begin_step(InprocBuild& build) {
  const auto& kind = m_scenario.kinds[static_cast<std::size_t>(build.kind)];
  if (build.step >= kind.steps.size()) {
    finish(build, BuildEnd::completed);
    return;
  }
  build.step_start_us = now_us();
  if (auto why = set_up_mounts(build); !why.empty()) {
    fail(build, model::failure_reason(model::FailureCategory::rejected, why));
    return;
  }
  acquire_next(build);
}

// The step's mounts as the build will take them; a mount the profile rejects: why.
std::string InprocBackend::set_up_mounts(InprocBuild& build) {
  const auto& step = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps[build.step];
  build.next_mount = 0;
  build.next_op = 0;
  build.step_mounted = false;
  build.mounts.clear();
  const auto& layouts = m_ctx.layouts.step(static_cast<std::size_t>(build.kind), build.step);
  for (std::size_t i = 0; i < step.mounts.size(); ++i) {
    const auto& mount = step.mounts[i];
    if (auto why = m_profile.rejection(mount); !why.empty()) return why;
    HeldMount held;
    held.spec = &mount;
    held.layout = &layouts[i];
    held.sharing = mount.sharing;
    build.mounts.push_back(std::move(held));
  }
  return {};
}

void InprocBackend::acquire_next(InprocBuild& build) {
  if (build.cancelled) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  if (build.next_mount == build.mounts.size()) {
    run_ops(build);
    return;
  }
  build.phase = Phase::acquiring;
  HeldMount& mount = build.mounts[build.next_mount];
  if (!mount.queued) {
    // First attempt at this mount (BuildKit polls come back here: keep the first start).
    build.wait_start_us = now_us();
    const auto timeout_ms = m_scenario.run.lock_timeout_ms;
    build.lock_deadline_us = timeout_ms > 0 ? build.wait_start_us + std::uint64_t{timeout_ms} * 1000 : 0;
    if (mount.sharing == Sharing::locked) {
      m_recorder.waiting(ref(build), mount.cache_dir(), m_ctx.host.since_start_us(build.wait_start_us));
    }
  }
  if (m_profile.private_style() == semantics::PrivateStyle::instance_pool) {
    try_instance(build, mount);
    return;
  }
  if (mount.sharing == Sharing::locked && m_profile.lock_style() == LockStyle::kernel_gate) {
    CacheState& state = m_mounts.state(build.root, mount.lock_file());
    if (state.gate_busy) {
      mount.queued = true;
      build.phase = Phase::waiting_gate;
      state.gate_queue.push_back(&build);
      arm_standby(state);
      notify_owner(state);
    } else {
      state.gate_busy = true;
      submit_kernel_lock(build, state);
    }
    // One timer covers the gate queue and the kernel wait; granted() stops it.
    if (build.lock_deadline_us != 0) build.timer.start(m_scenario.run.lock_timeout_ms);
    return;
  }
  granted(build, mount);  // Buildah shared: a plain bind mount, no coordination
}

void InprocBackend::try_instance(InprocBuild& build, HeldMount& mount) {
  CacheState& state = m_mounts.state(build.root, mount.key());
  bool created = false;
  auto instance = grant_instance(state, mount.sharing, created);
  if (!instance) {
    if (build.lock_deadline_us != 0 && now_us() >= build.lock_deadline_us) {
      lock_timeout(build);
      return;
    }
    // BuildKit: poll again in 100 ms; whichever poller comes first after a release wins.
    mount.queued = true;
    build.phase = Phase::polling;
    build.timer.start(k_poll_ms);
    return;
  }
  if (created) m_recorder.instance_created();
  mount.instance = *instance;
  granted(build, mount);
}

// A step with one locked mount and no hold runs its whole critical section in one hop off
// the loop (KernelLockJob::run): no round trip to the loop between lock, ops and unlock.
bool InprocBackend::one_hop(const InprocBuild& build) const {
  if (!writes_files() || build.mounts.size() != 1 || build.step_mounted || build.next_op != 0) return false;
  const auto& step = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps[build.step];
  return std::none_of(step.ops.begin(), step.ops.end(), [](const model::Operation& op) { return op.kind == model::OpKind::hold; });
}

void InprocBackend::submit_kernel_lock(InprocBuild& build, CacheState& state) {
  state.gate_owner = &build;
  build.phase = Phase::waiting_kernel;
  build.gate_passed = false;
  prepare_kernel_lock(build, state);
  record_writes(build);
  build.lock_job.count_waiter();
  m_waiters->submit(&build.lock_job);
  arm_standby(state);
  notify_owner(state);
}

// A section ahead of queued builds hands the gate on as soon as it holds the lock, so the
// next one blocks in the kernel on the real lock meanwhile (fcntl: the gate is the
// exclusion). Not needed while one is parked: the owner's thread takes it.
void InprocBackend::notify_owner(CacheState& state) {
  if (state.gate_owner == nullptr || !state.standby_builds.empty() || state.gate_queue.empty()) return;
  if (m_scenario.run.lock_kind == model::LockKind::fcntl) return;
  state.gate_owner->lock_job.notify_held.store(true, std::memory_order_release);
}

// The lock job of the build's next mount, and for a one-hop step its whole section.
void InprocBackend::prepare_kernel_lock(InprocBuild& build, CacheState& state) {
  HeldMount& mount = build.mounts[build.next_mount];
  build.lock_job.root = &m_ctx.workspace;
  assign_beneath(build.lock_job.path, build.root, mount.lock_file());
  build.lock_job.kind = m_scenario.run.lock_kind;
  build.lock_job.notify_held.store(false, std::memory_order_relaxed);
  build.lock_job.stop_after_lock.store(build.cancelled, std::memory_order_relaxed);
  build.lock_job.section = nullptr;
  build.lock_job.standby = nullptr;
  build.lock_job.quiet_wait.store(false, std::memory_order_relaxed);
  build.lock_job.kernel_waiters = nullptr;
  build.lock_job.counted.store(false, std::memory_order_relaxed);
  build.lock_job.handed_on.store(false, std::memory_order_relaxed);
  build.lock_job.adopt_notice.store(false, std::memory_order_relaxed);
  build.lock_job.started_next.store(false, std::memory_order_relaxed);
  build.lock_job.queued_behind = false;
  if (one_hop(build)) {
    set_instance_dir(build, mount);
    const auto& kind = m_scenario.kinds[static_cast<std::size_t>(build.kind)];
    const ops::BatchOwner owner{build.id, &kind.name, build.step, &build.root};
    ops::fill_batch(build.batch, m_ctx.workspace, owner, kind.steps[build.step], 0, true, 1,
                    [&mount](std::size_t) -> const std::string& { return mount.instance_dir; }, build.seq);
    build.section = {};
    build.section.batch = &build.batch;
    build.section.holders = &m_holders;
    build.section.instance_dir = &mount.instance_dir;
    build.section.self = {build.id, build.kind, mount.sharing};
    build.lock_job.section = &build.section;
    ++state.section_jobs;  // until its done() or reclaim: its thread touches the state
    build.lock_job.standby = &state.standby;
    build.lock_job.kernel_waiters = &state.kernel_waiters;
  }
}

// A one-hop section's job is queued (or a thread queued it): the files its batch writes are
// recorded as its from now on, so a torn or missing read names it as the polluter. Not
// when it is parked or staged: up to a few hundred builds may wait prepared there.
void InprocBackend::record_writes(const InprocBuild& build) {
  if (build.lock_job.section != nullptr) record_batch_writes(build);
}

// Parks the first queued builds, prepared, in the key's standby chain while a one-hop
// section owns the gate (up to k_standby_depth started ones): the key's waiter threads
// queue them the moment the lock allows.
void InprocBackend::arm_standby(CacheState& state) {
  const InprocBuild* owner = state.gate_owner;
  if (owner == nullptr || owner->lock_job.section == nullptr) return;
  while (!state.gate_queue.empty() && state.standby.started() < k_standby_depth) {
    InprocBuild& next = *state.gate_queue.front();
    if (next.cancelled || !one_hop(next)) return;
    state.gate_queue.pop_front();
    prepare_kernel_lock(next, state);
    m_waiters->reserve(&next.lock_job);
    state.standby_builds.push_back(&next);
    state.standby.park_started(&next.lock_job);
  }
}

// `taken`'s job was queued by a waiter thread (from the standby chain or a successor link)
// or is by the loop: that build owns the gate now. Threads post adopt notices in the order
// they take jobs, so the last one heard names the build that took its place in line last.
void InprocBackend::adopt(CacheState& state, InprocBuild& taken) {
  // Parked in the standby chain until now (usually the oldest: found at the front).
  if (auto it = std::find(state.standby_builds.begin(), state.standby_builds.end(), &taken); it != state.standby_builds.end()) {
    state.standby_builds.erase(it);
  }
  taken.phase = Phase::waiting_kernel;
  taken.gate_passed = false;
  record_writes(taken);
  state.gate_busy = true;  // its job is queued: it will hold the lock
  state.gate_owner = &taken;
  arm_standby(state);
  notify_owner(state);
}

bool InprocBackend::is_standby(const CacheState& state, const InprocBuild& build) {
  return std::find(state.standby_builds.begin(), state.standby_builds.end(), &build) != state.standby_builds.end();
}

// Takes a parked build's job back before a waiter thread does (a timeout or an interrupt);
// false when one already queued it: then its job ends through done().
bool InprocBackend::reclaim_standby(CacheState& state, InprocBuild& build) {
  if (!state.standby.take_back(&build.lock_job)) return false;
  m_waiters->unreserve(&build.lock_job);
  --state.section_jobs;
  std::erase(state.standby_builds, &build);
  arm_standby(state);
  notify_owner(state);
  return true;
}

void InprocBackend::on_lock_held(InprocBuild& build) {
  if (build.phase == Phase::staged) {
    // A waiter thread took this staged build's job as the build before it let go.
    if (build.lock_job.adopt_notice.exchange(false, std::memory_order_relaxed)) adopt_successor(build, build.lock_job.taken_us);
    return;
  }
  CacheState& state = m_mounts.state(build.root, build.mounts[build.next_mount].lock_file());
  if (build.lock_job.adopt_notice.exchange(false, std::memory_order_relaxed)) {
    // A waiter thread took this build's job from the standby chain and queued it: it owns
    // the gate now.
    state.standby.adopted();
    if (is_standby(state, build)) adopt(state, build);
    return;
  }
  // OFD and flock: the next in-process waiter may now block in the kernel on the real lock.
  if (build.gate_passed) return;
  build.gate_passed = true;
  // A waiter thread that took a parked job (this one's or the holder's before it) passed
  // the gate on itself: the loop adopted that build as the owner.
  if (state.gate_owner == &build) pass_gate(state);
}

// The one-hop section is over: the lock was held and let go on the waiter thread; report
// the grant and release at the times it saw, then the operations as any batch.
void InprocBackend::on_section_done(InprocBuild& build) {
  HeldMount& mount = build.mounts[build.next_mount];
  const KernelLockJob::Section& section = build.section;
  build.lock_job.section = nullptr;
  mount.queued = mount.queued || build.lock_job.waited_in_kernel;
  if (build.lock_deadline_us != 0) build.timer.stop();
  build.lock_deadline_us = 0;
  m_recorder.granted(ref(build), mount.cache_dir(), section.acquired_us - build.wait_start_us, mount.queued,
                     m_ctx.host.since_start_us(section.acquired_us));
  if (section.entry.overlapped) m_recorder.mount_overlapped();
  if (const auto& conflict = section.entry.conflict) {
    m_recorder.lock_overlap(ref(build), mount.instance_dir, build.step, std::pair{conflict->build, conflict->kind});
  }
  m_recorder.released(ref(build), mount.cache_dir(), section.released_us - section.acquired_us,
                      m_ctx.host.since_start_us(section.released_us));
  build.step_end_us = section.released_us;  // the step's work is over then, not when the loop heard
  m_mounts.forget_if_idle(build.root, mount.lock_file(), false);
  build.next_mount = build.mounts.size();
  if (!section.ops_ran) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  // Its operations ran (an interrupt may have come after, or before the loop heard of them):
  // they are accounted, and a build whose last step this was has completed.
  on_batch_done(build);
}

// A kernel lock that was never held: its timeout, an interrupt, or the errno, in that order.
void InprocBackend::end_unacquired(InprocBuild& build, int result) {
  if (build.lock_timed_out && !build.cancelled) {
    fail(build, lock_timeout_reason(build));
  } else if (build.cancelled || result == -ECANCELED) {
    finish(build, BuildEnd::interrupted);
  } else {
    fail(build, ops::errno_failure("lock", -result));
  }
}

void InprocBackend::on_kernel_lock(InprocBuild& build, int result) {
  HeldMount& mount = build.mounts[build.next_mount];
  if (build.lock_job.section != nullptr) {
    // Still the gate's owner: no waiter thread handed a parked build on past it.
    CacheState& state = m_mounts.state(build.root, mount.lock_file());
    --state.section_jobs;  // its thread is done with the state: it may be forgotten now
    if (build.successor_build != nullptr) {
      start_successor(build);  // the gate goes to the build staged behind this one
    } else if (!build.gate_passed && state.gate_owner == &build) {
      pass_gate(state);
    }
    build.gate_passed = true;
    if (result >= 0) {
      on_section_done(build);
      return;
    }
    build.lock_job.section = nullptr;
    end_unacquired(build, result);
    return;
  }
  if (result < 0) {
    // Never held: hand the gate on before this build goes.
    pass_gate(m_mounts.state(build.root, mount.lock_file()));
    end_unacquired(build, result);
    return;
  }
  mount.lock_fd = result;
  mount.queued = mount.queued || build.lock_job.waited_in_kernel;
  if (m_scenario.run.lock_kind == model::LockKind::fcntl) {
    // fcntl locks belong to the process: two builds in this process never exclude each
    // other in the kernel, so the gate (Buildah's per-process mutex) is what excludes them.
    mount.holds_gate = true;
  } else {
    // OFD and flock locks exclude per open file: the next in-process waiter may now block
    // in the kernel on the real lock (at most one waiter thread per key).
    pass_gate(m_mounts.state(build.root, mount.lock_file()));
  }
  granted(build, mount);
}

void InprocBackend::pass_gate(CacheState& state) {
  state.gate_owner = nullptr;
  // The owner let go without taking a parked job (it held the lock before the job was
  // parked, or never held it): queue the oldest from here, unless a thread took one whose
  // adopt notice is on the way (that build hands the next on).
  if (KernelLockJob* job = state.standby.take_unless_pending(); job != nullptr) {
    InprocBuild& next = job->build();
    if (next.phase == Phase::staged) started_in_chain(next);  // its start notice is on the way
    adopt(state, next);
    queue_taken(*job);
    return;
  }
  // Some not adopted yet: threads took them, and their adopt notices (on the way) make the
  // last one the owner.
  if (!state.standby_builds.empty()) return;
  if (state.gate_queue.empty()) {
    state.gate_busy = false;
    return;
  }
  InprocBuild* next = state.gate_queue.front();
  state.gate_queue.pop_front();
  submit_kernel_lock(*next, state);
}

void InprocBackend::granted(InprocBuild& build, HeldMount& mount) {
  if (build.lock_deadline_us != 0) build.timer.stop();
  build.lock_deadline_us = 0;
  mount.granted = true;
  mount.granted_us = now_us();
  if (mount.sharing != Sharing::shared) m_lock_holder[holder_key(build, mount)] = build.id;
  set_instance_dir(build, mount);
  if (m_profile.private_style() == semantics::PrivateStyle::instance_pool) {
    mount.instance_dir += "/" + std::to_string(mount.instance);
  }
  if (mount.sharing == Sharing::locked) {
    m_recorder.granted(ref(build), mount.cache_dir(), mount.granted_us - build.wait_start_us, mount.queued,
                       m_ctx.host.since_start_us(mount.granted_us));
  }
  // One-batch builds enter the registry on their lane, around the batch (BatchJob::run).
  if (!lane_builds()) report_entry(build, mount, m_holders.enter(mount.instance_dir, {build.id, build.kind, mount.sharing}));
  ++build.next_mount;
  acquire_next(build);
}

// What entering the holder registry for `mount` found: an overlap, or a lock_overlap.
void InprocBackend::report_entry(const InprocBuild& build, const HeldMount& mount, const HolderRegistry::Entry& entry) {
  if (entry.overlapped) m_recorder.mount_overlapped();
  if (const auto& conflict = entry.conflict) {
    m_recorder.lock_overlap(ref(build), mount.instance_dir, build.step, std::pair{conflict->build, conflict->kind});
  }
}

// ---- Operations --------------------------------------------------------------------------

void InprocBackend::run_ops(InprocBuild& build) {
  const auto& step = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps[build.step];
  if (build.cancelled && !(build.step_mounted && build.next_op >= step.ops.size())) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  if (!build.step_mounted) {
    queue_batch(build);  // also creates the mount directories
    return;
  }
  if (build.next_op >= step.ops.size()) {
    end_step(build);
    return;
  }
  const auto& op = step.ops[build.next_op];
  if (op.kind == model::OpKind::hold) {
    build.phase = Phase::holding;
    build.timer.start(op.hold_ms + build.rng.upto(op.jitter_ms));
    return;
  }
  queue_batch(build);
}

void InprocBackend::queue_batch(InprocBuild& build) {
  fill_batch(build);
  record_batch_writes(build);
  build.phase = Phase::running_ops;
  submit_batch(build);
}

// The build's next batch: its operations up to the next hold. A one-batch build's job also
// takes its mounts into the holder registry on the lane, and ends the build there.
void InprocBackend::fill_batch(InprocBuild& build) {
  const auto& kind = m_scenario.kinds[static_cast<std::size_t>(build.kind)];
  const ops::BatchOwner owner{build.id, &kind.name, build.step, &build.root};
  ops::fill_batch(build.batch, m_ctx.workspace, owner, kind.steps[build.step], build.next_op, !build.step_mounted,
                  build.mounts.size(), [&build](std::size_t i) -> const std::string& { return build.mounts[i].instance_dir; },
                  build.seq);
  build.batch.cancel = &build.cancel_ops;
  if (lane_builds()) {
    build.batch_job.ends_build = true;
    build.batch_job.holders = &m_holders;
    build.batch_job.entries.assign(build.mounts.size(), {});
  }
}

// The files the batch writes are the build's from now on: a torn or missing read names it
// as the polluter.
void InprocBackend::record_batch_writes(const InprocBuild& build) {
  for (const auto& item : build.batch.items) {
    if (model::writes_token(item.op->kind)) m_recorder.will_write(item.path, ref(build));
  }
}

void BatchJob::run() {
  const auto& mounts = m_build.mounts;
  if (holders != nullptr) {
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      entries[i] = holders->enter(mounts[i].instance_dir, {m_build.id, m_build.kind, mounts[i].sharing});
    }
  }
  ops::execute(m_build.batch);
  ended_us = now_us();
  if (holders != nullptr) {
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) holders->leave(it->instance_dir, m_build.id);
  }
}

void BatchJob::done() { m_build.backend.on_batch_done(m_build); }

void BatchJob::started() { m_build.backend.on_lane_started(m_build); }

bool BatchJob::may_start_next() const { return !m_build.cancel_ops.load(std::memory_order_relaxed); }

void InprocBackend::submit_batch(InprocBuild& build) { m_lanes->submit(&build.batch_job); }

void FakeBackend::submit_batch(InprocBuild& build) {
  // Every operation succeeds on the next loop turn (on_timer, running_ops).
  build.batch.outcomes.assign(build.batch.items.size(), ops::OpOutcome{});
  build.timer.start(0);
}

void InprocBackend::on_batch_done(InprocBuild& build) {
  ops::OpBatch& batch = build.batch;
  build.step_mounted = true;
  if (build.batch_job.holders != nullptr) {
    for (std::size_t i = 0; i < build.mounts.size(); ++i) report_entry(build, build.mounts[i], build.batch_job.entries[i]);
  }
  if (batch.ensure_error != 0) {
    m_recorder.io_error();
    fail(build, ops::errno_failure("mount", -batch.ensure_error));
    return;
  }
  for (std::size_t i = 0; i < batch.items.size(); ++i) {
    const ops::OpOutcome& outcome = batch.outcomes[i];
    if (outcome.error == -ECANCELED && build.cancelled) {
      finish(build, BuildEnd::interrupted);  // stopped mid-batch by interrupt()
      return;
    }
    account_outcome(build, batch.items[i], outcome);
    if (outcome.lock_fd >= 0) build.workload_locks.push_back(outcome.lock_fd);
    if (outcome.raced) m_ctx.collector.add(metrics::Counter::races_rename);
    if (outcome.busy) {
      fail(build, model::failure_reason(model::FailureCategory::lock_busy, "could not get lock " + batch.items[i].op->file));
      return;
    }
    if (outcome.error != 0) {
      m_recorder.io_error();
      fail(build, ops::errno_failure(model::to_string(batch.items[i].op->kind), -outcome.error));
      return;
    }
  }
  build.next_op += batch.items.size();
  // A step whose last batch ran on a lane and that holds no lock ended when that batch did,
  // not when the loop got round to hearing it. A locked step ends when its lock is let go
  // (on the loop, or its one-hop section's time).
  const auto& step = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps[build.step];
  const bool locked = std::any_of(build.mounts.begin(), build.mounts.end(),
                                  [](const HeldMount& mount) { return mount.sharing == Sharing::locked; });
  if (build.batch_job.ended_us != 0 && build.next_op >= step.ops.size() && !locked) build.step_end_us = build.batch_job.ended_us;
  build.batch_job.ended_us = 0;
  run_ops(build);
}

void InprocBackend::account_outcome(InprocBuild& build, const ops::OpItem& item, const ops::OpOutcome& outcome) {
  if (outcome.error != 0) return;
  m_recorder.op_done(outcome.bytes_written, outcome.bytes_read);
  if (item.op->kind == model::OpKind::remove) {
    m_recorder.removed(item.path, ref(build));
    return;
  }
  if (!outcome.inspected || outcome.inspection.verdict == oracle::Verdict::ok) return;
  metrics::CollisionKind kind = metrics::CollisionKind::foreign;
  switch (outcome.inspection.verdict) {
    case oracle::Verdict::foreign: kind = metrics::CollisionKind::foreign; break;
    case oracle::Verdict::torn: kind = metrics::CollisionKind::torn; break;
    case oracle::Verdict::missing: kind = metrics::CollisionKind::missing; break;
    case oracle::Verdict::ok: return;
  }
  std::optional<std::pair<std::uint64_t, std::string_view>> polluter;
  if (const auto& writer = outcome.inspection.writer) polluter = std::pair{writer->build, std::string_view(writer->kind)};
  m_recorder.collision(ref(build), kind, item.path, build.step, polluter);
}

void InprocBackend::release_mounts(InprocBuild& build) {
  std::uint64_t now = now_us();
  for (int fd : build.workload_locks) ::close(fd);  // closing drops the OFD lock
  build.workload_locks.clear();
  for (auto it = build.mounts.rbegin(); it != build.mounts.rend(); ++it) {
    HeldMount& mount = *it;
    if (!mount.granted) continue;
    mount.granted = false;
    if (build.batch_job.holders == nullptr) m_holders.leave(mount.instance_dir, build.id);  // else left on its lane
    if (auto holder = m_lock_holder.find(holder_key(build, mount)); holder != m_lock_holder.end() && holder->second == build.id) {
      m_lock_holder.erase(holder);
    }
    if (mount.sharing == Sharing::locked) {
      m_recorder.released(ref(build), mount.cache_dir(), now - mount.granted_us, m_ctx.host.since_start_us(now));
    }
    if (m_profile.private_style() == semantics::PrivateStyle::instance_pool) {
      release_instance(m_mounts.state(build.root, mount.key()), mount.instance, mount.sharing);
      m_mounts.forget_if_idle(build.root, mount.key(), true);
      continue;
    }
    if (mount.lock_fd >= 0) {
      // Unlocking never waits, so it is done here rather than on a worker.
      (void)lock::release(mount.lock_fd, m_scenario.run.lock_kind);
      ::close(mount.lock_fd);
      mount.lock_fd = -1;
      if (mount.holds_gate) pass_gate(m_mounts.state(build.root, mount.lock_file()));
      mount.holds_gate = false;
      m_mounts.forget_if_idle(build.root, mount.lock_file(), false);
    }
  }
}

void InprocBackend::end_step(InprocBuild& build) {
  release_mounts(build);
  const std::uint64_t ended = build.step_end_us != 0 ? build.step_end_us : now_us();
  build.step_end_us = 0;
  build.work_end_us = ended;
  m_recorder.step_done(ended - build.step_start_us);
  const std::uint32_t gap_ms = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps[build.step].gap_ms;
  ++build.step;
  const bool last = build.step >= m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps.size();
  if (build.cancelled) {
    // Interrupted: a build with steps left ends here; one whose last step is done completed.
    if (last) {
      finish(build, BuildEnd::completed);
    } else {
      finish(build, BuildEnd::interrupted);
    }
    return;
  }
  if (gap_ms > 0) {
    build.phase = Phase::gap;
    build.timer.start(gap_ms);
    return;
  }
  begin_step(build);
}

void InprocBackend::on_timer(InprocBuild& build) {
  switch (build.phase) {
    case Phase::holding:
      ++build.next_op;
      m_recorder.op_done(0, 0);
      run_ops(build);
      break;
    case Phase::gap:
      build.work_end_us = 0;  // a gap after the last step is part of the build
      begin_step(build);
      break;
    case Phase::polling: acquire_next(build); break;
    case Phase::waiting_gate:
    case Phase::waiting_kernel: lock_timeout(build); break;
    case Phase::running_ops: on_batch_done(build); break;  // fake backend
    case Phase::acquiring:
    case Phase::staged: break;
  }
}

// ---- Lock timeouts and deadlocks ---------------------------------------------------------

std::string InprocBackend::holder_key(const InprocBuild& build, const HeldMount& mount) const {
  return build.root + "|" + mount.key();
}

void InprocBackend::lock_timeout(InprocBuild& build) {
  build.lock_timed_out = true;
  switch (build.phase) {
    case Phase::waiting_gate: {
      CacheState& state = m_mounts.state(build.root, build.mounts[build.next_mount].lock_file());
      if (is_standby(state, build) && !reclaim_standby(state, build)) {
        m_waiters->cancel(&build.lock_job);  // already queued by the owner: on_kernel_lock() fails it
        break;
      }
      std::erase(state.gate_queue, &build);
      fail(build, lock_timeout_reason(build));
      break;
    }
    case Phase::waiting_kernel: m_waiters->cancel(&build.lock_job); break;  // on_kernel_lock() fails it
    default: fail(build, lock_timeout_reason(build)); break;                // polling
  }
}

// A deadlock when the wait graph leads back to this build (the whole cycle is named), else a
// plain timeout.
std::string InprocBackend::lock_timeout_reason(const InprocBuild& build) const {
  const std::string timeout = ops::lock_timeout_text(m_scenario.run.lock_timeout_ms, build.mounts[build.next_mount].label());
  auto edge_of = [&](const InprocBuild* waiter) -> std::optional<WaitEdge<const InprocBuild*>> {
    const bool waits = waiter == &build || waiter->phase == Phase::waiting_gate || waiter->phase == Phase::waiting_kernel ||
                       waiter->phase == Phase::polling;
    if (!waits || waiter->next_mount >= waiter->mounts.size()) return std::nullopt;
    const HeldMount& wanted = waiter->mounts[waiter->next_mount];
    auto holder = m_lock_holder.find(holder_key(*waiter, wanted));
    if (holder == m_lock_holder.end()) return std::nullopt;
    auto next = m_builds.find(holder->second);
    if (next == m_builds.end()) return std::nullopt;
    return WaitEdge<const InprocBuild*>{wanted.label(), next->second.get()};
  };
  return wait_failure(&build, m_builds.size(), edge_of, timeout);
}

// ---- Ending builds -----------------------------------------------------------------------

void InprocBackend::fail(InprocBuild& build, std::string reason) { finish(build, BuildEnd::failed, std::move(reason)); }

void InprocBackend::finish(InprocBuild& build, BuildEnd end, std::string failure) {
  start_successor(build);  // nothing may stay parked behind a build that ends
  start_in_place(build);    // ... nor may its slot stay empty while a build is staged
  build.timer.stop();
  release_mounts(build);
  const std::uint64_t id = build.id;
  std::uint64_t ended_us = end == BuildEnd::completed ? build.work_end_us : 0;
  // A one-batch build that failed or was stopped in its batch ended with it: its lane may
  // have started the next build then.
  if (end != BuildEnd::completed && build.batch_job.holders != nullptr) ended_us = build.batch_job.ended_us;
  keep_parts(build);
  // Destroys the build (nothing of it is outstanding now) and keeps its memory for the next
  // (make_build): a build is ~740 bytes, and the few hundred the loop frees at a time
  // otherwise go back to malloc's bins, to be coalesced and split again.
  InprocBuild* ended = m_builds.extract(id).mapped().release();
  std::destroy_at(ended);
  if (m_build_storage.size() < k_spare_parts) {
    poison_build_storage(ended);
    m_build_storage.push_back(ended);
  } else {
    ::operator delete(ended);
  }
  m_ctx.host.build_ended(id, {end, std::move(failure), false, ended_us});
}

// A staged build no thread has started yet is taken back and ends as interrupted (the
// runner does not count it); false when a thread already took it: it runs.
bool InprocBackend::take_back_staged(InprocBuild& build) {
  if (build.staged_on_lane) {
    if (!m_lanes->take_back(&build.batch_job)) return false;  // a lane started it: it runs
    finish(build, BuildEnd::interrupted);
    return true;
  }
  CacheState& state = m_mounts.state(build.root, build.mounts[build.next_mount].lock_file());
  if (build.predecessor != nullptr) {
    InprocBuild& before = *build.predecessor;
    if (before.lock_job.successor.exchange(nullptr, std::memory_order_acq_rel) == nullptr) return false;
    before.successor_build = nullptr;
    build.predecessor = nullptr;
  } else if (!state.standby.take_back(&build.lock_job, true)) {
    return false;  // staged in the standby chain, and a thread started it already
  }
  m_waiters->unreserve(&build.lock_job);  // never started: taken back
  --state.section_jobs;
  finish(build, BuildEnd::interrupted);
  return true;
}

// The duration is over: nothing staged starts any more. A chain is taken back from its tail
// (highest id first), so no build taken back is started as the one before it ends.
void InprocBackend::unstage() {
  std::vector<std::pair<std::uint64_t, InprocBuild*>> staged;
  for (auto& [id, build] : m_builds) {
    if (build->phase == Phase::staged) staged.emplace_back(id, build.get());
  }
  std::sort(staged.begin(), staged.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (auto& [id, build] : staged) (void)take_back_staged(*build);
}

void InprocBackend::interrupt(std::uint64_t id, int signum) {
  auto it = m_builds.find(id);
  if (it == m_builds.end()) return;
  InprocBuild& build = *it->second;
  build.cancelled = true;
  switch (build.phase) {
    case Phase::holding:
    case Phase::gap:
    case Phase::polling: finish(build, BuildEnd::interrupted); break;
    case Phase::waiting_gate: {
      CacheState& state = m_mounts.state(build.root, build.mounts[build.next_mount].lock_file());
      if (is_standby(state, build) && !reclaim_standby(state, build)) {
        build.lock_job.stop_after_lock.store(true, std::memory_order_release);  // already queued
        m_waiters->cancel(&build.lock_job);
        break;
      }
      std::erase(state.gate_queue, &build);
      finish(build, BuildEnd::interrupted);
      break;
    }
    case Phase::waiting_kernel:
      build.lock_job.stop_after_lock.store(true, std::memory_order_release);  // one hop: skip the ops
      m_waiters->cancel(&build.lock_job);
      break;
    case Phase::staged: {
      if (build.staged_on_lane) {
        // A lane started it, the loop has not heard yet: its batch stops, done() ends it.
        if (!take_back_staged(build)) build.cancel_ops.store(true, std::memory_order_relaxed);
        break;
      }
      if (build.predecessor == nullptr) {
        // Staged in its cache's standby chain: taken back unless a thread started it, in
        // which case it ends once the loop hears of that start (started_in_chain).
        if (!take_back_staged(build)) build.lock_job.stop_after_lock.store(true, std::memory_order_release);
        break;
      }
      // The builds staged behind it first, so none of them is started as this one ends.
      if (build.successor_build != nullptr) interrupt(build.successor_build->id, signum);
      if (take_back_staged(build)) break;
      // A thread took it as the build before let go: its adopt notice, then its result, follow.
      build.lock_job.stop_after_lock.store(true, std::memory_order_release);
      m_waiters->cancel(&build.lock_job);
      break;
    }
    case Phase::acquiring:
    case Phase::running_ops:
      build.cancel_ops.store(true, std::memory_order_relaxed);  // the batch stops at its next chunk
      break;  // their callback sees `cancelled` and ends them
  }
}

}  // namespace cachestress::backend
