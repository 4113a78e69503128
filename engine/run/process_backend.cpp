// --backend process: each build is a child process, our own binary run as `cachestress
// worker` (engine/worker/). The runner admits, spawns, and turns the child's event lines
// into the same collector calls the in-process state machine makes; the child takes the
// locks, so they contend across real processes. The cache root travels as the child's
// TMPDIR: under --env-policy drop every child gets the "server's" one root.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "engine/core/error.hpp"
#include "engine/run/lock_reasons.hpp"
#include "engine/run/runner.hpp"
#include "engine/worker/plan.hpp"

namespace cachestress::run {
namespace {

namespace ev = worker::protocol;

// After a forwarded SIGINT/SIGTERM, how long a worker may take to die before SIGKILL.
constexpr std::uint64_t k_interrupt_grace_ms = 2000;
// A timed-out waiter whose lock is held by a worker --lock-timeout just killed looks again
// this much later: the kernel is handing the lock on, and one victim per cycle is enough.
constexpr std::uint64_t k_victim_grace_ms = 50;

std::string signal_text(int signum) {
  const char* abbrev = ::sigabbrev_np(signum);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signum);
}

std::string duration_flag(std::uint32_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// The last non-empty line of a worker's stderr, for a failure reason.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto nl = text.rfind('\n');
  if (nl != std::string_view::npos) text.remove_prefix(nl + 1);
  return std::string(text.substr(0, 200));
}

}  // namespace

void Runner::start_worker(Build& build) {
  build.admitted_us = now_us();
  build.phase = Phase::worker;
  const auto& run = m_scenario.run;
  ProcessBuild::Spec spec;
  spec.exe = m_worker_exe;
  spec.args = {"worker"};
  // The plan names the root isolation meant; the worker uses its TMPDIR, as Buildah does.
  spec.plan = worker::encode_plan(worker::make_plan(m_scenario, static_cast<std::uint32_t>(build.kind), build.id,
                                                    build.rng.next(), m_workspace_path, isolation_root(build.id)));
  spec.env = environment_with_tmpdir(m_workspace_path + "/" + build.root);
  spec.timeout_ms = run.build_timeout_ms;
  build.process = std::make_unique<ProcessBuild>(
      m_loop->raw(), [this, &build](const ev::Event& event) { on_worker_event(build, event); },
      [this, &build](std::int64_t status, int signum) { on_worker_exit(build, status, signum); });
  build.spawned_us = now_us();
  if (int rc = build.process->start(std::move(spec)); rc != 0) {
    fail(build, "other: cannot start worker: " + uv_error_text(rc));
  }
}

// The mount a worker's event names, or nullptr when its indices are out of the plan's range.
const model::Mount* Runner::worker_mount(const Build& build, std::uint32_t step, std::uint32_t mount) const {
  const auto& steps = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps;
  if (step >= steps.size() || mount >= steps[step].mounts.size()) return nullptr;
  return &steps[step].mounts[mount];
}

std::string Runner::mount_label(const Build& build, std::uint32_t step, std::uint32_t mount) const {
  const model::Mount* m = worker_mount(build, step, mount);
  return m != nullptr ? m->label() : "?";
}

// The cache's directory under the root, as the in-process runner keys lock_events.
std::string Runner::worker_cache_dir(const Build& build, std::uint32_t step, std::uint32_t mount) const {
  const model::Mount* m = worker_mount(build, step, mount);
  return m != nullptr ? m_profile.layout(*m).cache_dir : "?";
}

// The root the worker really uses (from its hello: under --env-policy drop every worker
// shares the server's), so two builds contending on one kernel lock name it alike.
std::string Runner::lock_name(const Build& build, std::uint32_t step, std::uint32_t mount) const {
  return (build.worker_root.empty() ? build.root : build.worker_root) + " " + mount_label(build, step, mount);
}

void Runner::worker_waiting(Build& build, const ev::Waiting& w) {
  build.worker_waiting = Build::WorkerWait{lock_name(build, w.step, w.mount), mount_label(build, w.step, w.mount)};
  m_collector.lock_events().waiting(build.worker_root, worker_cache_dir(build, w.step, w.mount), build.id, build.kind,
                                    now_us() - m_start_us);
  if (m_scenario.run.lock_timeout_ms > 0 && !build.cancelled) build.timer.start(m_scenario.run.lock_timeout_ms);
}

// The worker no longer waits (granted, or it gave up by itself): no longer an edge of the
// wait graph, and its --lock-timeout is off (an interrupt's grace timer stays).
void Runner::end_worker_wait(Build& build) {
  if (!build.worker_waiting) return;
  build.worker_waiting.reset();
  if (!build.cancelled) build.timer.stop();
}

// --lock-timeout under --backend process: the worker waits in the kernel, so the parent
// gives up for it (SIGKILL; the kernel drops what it held) and fails it with the reason.
void Runner::worker_lock_timeout(Build& build) {
  if (!build.process || !build.process->running() || !build.worker_lock_failure.empty()) return;
  if (waits_on_dying_worker(build)) {
    build.timer.start(k_victim_grace_ms);
    return;
  }
  build.worker_lock_failure =
      worker_lock_reason(build, lock_timeout_text(m_scenario.run.lock_timeout_ms, build.worker_waiting->label));
  build.process->kill(SIGKILL);
}

// Whether the chain of holders this build waits behind reaches a worker --lock-timeout has
// already killed (both ends of a cycle time out in the same loop turn; the first is enough).
bool Runner::waits_on_dying_worker(const Build& build) const {
  const Build* current = &build;
  for (std::size_t hops = 0; hops <= m_in_flight.size(); ++hops) {
    const Build* holder = worker_blocking(*current);
    if (holder == nullptr || holder == &build) return false;
    if (!holder->worker_lock_failure.empty()) return true;
    current = holder;
  }
  return false;
}

// One edge of the workers' wait graph: the build in flight holding the lock `waiter` waits
// for (from its "waiting" event and the grants still held), or nullptr.
const Build* Runner::worker_blocking(const Build& waiter) const {
  if (!waiter.worker_waiting) return nullptr;
  auto holder = m_last_grant.find(waiter.worker_waiting->lock);
  if (holder == m_last_grant.end()) return nullptr;
  auto in_flight = m_in_flight.find(holder->second.build);
  return in_flight == m_in_flight.end() ? nullptr : in_flight->second.get();
}

// The in-process runner's lock_timeout_reason over the workers' wait graph: follows "waits
// for a lock held by" edges (waiting events, and the grants still held) from this build; a
// path back to it is a deadlock, named by the two keys of its first edges; else `fallback`.
std::string Runner::worker_lock_reason(const Build& build, std::string_view fallback) const {
  if (!build.worker_waiting) return std::string(fallback);
  const std::string& wanted = build.worker_waiting->label;
  const Build* current = &build;
  std::string second_label;
  for (std::size_t hops = 0; hops <= m_in_flight.size(); ++hops) {
    const Build* holder = worker_blocking(*current);
    if (holder == nullptr) break;
    if (holder == &build) {
      return deadlock_text(wanted, second_label.empty() ? current->worker_waiting->label : second_label);
    }
    if (!holder->worker_waiting) break;
    if (second_label.empty()) second_label = holder->worker_waiting->label;
    current = holder;
  }
  return std::string(fallback);
}

void Runner::worker_granted(Build& build, const ev::Granted& g) {
  if (g.created) m_collector.add(metrics::Counter::instances_created);
  if (g.sharing != model::Sharing::locked) return;
  // The HTML timeline's sample: an uncontended grant waited wait_us and said no "waiting".
  const std::uint64_t now = now_us() - m_start_us;
  const std::string cache_dir = worker_cache_dir(build, g.step, g.mount);
  if (!build.worker_waiting) {
    m_collector.lock_events().waiting(build.worker_root, cache_dir, build.id, build.kind, now - std::min(now, g.wait_us));
  }
  end_worker_wait(build);
  m_collector.lock_events().granted(build.worker_root, cache_dir, build.id, now);
  build.worker_step = g.step;
  m_collector.record_lock_wait(g.wait_us, g.waited, build.id, build.kind);
  std::string name = lock_name(build, g.step, g.mount);
  // A holder that died on this lock is followed by whoever gets it next: this build.
  if (auto* death = m_collector.pending_holder_death(name, build.id)) {
    death->next_build = build.id;
    death->next_kind = build.kind;
    death->next_wait_us = g.wait_us;
  }
  m_last_grant[name] = {build.id, build.kind, g.wait_us};
  build.worker_locks.emplace_back(g.mount, std::move(name));
  if (const auto delay = m_scenario.faults.kill_lock_holder_ms; delay && !m_fault_armed && !m_stopping) {
    // [faults] kill_lock_holder: this build is the one; it dies mid-step unless it has let go.
    m_fault_armed = true;
    m_fault_build = build.id;
    if (!m_fault_timer) m_fault_timer = std::make_unique<core::Timer>(*m_loop, [this] { fire_kill_lock_holder(); });
    m_fault_timer->start(*delay);
  }
}

void Runner::fire_kill_lock_holder() {
  auto it = m_in_flight.find(m_fault_build);
  if (it == m_in_flight.end() || it->second->worker_locks.empty() || !it->second->process || !it->second->process->running()) {
    m_fault_armed = false;  // it released in time (or ended): the next locked grant is chosen
    return;
  }
  it->second->fault_killed = true;
  it->second->process->kill(SIGKILL);
}

void Runner::on_worker_event(Build& build, const ev::Event& event) {
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ev::Hello>) {
          m_collector.record(metrics::Hist::worker_start_us, now_us() - build.spawned_us);
          build.worker_root = e.root;
          if (e.root != build.root) spdlog::warn("build {}: worker uses cache root {}, expected {}", build.id, e.root, build.root);
        } else if constexpr (std::is_same_v<T, ev::Waiting>) {
          worker_waiting(build, e);
        } else if constexpr (std::is_same_v<T, ev::Granted>) {
          worker_granted(build, e);
        } else if constexpr (std::is_same_v<T, ev::Released>) {
          if (e.sharing == model::Sharing::locked) {
            m_collector.record(metrics::Hist::lock_hold_us, e.hold_us);
            m_collector.lock_events().released(build.worker_root, worker_cache_dir(build, e.step, e.mount), build.id,
                                               now_us() - m_start_us);
          }
          std::erase_if(build.worker_locks, [&](const auto& held) {
            if (held.first != e.mount) return false;
            if (auto it = m_last_grant.find(held.second); it != m_last_grant.end() && it->second.build == build.id) {
              m_last_grant.erase(it);
            }
            return true;
          });
        } else if constexpr (std::is_same_v<T, ev::Op>) {
          m_collector.add(metrics::Counter::ops_completed);
          switch (e.kind) {
            case model::OpKind::write:
            case model::OpKind::append:
            case model::OpKind::extract:
              m_collector.add(metrics::Counter::bytes_written, e.bytes);
              remember(m_last_writer, e.file, build.id, build.kind);
              break;
            case model::OpKind::remove: remember(m_last_deleter, e.file, build.id, build.kind); break;
            default: m_collector.add(metrics::Counter::bytes_read, e.bytes); break;
          }
        } else if constexpr (std::is_same_v<T, ev::Collision>) {
          metrics::Collision c;
          c.kind = e.kind == ev::CollisionKind::foreign ? metrics::CollisionKind::foreign
                   : e.kind == ev::CollisionKind::torn  ? metrics::CollisionKind::torn
                                                        : metrics::CollisionKind::missing;
          c.victim_kind = build.kind;
          c.victim_build = build.id;
          c.file = e.file;
          c.step = e.step;
          if (e.polluter_build && e.polluter_kind) {
            c.polluter_build = *e.polluter_build;
            c.polluter_kind = kind_index(*e.polluter_kind);
          } else if (c.kind != metrics::CollisionKind::foreign) {
            // The file cannot say who removed or tore it; the runner's record of actors can.
            const auto& actors = c.kind == metrics::CollisionKind::missing ? m_last_deleter : m_last_writer;
            if (auto it = actors.find(e.file); it != actors.end() && it->second.first != build.id) {
              c.polluter_build = it->second.first;
              c.polluter_kind = it->second.second;
            }
          }
          m_collector.collision(c);
        } else if constexpr (std::is_same_v<T, ev::LockOverlap>) {
          metrics::Collision c;
          c.kind = metrics::CollisionKind::lock_overlap;
          c.victim_kind = build.kind;
          c.victim_build = build.id;
          c.file = e.file;
          c.step = e.step;
          if (e.other_build && e.other_kind) {
            c.polluter_build = *e.other_build;
            c.polluter_kind = kind_index(*e.other_kind);
          }
          m_collector.collision(c);
        } else if constexpr (std::is_same_v<T, ev::StepDone>) {
          m_collector.record(metrics::Hist::step_latency_us, e.latency_us);
          m_collector.add(metrics::Counter::steps_completed);
        } else if constexpr (std::is_same_v<T, ev::Failed>) {
          if (e.io_error) m_collector.add(metrics::Counter::io_errors);
          if (build.worker_failure.empty()) build.worker_failure = e.reason;
          end_worker_wait(build);  // it gave up waiting itself (EDEADLK...)
        } else if constexpr (std::is_same_v<T, ev::Done>) {
          build.worker_done = true;
        }
      },
      event);
}

void Runner::on_worker_exit(Build& build, std::int64_t exit_status, int term_signal) {
  build.timer.stop();
  const ProcessBuild& p = *build.process;
  if (build.cancelled) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  if (p.protocol_error().empty() && !p.timed_out() && term_signal == 0 && exit_status == 0 && build.worker_done) {
    finish(build, BuildEnd::completed);
    return;
  }
  std::string reason;
  if (!p.protocol_error().empty()) {
    reason = "protocol: worker event " + p.protocol_error();
  } else if (!build.worker_lock_failure.empty()) {
    reason = build.worker_lock_failure;  // we killed it: --lock-timeout
  } else if (p.timed_out()) {
    reason = "timeout: still running after --build-timeout " + duration_flag(m_scenario.run.build_timeout_ms) +
             ", killed with " + signal_text(term_signal != 0 ? term_signal : SIGTERM);
  } else if (term_signal != 0) {
    reason = "signal: killed by " + signal_text(term_signal) + (build.fault_killed ? " (fault kill_lock_holder)" : "");
  } else if (!build.worker_failure.empty()) {
    reason = build.worker_failure;
  } else {
    reason = "other: worker exited with status " + std::to_string(exit_status);
    if (auto line = last_line(p.stderr_tail()); !line.empty()) reason += ": " + line;
  }
  // A process that died holding locks: the kernel released them. Say so, and who was next.
  for (const auto& [mount, name] : build.worker_locks) {
    m_collector.lock_events().released(build.worker_root, worker_cache_dir(build, build.worker_step, mount), build.id,
                                       now_us() - m_start_us);  // by the kernel, as the process died
    metrics::HolderDeath death;
    death.build = build.id;
    death.kind = build.kind;
    death.reason = reason;
    death.lock = name;
    if (auto it = m_last_grant.find(name); it != m_last_grant.end()) {
      if (it->second.build != build.id) {  // the next holder's grant was read before this exit
        death.next_build = it->second.build;
        death.next_kind = it->second.kind;
        death.next_wait_us = it->second.wait_us;
      } else {
        m_last_grant.erase(it);
      }
    }
    m_collector.holder_death(std::move(death));
  }
  build.worker_locks.clear();
  fail(build, std::move(reason));
}

void Runner::interrupt_worker(Build& build, int signum) {
  // The terminal's signal does not reach a worker (its own session): pass it on, then
  // SIGKILL whatever is still alive after the grace (Phase::worker's timer).
  build.process->kill(signum);
  build.timer.start(k_interrupt_grace_ms);
}

void Runner::kill_workers_now() noexcept {
  std::vector<int> pids;
  for (auto& [id, build] : m_in_flight) {
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
}

}  // namespace cachestress::run
