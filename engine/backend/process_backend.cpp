#include "engine/backend/process_backend.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>

#include "engine/core/loop.hpp"
#include "engine/core/posix_launch.hpp"
#include "engine/model/failure.hpp"
#include "engine/backend/wait_graph.hpp"
#include "engine/core/error.hpp"
#include "engine/ops/failure_text.hpp"
#include "engine/worker/plan.hpp"
#include "engine/worker/worker.hpp"

namespace cachestress::backend {
namespace {

namespace ev = worker::protocol;

// After a forwarded SIGINT/SIGTERM, how long a worker may take to die before SIGKILL.
constexpr std::uint64_t k_interrupt_grace_ms = 2000;
// A timed-out waiter whose lock is held by a worker --lock-timeout just killed looks again
// this much later: the kernel is handing the lock on, and one victim per cycle is enough.
constexpr std::uint64_t k_victim_grace_ms = 50;

using core::now_us;

// --lock-timeout gave up on a build (and killed it) as the kernel granted it the lock: it no
// longer waits, and a report listing it as holding that lock must not say it waits for it.
// No wait time in the text: reasons group by their text, and this one must read alike each time.
std::string lock_timeout_raced_text(std::uint32_t timeout_ms, std::string_view label) {
  return model::failure_reason(model::FailureCategory::lock_timeout, "got " + std::string(label) + " just as --lock-timeout (" +
                                                                         std::to_string(timeout_ms) + " ms) killed it");
}

// The last non-empty line of a worker's stderr, for a failure reason.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto nl = text.rfind('\n');
  if (nl != std::string_view::npos) text.remove_prefix(nl + 1);
  return std::string(text.substr(0, 200));
}

}  // namespace

struct ProcessBackend::Worker {
  Worker(core::Loop& loop, ProcessBackend& owner, const BuildTicket& ticket)
      : id(ticket.id), kind(ticket.kind), root(ticket.root), rng(ticket.seed), timer(loop, [this, &owner] { owner.on_timer(*this); }) {}

  std::uint64_t id;
  int kind;
  std::string root;  // the root isolation gives it, relative to the workspace
  ops::Rng rng;
  bool cancelled = false;
  std::unique_ptr<ProcessBuild> process;
  std::uint64_t spawned_us = 0;
  bool done = false;          // it sent "done"
  bool fault_killed = false;  // [faults] kill_lock_holder chose it
  std::string failure;        // it sent "failed": the reason
  std::string worker_root;    // the cache root it took from TMPDIR ("hello"), relative to the workspace
  // The locked mount it is blocked on, from its "waiting" event until "granted": the wait
  // graph that --lock-timeout and deadlock naming walk.
  struct Wait {
    std::string lock;   // lock_name: root and key, one per kernel lock
    std::string label;  // the mount as reports name it ("id=cache-a")
  };
  std::optional<Wait> waiting;
  std::string lock_failure;  // --lock-timeout gave up on it (SIGKILL sent): the reason it is failed with
  // Locked mounts held now: the mount's index, its lock_name, and when the worker held it
  // (its own clock: a holder that dies still has its hold counted, up to the death).
  struct HeldLock {
    std::uint32_t mount = 0;
    std::string name;
    std::uint64_t granted_at_us = 0;
  };
  std::vector<HeldLock> locks;
  // Locks released while it still waited (it is failing): lock name, and the label reports use.
  struct LetGo {
    std::string lock, label;
  };
  std::vector<LetGo> let_go;
  std::uint32_t lock_step = 0;  // the step of its latest grant (locks are all of it)
  // --lock-timeout while waiting; after an interrupt, the grace before SIGKILL.
  core::LazyTimer timer;
};

ProcessBackend::ProcessBackend(Context& context)
    : m_ctx(context),
      m_scenario(context.scenario),
      m_recorder(context.recorder),
      m_lock_order(context.scenario),
      m_worker_exe(own_executable()) {}

ProcessBackend::~ProcessBackend() = default;

void ProcessBackend::prepare(std::function<void(std::string error)> ready) {
  if (!core::pidfd_launch_supported()) {
    spdlog::debug("no pidfds here: each --backend process build is spawned as `cachestress worker`");
    ready({});
    return;
  }
  m_server = std::make_unique<WorkerServer>(m_ctx.loop, m_worker_exe, m_ctx.workspace.fd());
  m_server->start(std::move(ready));
}

void ProcessBackend::interrupt_prepare(int) {
  if (m_server) m_server->stop();  // its ready wait ends; nothing is admitted
}

void ProcessBackend::run_ended() {
  if (m_fault_timer) m_fault_timer->stop();
  if (m_server) m_server->stop();  // every build has ended: the server exits
}

BuildRef ProcessBackend::ref(const Worker& build) const { return {build.id, build.kind, build.worker_root}; }

void ProcessBackend::start_build(const BuildTicket& ticket) {
  auto owned = std::make_unique<Worker>(m_ctx.loop, *this, ticket);
  Worker& build = *owned;
  m_builds.emplace(ticket.id, std::move(owned));
  ProcessBuild::Spec spec;
  // The plan names the root isolation meant; the worker uses its TMPDIR, as Buildah does.
  const worker::Plan made = worker::make_plan(m_scenario, static_cast<std::uint32_t>(build.kind), build.id, build.rng.next(),
                                              m_ctx.workspace_path, m_ctx.host.isolation_root(build.id));
  auto steps = m_plan_steps.find(build.kind);  // the kind's steps, encoded once per run
  if (steps == m_plan_steps.end()) steps = m_plan_steps.emplace(build.kind, worker::plan_steps(made)).first;
  std::string plan = worker::encode_plan(made, steps->second);
  std::string tmpdir = m_ctx.workspace_path + "/" + build.root;
  if (m_server) {
    // Forked by the server: the plan and TMPDIR travel in the request, the rest of the
    // environment is the server's (ours).
    spec.launch = [server = m_server.get(), plan = std::move(plan), tmpdir = std::move(tmpdir)](const core::LaunchPipes& pipes,
                                                                                                core::Launched& out) {
      return server->launch(tmpdir, plan, pipes, out);
    };
  } else {
    // Spawned: the workspace travels as its fd 4, as the fork server hands it down, so a
    // parent renamed under --workdir cannot redirect the worker (TMPDIR only names a root).
    spec.exe = m_worker_exe;
    spec.args = {"worker", "--workspace-fd", std::to_string(worker::k_workspace_fd)};
    spec.workspace_fd = m_ctx.workspace.fd();
    spec.plan = std::move(plan);
    spec.env = environment_with_tmpdir(tmpdir);
  }
  spec.timeout_ms = m_scenario.run.build_timeout_ms;
  build.process = std::make_unique<ProcessBuild>(
      m_ctx.loop.raw(), [this, &build](const ev::Event& event, std::uint64_t at_us) { on_event(build, event, at_us); },
      [this, &build](std::int64_t status, int signum) { on_exit(build, status, signum); });
  build.spawned_us = now_us();
  if (int rc = build.process->start(std::move(spec)); rc != 0) {
    // No callback will come: it ends here (the runner takes an end from inside start_build).
    if (ops::out_of_resources(-rc, true)) {
      finish(build, BuildEnd::failed, ops::resource_failure("cannot start worker", -rc));
      return;
    }
    if (m_server && !m_server->broken().empty()) {
      // No build can start any more: one stop says so (exit 3), not thousands of failed builds.
      const std::string why = m_server->broken();
      finish(build, BuildEnd::interrupted, {});
      m_ctx.host.stop_run(why);
      return;
    }
    finish(build, BuildEnd::failed, model::failure_reason(model::FailureCategory::other, "cannot start worker: " + uv_error_text(rc)));
  }
}

// How reports name the mount a worker's event names ("?" when its indices are out of range).
std::string ProcessBackend::mount_label(const Worker& build, std::uint32_t step, std::uint32_t mount) const {
  const auto& steps = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps;
  if (step >= steps.size() || mount >= steps[step].mounts.size()) return "?";
  return steps[step].mounts[mount].label();
}

// The cache's directory under the root, as the in-process backend keys lock_events.
std::string ProcessBackend::cache_dir(const Worker& build, std::uint32_t step, std::uint32_t mount) const {
  const auto* layout = m_ctx.layouts.find(static_cast<std::size_t>(build.kind), step, mount);
  return layout != nullptr ? layout->cache_dir : "?";
}

// The root the worker really uses (from its hello: under --env-policy drop every worker
// shares the server's), so two builds contending on one kernel lock name it alike.
std::string ProcessBackend::lock_name(const Worker& build, std::uint32_t step, std::uint32_t mount) const {
  return (build.worker_root.empty() ? build.root : build.worker_root) + " " + mount_label(build, step, mount);
}

void ProcessBackend::waiting(Worker& build, const ev::Waiting& w, std::uint64_t at_us) {
  build.waiting = Worker::Wait{lock_name(build, w.step, w.mount), mount_label(build, w.step, w.mount)};
  m_recorder.waiting(ref(build), cache_dir(build, w.step, w.mount), m_ctx.host.since_start_us(at_us));
  if (m_scenario.run.lock_timeout_ms > 0 && !build.cancelled) build.timer.start(m_scenario.run.lock_timeout_ms);
}

// The worker no longer waits (granted, or it gave up by itself): no longer an edge of the
// wait graph, and its --lock-timeout is off (an interrupt's grace timer stays).
void ProcessBackend::end_wait(Worker& build) {
  if (!build.waiting) return;
  build.waiting.reset();
  if (!build.cancelled) build.timer.stop();
}

void ProcessBackend::on_timer(Worker& build) {
  if (build.waiting && !build.cancelled) {
    lock_timeout(build);  // --lock-timeout, started by its "waiting" event
  } else {
    build.process->kill(SIGKILL);  // it outlived the interrupt's grace
  }
}

// --lock-timeout: the worker waits in the kernel, so the parent gives up for it (SIGKILL;
// the kernel drops what it held) and fails it with the reason.
void ProcessBackend::lock_timeout(Worker& build) {
  if (!build.process->running() || !build.lock_failure.empty()) return;
  if (waits_on_dying_worker(build)) {
    build.timer.start(k_victim_grace_ms);
    return;
  }
  build.lock_failure = lock_reason(build, ops::lock_timeout_text(m_scenario.run.lock_timeout_ms, build.waiting->label));
  build.process->kill(SIGKILL);
}

// One edge of the workers' wait graph: the build in flight holding the lock `waiter` waits
// for (from its "waiting" event and the grants still held), or nullptr.
const ProcessBackend::Worker* ProcessBackend::blocking(const Worker& waiter) const {
  if (!waiter.waiting) return nullptr;
  auto holder = m_last_grant.find(waiter.waiting->lock);
  if (holder == m_last_grant.end()) return nullptr;
  auto in_flight = m_builds.find(holder->second.build);
  return in_flight == m_builds.end() ? nullptr : in_flight->second.get();
}

// Whether the chain of holders this build waits behind reaches a worker --lock-timeout has
// already killed (both ends of a cycle time out in the same loop turn; the first is enough).
bool ProcessBackend::waits_on_dying_worker(const Worker& build) const {
  const Worker* current = &build;
  for (std::size_t hops = 0; hops <= m_builds.size(); ++hops) {
    const Worker* holder = blocking(*current);
    if (holder == nullptr || holder == &build) return false;
    if (!holder->lock_failure.empty()) return true;
    current = holder;
  }
  return false;
}

// The same walk as the in-process backend's, over the workers' wait graph.
std::string ProcessBackend::lock_reason(const Worker& build, std::string fallback) const {
  return wait_failure(&build, m_builds.size(), wait_edges(), std::move(fallback));
}

std::function<std::optional<WaitEdge<const ProcessBackend::Worker*>>(const ProcessBackend::Worker*)> ProcessBackend::wait_edges()
    const {
  return [this](const Worker* waiter) -> std::optional<WaitEdge<const Worker*>> {
    const Worker* holder = blocking(*waiter);
    if (holder == nullptr) return std::nullopt;
    return WaitEdge<const Worker*>{waiter->waiting->label, holder};
  };
}

// The kernel refused a wait that closes a cycle (fcntl's EDEADLK) but cannot say which.
// The live wait graph names it when it already holds every edge (its own locks went just
// before the "failed" event: an edge that ends at one of them closes the cycle here); else
// the scenario's lock order does; else the worker's own words stand.
std::string ProcessBackend::deadlock_reason(const Worker& build, const std::string& kernel_reason) const {
  if (!build.waiting) return kernel_reason;
  auto edges = wait_edges();
  auto closing = [&](const Worker* waiter) -> std::optional<WaitEdge<const Worker*>> {
    if (auto edge = edges(waiter)) return edge;
    if (waiter != &build && waiter->waiting && std::ranges::any_of(build.let_go, [&](const auto& gone) { return gone.lock == waiter->waiting->lock; })) {
      return WaitEdge<const Worker*>{waiter->waiting->label, &build};
    }
    return std::nullopt;
  };
  if (auto cycle = cycle_through(&build, m_builds.size(), closing)) return ops::deadlock_cycle_text(std::move(*cycle));
  std::vector<std::string> held;
  for (const auto& gone : build.let_go) held.push_back(gone.label);
  if (auto cycle = m_lock_order.cycle(build.waiting->label, held)) {
    return ops::deadlock_cycle_text(std::move(*cycle));
  }
  return kernel_reason;
}

void ProcessBackend::granted(Worker& build, const ev::Granted& g, std::uint64_t at_us) {
  if (g.created) m_recorder.instance_created();
  if (g.sharing != model::Sharing::locked) return;
  // The HTML timeline's sample: an uncontended grant waited wait_us and said no "waiting".
  const std::uint64_t now = m_ctx.host.since_start_us(at_us);  // when the worker held it
  const std::string dir = cache_dir(build, g.step, g.mount);
  if (!build.waiting) m_recorder.waiting(ref(build), dir, now - std::min(now, g.wait_us));
  end_wait(build);
  if (!build.lock_failure.empty()) {
    // --lock-timeout's SIGKILL is on its way, but the grant won the race: it dies holding the
    // lock (a holder death), so its reason says it got it rather than that it still waited.
    build.lock_failure = lock_timeout_raced_text(m_scenario.run.lock_timeout_ms, mount_label(build, g.step, g.mount));
  }
  m_recorder.granted(ref(build), dir, g.wait_us, g.waited, now);
  build.lock_step = g.step;
  std::string name = lock_name(build, g.step, g.mount);
  // A holder that died on this lock is followed by whoever gets it next: this build.
  if (auto* death = m_ctx.collector.pending_holder_death(name, build.id)) {
    death->next_build = build.id;
    death->next_kind = build.kind;
    death->next_wait_us = g.wait_us;
  }
  m_last_grant[name] = {build.id, build.kind, g.wait_us};
  build.locks.push_back({g.mount, std::move(name), at_us});
  if (const auto delay = m_scenario.faults.kill_lock_holder_ms; delay && !m_fault_armed && !m_ctx.host.stopping()) {
    // [faults] kill_lock_holder: this build is the one; it dies mid-step unless it has let go.
    m_fault_armed = true;
    m_fault_build = build.id;
    if (!m_fault_timer) m_fault_timer = std::make_unique<core::Timer>(m_ctx.loop, [this] { fire_kill_lock_holder(); });
    m_fault_timer->start(*delay);
  }
}

void ProcessBackend::released(Worker& build, const ev::Released& e, std::uint64_t at_us) {
  if (e.sharing == model::Sharing::locked) {
    m_recorder.released(ref(build), cache_dir(build, e.step, e.mount), e.hold_us, m_ctx.host.since_start_us(at_us));
  }
  std::erase_if(build.locks, [&](const auto& held) {
    if (held.mount != e.mount) return false;
    if (build.waiting) {
      build.let_go.push_back({held.name, mount_label(build, e.step, e.mount)});  // see deadlock_reason
    }
    if (auto it = m_last_grant.find(held.name); it != m_last_grant.end() && it->second.build == build.id) {
      m_last_grant.erase(it);
    }
    return true;
  });
}

void ProcessBackend::fire_kill_lock_holder() {
  auto it = m_builds.find(m_fault_build);
  if (it == m_builds.end() || it->second->locks.empty() || !it->second->process || !it->second->process->running()) {
    m_fault_armed = false;  // it released in time (or ended): the next locked grant is chosen
    return;
  }
  it->second->fault_killed = true;
  m_ctx.collector.fault_killed(it->first);
  it->second->process->kill(SIGKILL);
}

// Each protocol event is one Recorder call (or a piece of the wait graph).
void ProcessBackend::on_event(Worker& build, const ev::Event& event, std::uint64_t worker_at_us) {
  // The worker's clock is ours on one host; a stamp outside [spawn, now] (a confused or
  // hostile worker) is clamped, so times stay ordered and within the build's life.
  const std::uint64_t at_us = std::clamp(worker_at_us, build.spawned_us, now_us());
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ev::Hello>) {
          // Spawn to the worker's hello on its own clock: fork, exec, loading, reading the plan.
          m_ctx.collector.record(metrics::Hist::worker_start_us, at_us - build.spawned_us);
          build.worker_root = e.root;
          if (e.root != build.root) spdlog::warn("build {}: worker uses cache root {}, expected {}", build.id, e.root, build.root);
        } else if constexpr (std::is_same_v<T, ev::Waiting>) {
          waiting(build, e, at_us);
        } else if constexpr (std::is_same_v<T, ev::Granted>) {
          granted(build, e, at_us);
        } else if constexpr (std::is_same_v<T, ev::Released>) {
          released(build, e, at_us);
        } else if constexpr (std::is_same_v<T, ev::Op>) {
          if (model::writes_token(e.kind)) {
            m_recorder.op_done(e.bytes, 0);
            m_recorder.will_write(e.file, ref(build));
          } else if (e.kind == model::OpKind::remove) {
            m_recorder.op_done(0, 0);
            m_recorder.removed(e.file, ref(build));
          } else {
            m_recorder.op_done(0, e.bytes);
          }
        } else if constexpr (std::is_same_v<T, ev::Collision>) {
          const auto kind = e.kind == ev::CollisionKind::foreign ? metrics::CollisionKind::foreign
                            : e.kind == ev::CollisionKind::torn  ? metrics::CollisionKind::torn
                                                                 : metrics::CollisionKind::missing;
          std::optional<std::pair<std::uint64_t, std::string_view>> polluter;
          if (e.polluter_build && e.polluter_kind) polluter = std::pair{*e.polluter_build, std::string_view(*e.polluter_kind)};
          m_recorder.collision(ref(build), kind, e.file, e.step, polluter);
        } else if constexpr (std::is_same_v<T, ev::LockOverlap>) {
          std::optional<std::pair<std::uint64_t, int>> other;
          if (e.other_build && e.other_kind) other = std::pair{*e.other_build, m_recorder.kind_index(*e.other_kind)};
          m_recorder.lock_overlap(ref(build), e.file, e.step, other);
        } else if constexpr (std::is_same_v<T, ev::StepDone>) {
          m_recorder.step_done(e.latency_us);
        } else if constexpr (std::is_same_v<T, ev::Failed>) {
          if (e.io_error) m_recorder.io_error();
          if (build.failure.empty()) {
            const bool deadlock = model::failure_category_of(e.reason) == model::FailureCategory::deadlock;
            build.failure = deadlock ? deadlock_reason(build, e.reason) : e.reason;
          }
          end_wait(build);  // it gave up waiting itself (EDEADLK...)
        } else if constexpr (std::is_same_v<T, ev::Done>) {
          build.done = true;
        }
      },
      event);
}

void ProcessBackend::on_exit(Worker& build, std::int64_t exit_status, int term_signal) {
  build.timer.stop();
  const ProcessBuild& p = *build.process;
  if (build.cancelled) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  if (p.protocol_error().empty() && !p.timed_out() && term_signal == 0 && exit_status == 0 && build.done) {
    finish(build, BuildEnd::completed);
    return;
  }
  std::string reason;
  if (!p.protocol_error().empty()) {
    reason = model::failure_reason(model::FailureCategory::protocol, "worker event " + p.protocol_error());
  } else if (!build.lock_failure.empty()) {
    reason = build.lock_failure;  // we killed it: --lock-timeout
  } else if (p.timed_out()) {
    reason = ops::timeout_text("--build-timeout", m_scenario.run.build_timeout_ms, term_signal != 0 ? term_signal : SIGTERM);
  } else if (term_signal != 0) {
    reason = model::failure_reason(model::FailureCategory::signal,
                                  "killed by " + ops::signal_name(term_signal) + (build.fault_killed ? " (fault kill_lock_holder)" : ""));
  } else if (!build.failure.empty()) {
    reason = build.failure;
  } else {
    reason = model::failure_reason(model::FailureCategory::other, "worker exited with status " + std::to_string(exit_status));
    if (auto line = last_line(p.stderr_tail()); !line.empty()) reason += ": " + line;
  }
  // A process that died holding locks: the kernel released them when it died, which is as
  // late as its hold can have lasted (it is reaped now). Say so, and who was next.
  const std::uint64_t reaped_us = now_us();
  for (const auto& [mount, name, granted_at_us] : build.locks) {
    const std::string dir = cache_dir(build, build.lock_step, mount);
    m_recorder.released(ref(build), dir, reaped_us - std::min(reaped_us, granted_at_us), m_ctx.host.since_start_us(reaped_us));
    metrics::HolderDeath death;
    death.build = build.id;
    death.kind = build.kind;
    death.reason = reason;
    death.lock = name;
    death.key = metrics::lock_event_key(ref(build).root, dir);
    if (auto it = m_last_grant.find(name); it != m_last_grant.end()) {
      if (it->second.build != build.id) {  // the next holder's grant was read before this exit
        death.next_build = it->second.build;
        death.next_kind = it->second.kind;
        death.next_wait_us = it->second.wait_us;
      } else {
        m_last_grant.erase(it);
      }
    }
    m_ctx.collector.holder_death(std::move(death));
  }
  build.locks.clear();
  finish(build, BuildEnd::failed, std::move(reason));
}

void ProcessBackend::finish(Worker& build, BuildEnd end, std::string failure) {
  const std::uint64_t id = build.id;
  m_builds.erase(id);  // the child was reaped (or never started): nothing of it is outstanding
  m_ctx.host.build_ended(id, {end, std::move(failure), false});
}

void ProcessBackend::interrupt(std::uint64_t id, int signum) {
  auto it = m_builds.find(id);
  if (it == m_builds.end()) return;
  Worker& build = *it->second;
  build.cancelled = true;
  // The terminal's signal does not reach a worker (its own session): pass it on, then
  // SIGKILL whatever is still alive after the grace.
  build.process->kill(signum);
  build.timer.start(k_interrupt_grace_ms);
}

void ProcessBackend::kill_all_now() noexcept {
  std::vector<int> pids;
  for (auto& [id, build] : m_builds) {
    if (!build->process || !build->process->running()) continue;
    build->process->kill(SIGKILL);
    pids.push_back(build->process->pid());
  }
  // Reap them here: we are about to _exit, and their files must be gone first. A pid libuv
  // already reaped is not our child any more (ECHILD).
  for (int pid : pids) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (m_server) m_server->kill_now();
}

}  // namespace cachestress::backend
