#include "engine/run/runner.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <spdlog/spdlog.h>

#include "engine/backend/registry.hpp"
#include "engine/core/error.hpp"

namespace cachestress::run {

namespace {

constexpr const char* k_roots_dir = "roots";
// Builds handed to the backend ahead of those in flight, to start as one of them ends
// (stage_next). At -c 1, 128: the in-process backend wakes the loop once per 32 builds of a
// locked chain (or once fewer than 64 one-batch builds are staged on its lanes), so the loop
// has about a hundred builds' time to stage more; with 8, woken every 4, a thread often ran
// out while the loop was being woken (bench/ratios.sh -c 1, on a machine whose syscalls are
// 2-4x faster than the one 8 was tuned on: 67% of reference_locked with 8, 89% with 128).
// Above, the in-process backend wakes the loop once half of them have started
// (backend::k_staged_low), so the loop has over a hundred builds' time to stage more: on a
// busy machine it may not get a CPU for milliseconds, and with 32 staged (woken at 2 left)
// the slots ran dry and only 12 of 16 builds were in flight by their own times (14.8 with
// 256; 14.5 when the loop started every build).
using backend::k_staged_depth;
using backend::k_staged_depth_one;

// Builds that may end inside their own start (a backend that cannot start them) in one
// admission pass before the loop gets a turn: fast for a scenario whose every build is
// rejected at once, and timers and signals still come through.
constexpr std::size_t k_ends_per_turn = 256;

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t build) {
  ops::Rng rng(seed ^ (build * 0x9E3779B97F4A7C15ull));
  return rng.next();
}

// A host name as one path component: whatever a hostname holds, never "..", never a slash.
std::string path_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return out.empty() ? "_" : out;
}

std::string builds_text(std::size_t n) { return std::to_string(n) + (n == 1 ? " build" : " builds"); }

}  // namespace

// ---- Setup -------------------------------------------------------------------------------

Runner::Runner(RunOptions options)
    : m_options(std::move(options)),
      m_scenario(m_options.scenario),
      m_profile(semantics::profile_for(m_scenario.run.semantics)),
      m_layouts(m_scenario, m_profile),
      m_recorder(m_collector, m_scenario),
      // Several processes of one run must not all pick the same kinds in the same order.
      m_rng(m_options.build_id_stride == 1 ? m_scenario.run.seed : mix_seed(m_scenario.run.seed, ~m_options.first_build_id)),
      m_arrival_rng(mix_seed(m_scenario.run.seed, 0x9e3779b97f4a7c15ULL ^ m_options.first_build_id)) {
  backend::validate(m_scenario);
  if (!m_options.backend) m_options.backend = backend::factory_for(m_scenario.run.backend);
  if (m_options.build_id_stride == 0) throw InputError("build id stride must be at least 1");
  if (m_options.host.empty()) m_options.host = host_name();
  if (m_options.host.empty()) m_options.host = "localhost";
  if (m_options.host_of) m_collector.set_host_of(m_options.host_of);
  std::uint64_t total = 0;
  for (const auto& kind : m_scenario.kinds) {
    total += kind.weight;
    m_kind_cumulative.push_back(total);
  }
}

Runner::~Runner() = default;

// The root a build really uses: its isolation's, unless the environment policy loses it
// (drop: podman-remote's server never sees the client's TMPDIR, so every build gets the
// server's one root).
std::string Runner::root_for(std::uint64_t build_id) const {
  if (m_scenario.run.env_policy == model::EnvPolicy::drop) return std::string(k_roots_dir) + "/server";
  return isolation_root(build_id);
}

std::string Runner::isolation_root(std::uint64_t build_id) const {
  const auto& isolation = m_scenario.run.isolation;
  switch (isolation.kind) {
    case model::IsolationKind::per_build: return std::string(k_roots_dir) + "/b" + std::to_string(build_id);
    case model::IsolationKind::shared: return std::string(k_roots_dir) + "/shared";
    case model::IsolationKind::per_group:
      return std::string(k_roots_dir) + "/g" + std::to_string(build_id % isolation.groups);
    case model::IsolationKind::per_host: return std::string(k_roots_dir) + "/host-" + path_safe(m_options.host);
  }
  return std::string(k_roots_dir) + "/shared";
}

// Lock files a [faults] stale_lock run leaves before it starts: every kernel-locked mount's
// lock file in the cache root of each of the first builds (one root when isolation = shared).
std::vector<std::string> Runner::stale_lock_paths() const {
  constexpr std::uint64_t k_max_roots = 1024;
  if (m_profile.lock_style() != semantics::LockStyle::kernel_gate) return {};  // BuildKit: no lock files
  std::set<std::string> files;
  for (std::size_t k = 0; k < m_scenario.kinds.size(); ++k) {
    for (std::size_t s = 0; s < m_scenario.kinds[k].steps.size(); ++s) {
      const auto& mounts = m_scenario.kinds[k].steps[s].mounts;
      const auto& layouts = m_layouts.step(k, s);
      for (std::size_t i = 0; i < mounts.size(); ++i) {
        const auto& lock_file = layouts[i].lock_file;
        if (mounts[i].sharing == model::Sharing::locked && !lock_file.empty() && m_profile.rejection(mounts[i]).empty()) {
          files.insert(lock_file);
        }
      }
    }
  }
  const auto& run = m_scenario.run;
  const std::uint64_t builds = std::min(run.builds == 0 ? std::uint64_t{run.concurrency} : run.builds, k_max_roots);
  std::set<std::string> roots;
  for (std::uint64_t id = 0; id < builds; ++id) roots.insert(root_for(id));
  std::vector<std::string> paths;
  for (const auto& root : roots) {
    for (const auto& file : files) paths.push_back(root + "/" + file);
  }
  return paths;
}

RunOutcome Runner::run() {
  // A directory we made (under $TMPDIR, or a --workdir that did not exist) goes at the end;
  // a user's existing empty --workdir stays, emptied.
  m_workspace = m_options.make_workspace
                    ? m_options.make_workspace(m_options.workdir, m_options.keep, m_scenario.faults.enospc_tmpfs_kb)
                    : std::make_unique<Workspace>(m_options.workdir, m_options.keep, m_scenario.faults.enospc_tmpfs_kb);
  if (int rc = m_workspace->root().make_dirs(k_roots_dir); rc < 0) {
    throw EnvironmentError("cannot create " + m_workspace->path() + "/" + k_roots_dir + ": " + errno_text(-rc));
  }
  if (m_scenario.faults.stale_lock && m_options.leave_stale_locks) {
    m_stale_lock = fault::leave_stale_locks(m_workspace->root(), stale_lock_paths(), m_scenario.run.lock_kind);
    spdlog::info("stale_lock: {} lock files left by dead holder pid {}", m_stale_lock->files, m_stale_lock->holder_pid);
  }
  spdlog::debug("workspace {}", m_workspace->path());
  m_environment = read_environment(m_workspace->path());

  m_loop = std::make_unique<core::Loop>();
  m_context = std::make_unique<backend::Context>(backend::Context{*m_loop, m_scenario, m_profile, m_layouts,
                                                                   m_workspace->root(), m_workspace->path(), m_collector,
                                                                   m_recorder, *this, m_options.lock_threads,
                                                                   m_options.failure_dir, m_options.io_threads});
  m_backend = m_options.backend(*m_context);
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) {
    m_signals.push_back(std::make_unique<core::Signal>(*m_loop, signum, [this](int s) { interrupt(s); }));
    m_signals.back()->unref();  // signals alone never keep the run going
  }
  m_started_at = std::chrono::system_clock::now();
  m_backend->prepare([this](std::string error) {
    if (!error.empty() && m_signal == 0) {
      m_setup_error = std::move(error);
      // A setup that failed after starting something (a daemon not ready in time) has it
      // stopped before the workspace goes; the loop runs until the teardown has ended.
      m_backend->teardown([] {});
      return;
    }
    // After a signal during setup: admits nothing, ends as interrupted.
    if (m_options.observer != nullptr && m_signal == 0) {
      m_options.observer->ready(*m_loop, *this, [this] { start(); });
    } else {
      start();
    }
  });
  m_loop->run();

  RunOutcome outcome;
  if (m_setup_error.empty()) {
    outcome.interrupted = m_signal != 0 || !m_stop_reason.empty();
    outcome.signal = m_signal;
    outcome.stop_reason = m_stop_reason;
    outcome.workdir = m_workspace->path();
    outcome.workdir_kept = m_options.keep;
    outcome.started_at = m_started_at;
    outcome.environment = m_environment;
    outcome.stale_lock = m_stale_lock;
    outcome.enospc_tmpfs_kb = m_workspace->tmpfs_kb();
    for (const auto& kind : m_scenario.kinds) outcome.kind_names.push_back(kind.name);
    outcome.metrics = std::make_unique<metrics::RunMetrics>(m_collector.metrics());
    outcome.metrics->not_measured = backend::not_measured(m_scenario.run.backend);
    // A failure log whose write failed (its folder could not be made, a dangling symlink) is
    // not named: the report would point at nothing. The loop has ended, so this stat blocks
    // no build; the write's own warning said why.
    for (auto& failure : outcome.metrics->failures) {
      struct stat log {};
      if (!failure.example_log.empty() && ::stat(failure.example_log.c_str(), &log) != 0) failure.example_log.clear();
    }
  }

  // Tear down in order: builds are gone; the backend stops its threads and children, then
  // the loop closes.
  m_signals.clear();
  m_interval_timer.reset();
  m_duration_timer.reset();
  m_arrival_timer.reset();
  m_readmit.reset();
  m_backend.reset();
  if (int rc = m_loop->close(); rc != 0) spdlog::error("uv_loop_close: {}", uv_error_text(rc));
  m_loop.reset();
  // A parent of the workspace renamed or replaced mid-run: nothing escaped, but say so.
  if (m_setup_error.empty()) {
    if (auto moved = m_workspace->moved()) throw EnvironmentError(*moved);
  }
  if (!m_setup_error.empty()) {
    // No build ran: the loop has stopped, so removing the workspace here blocks nobody.
    m_workspace->remove_now();
    throw EnvironmentError(m_setup_error);
  }
  if (m_options.after_run) {
    m_options.after_run(outcome);
    m_workspace->remove_now();  // the loop has closed: blocking here holds nobody up
  }
  return outcome;
}

void Runner::start() {
  const auto& run = m_scenario.run;
  m_start_us = core::now_us();
  m_interval_timer = std::make_unique<core::Timer>(*m_loop, [this] {
    double t = static_cast<double>(core::now_us() - m_start_us) / 1e6;
    m_collector.close_interval(t, running());
    if (m_options.on_interval) m_options.on_interval(m_collector, t, running());
    if (m_options.observer != nullptr) m_options.observer->interval(m_collector, t, running());
  });
  m_interval_timer->start(run.interval_ms, run.interval_ms);
  m_readmit = std::make_unique<core::Async>(*m_loop, [this] { admit(); });
  m_readmit->unref();  // the interval timer keeps the loop going until the run ends
  if (run.duration_s > 0) {
    m_duration_timer = std::make_unique<core::Timer>(*m_loop, [this] {
      m_stopping = true;
      m_backend->unstage();        // no build starts after the duration, staged or not,
      withdraw_future_arrivals();  // nor a ramp's build whose arrival is still to come
      maybe_end_run();
    });
    m_duration_timer->start(static_cast<std::uint64_t>(run.duration_s * 1000));
  }
  if (run.arrival == model::Arrival::poisson) {
    m_arrival_timer = std::make_unique<core::Timer>(*m_loop, [this] { arrivals_due(); });
    m_next_arrival_us = static_cast<double>(m_start_us) + m_arrival_rng.exponential(run.rate_per_s) * 1e6;
    m_arrival_timer->start(0);
  } else {
    admit();
  }
  maybe_end_run();
}

// ---- Admission ---------------------------------------------------------------------------

// Poisson arrivals on the microsecond clock: each firing counts every arrival due by now and
// sleeps until the next one, for at least 1 ms. One timer per arrival, rounded down to whole
// ms, re-armed itself at 0 ms from its own callback at 30,000 builds/s and up: libuv then runs
// it again before polling anything, so no build end and no signal was ever seen (a hang only
// SIGKILL ended).
void Runner::arrivals_due() {
  const auto& run = m_scenario.run;
  auto all_arrived = [&] { return run.builds != 0 && m_next_build + m_pending_arrivals >= run.builds; };
  const auto now = static_cast<double>(core::now_us());
  while (m_next_arrival_us <= now && !all_arrived()) {
    ++m_pending_arrivals;
    m_next_arrival_us += m_arrival_rng.exponential(run.rate_per_s) * 1e6;
  }
  admit();
  if (m_stopping || all_arrived()) return;
  m_arrival_timer->start(std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil((m_next_arrival_us - now) / 1000))));
}

bool Runner::may_admit() const {
  const auto& run = m_scenario.run;
  if (m_stopping) return false;
  if (run.builds != 0 && m_next_build >= run.builds) return false;  // builds: this process's share
  if (running() >= run.concurrency) return false;  // staged builds wait for a slot to free
  if (run.arrival == model::Arrival::poisson && m_pending_arrivals == 0) return false;
  return true;
}

void Runner::admit() {
  if (m_admitting) {
    // A build ended inside start_build (a backend that could not start it): the admission
    // loop below goes on without recursing (a run of such ends overflowed the stack), and
    // after k_ends_per_turn of them lets the loop turn (a --duration run's timer must fire).
    ++m_ends_inside;
    return;
  }
  m_admitting = true;
  m_ends_inside = 0;
  admit_now();
  m_admitting = false;
  if (m_ends_inside > 0) m_readmit->send();  // whatever those ends freed, next turn
}

void Runner::admit_now() {
  const auto& run = m_scenario.run;
  // A slot is free while builds are staged: the oldest staged one takes it first, where the
  // backend can start it now (else it waits for a build in flight to end; once none is left
  // in flight, nothing would start it).
  while (m_staged > 0 && !m_stopping && running() < run.concurrency && m_backend->start_staged()) {
  }
  while (may_admit()) {
    if (m_pending_arrivals > 0) --m_pending_arrivals;
    const std::uint64_t local = m_next_build;
    Admitted& build = take(next_ticket());
    const std::uint64_t id = build.id;
    if (run.arrival == model::Arrival::ramp && local < run.concurrency) {
      // The first wave is spread over the ramp; later builds start as slots free up. A build
      // counts as started when its arrival comes: one the run's end overtakes never ran.
      build.arrival = std::make_unique<core::Timer>(*m_loop, [this, id] { start_build(m_in_flight.at(id)); });
      build.arrival->start(static_cast<std::uint64_t>(run.ramp_s * 1000.0 * static_cast<double>(local) / run.concurrency));
    } else {
      start_build(build);
      if (m_ends_inside >= k_ends_per_turn) return;  // the rest next turn (admit)
    }
  }
  stage_next();
}

// The next build's id, kind, cache root and seed. Its kind is drawn once, in admission
// order: a staging the backend declines keeps it for the build admitted next.
backend::BuildTicket Runner::next_ticket() {
  if (!m_drawn_kind) m_drawn_kind = static_cast<int>(m_rng.weighted(m_kind_cumulative));
  const std::uint64_t id = m_options.first_build_id + m_next_build * m_options.build_id_stride;
  return {id, *m_drawn_kind, root_for(id), mix_seed(m_scenario.run.seed, id)};
}

// Admits the build next_ticket() described: the next one is drawn afresh.
Runner::Admitted& Runner::take(backend::BuildTicket ticket) {
  m_drawn_kind.reset();
  ++m_next_build;
  Admitted& build = m_in_flight[ticket.id];
  build.id = ticket.id;
  build.kind = ticket.kind;
  build.root = std::move(ticket.root);
  build.seed = ticket.seed;
  build.admitted_us = core::now_us();
  return build;
}

// Every slot is taken: the next builds go to the backend before one in flight ends, each to
// be started the moment one does (Backend::stage_build). That is exactly when the runner
// would start it itself, minus the round trip through the loop. It counts as started from
// the moment the backend starts it (build_started).
void Runner::stage_next() {
  const auto& run = m_scenario.run;
  if (run.arrival != model::Arrival::together || m_stopping || running() < run.concurrency) return;
  const std::size_t depth = run.concurrency == 1 ? k_staged_depth_one : k_staged_depth;
  while (m_staged < depth && (run.builds == 0 || m_next_build < run.builds)) {
    if (!stage_one()) return;
  }
}

bool Runner::stage_one() {
  auto ticket = next_ticket();
  if (!m_backend->stage_build(ticket)) return false;
  ++m_staged;
  Admitted& build = take(std::move(ticket));
  build.started = true;  // the backend has it: an interrupt goes to the backend
  build.staged = true;
  return true;  // counted as started once it really starts (build_started)
}

void Runner::build_started(std::uint64_t id, std::uint64_t at_us) {
  auto it = m_in_flight.find(id);
  if (it == m_in_flight.end() || !it->second.staged) return;
  it->second.staged = false;
  --m_staged;
  it->second.admitted_us = at_us;
  m_collector.add(metrics::Counter::builds_started);
  if (spdlog::should_log(spdlog::level::trace)) {
    // Its thread's time: the loop may hear of a chain's starts before of the ends before them.
    spdlog::trace("build {} ({}) started at +{:.3f} ms, by the backend as a build in flight ended", id,
                  m_scenario.kinds.at(static_cast<std::size_t>(it->second.kind)).name, run_ms(at_us));
  }
}

// Counted as started here, when it really starts (a ramp's build at its arrival); a staged
// build is counted by build_started when the backend starts it.
void Runner::start_build(Admitted& build) {
  m_collector.add(metrics::Counter::builds_started);
  build.started = true;
  build.admitted_us = core::now_us();
  // -vv (trace): one line per build start and end. Checked before formatting: free otherwise.
  if (spdlog::should_log(spdlog::level::trace)) {
    spdlog::trace("build {} ({}) started at +{:.3f} ms, {} in flight", build.id,
                  m_scenario.kinds.at(static_cast<std::size_t>(build.kind)).name, run_ms(build.admitted_us), running());
  }
  m_backend->start_build({build.id, build.kind, build.root, build.seed});
}

// ---- Ending builds -----------------------------------------------------------------------

void Runner::build_ended(std::uint64_t id, backend::BuildResult result) {
  auto it = m_in_flight.find(id);
  if (it == m_in_flight.end()) return;
  Admitted& build = it->second;
  if (build.staged) {
    // Taken back by an interrupt before it started: it never ran, so it is not counted.
    --m_staged;
    m_in_flight.erase(it);
    maybe_end_run();
    return;
  }
  build.ended_us = result.ended_us != 0 ? result.ended_us : core::now_us();
  if (result.end == backend::BuildEnd::failed && !result.failure_recorded) {
    m_collector.failure(result.failure, id, build.kind);
  }
  if (spdlog::should_log(spdlog::level::trace)) {
    const char* how = result.end == backend::BuildEnd::completed ? "completed" : result.end == backend::BuildEnd::failed ? "failed" : "interrupted";
    spdlog::trace("build {} {} after {:.3f} ms, at +{:.3f} ms{}{}", id, how,
                  static_cast<double>(build.ended_us - build.admitted_us) / 1000, run_ms(build.ended_us),
                  result.failure.empty() ? "" : ": ", result.failure);
  }
  if (m_scenario.run.isolation.kind == model::IsolationKind::per_build && m_backend->writes_files() &&
      m_scenario.run.env_policy == model::EnvPolicy::propagate) {
    // A per-build cache root is private to this build: remove it now so disk and memory
    // stay flat however many builds run.
    build.removing_root = true;
    core::queue_work(
        *m_loop, [root = &m_workspace->root(), path = build.root] { (void)root->remove_tree(path); },
        [this, id, end = result.end](int) {
          m_backend->forget_root(m_in_flight.at(id).root);
          retire(id, end);
        });
    return;
  }
  retire(id, result.end);
}

void Runner::retire(std::uint64_t id, backend::BuildEnd end) {
  auto it = m_in_flight.find(id);
  // A per-build root's removal is part of the build's end, as it always was.
  const std::uint64_t latency = (it->second.removing_root ? core::now_us() : it->second.ended_us) - it->second.admitted_us;
  switch (end) {
    case backend::BuildEnd::completed:
      m_collector.add(metrics::Counter::builds_completed);
      m_collector.record(metrics::Hist::build_latency_us, latency);
      break;
    case backend::BuildEnd::failed:
      m_collector.add(metrics::Counter::builds_failed);
      m_collector.record(metrics::Hist::failed_build_latency_us, latency);
      break;
    case backend::BuildEnd::interrupted: m_collector.add(metrics::Counter::builds_interrupted); break;
  }
  m_in_flight.erase(it);
  admit();
  maybe_end_run();
}

// ---- Stopping ----------------------------------------------------------------------------

void Runner::maybe_end_run() {
  if (m_ended || !m_in_flight.empty()) return;
  const auto& run = m_scenario.run;
  bool all_admitted = run.builds != 0 && m_next_build >= run.builds;
  if (!m_stopping && !all_admitted) return;
  end_run();
}

void Runner::end_run() {
  m_ended = true;
  m_collector.set_duration(static_cast<double>(core::now_us() - m_start_us) / 1e6);
  spdlog::debug("run ended after {:.2f} s: {} builds admitted{}", static_cast<double>(core::now_us() - m_start_us) / 1e6, m_next_build,
                m_signal != 0 ? ", interrupted" : "");
  m_collector.close_interval(static_cast<double>(core::now_us() - m_start_us) / 1e6, 0);
  m_interval_timer->stop();
  if (m_duration_timer) m_duration_timer->stop();
  if (m_arrival_timer) m_arrival_timer->stop();
  m_backend->run_ended();
  if (m_options.observer != nullptr) m_options.observer->ended();
  // The backend's teardown (stopping a daemon its setup started) before the workspace goes:
  // removing it under a running daemon failed (ENOTEMPTY) and left the daemon to the end of
  // the whole process (one per cell of a sweep).
  m_backend->teardown([this] {
    if (m_options.keep || m_options.after_run) return;  // after_run: removed once the loop has closed
    core::queue_work(
        *m_loop, [workspace = m_workspace.get()] { workspace->remove_contents(); },
        [workspace = m_workspace.get()](int) { workspace->remove_self(); });
  });
}

void Runner::interrupt(int signum) {
  if (m_signal != 0) abort_now(signum);
  m_signal = signum;
  spdlog::warn("{}: stopping admissions, ending {} in flight", strsignal(signum), builds_text(running()));
  interrupt_builds(signum);
}

void Runner::stop_run(const std::string& reason) {
  // Not m_stopping: after --duration the run waits for its builds in flight, and a build
  // blocked behind a lock a lost rank holds must still be ended (cachestress-mpi hung).
  if (m_ended || !m_stop_reason.empty() || m_signal != 0) return;
  m_stop_reason = reason;
  spdlog::warn("{}: stopping admissions, ending {} in flight", reason, builds_text(running()));
  interrupt_builds(SIGTERM);  // children are ended as a SIGTERM would end them
}

void Runner::interrupt_builds(int signum) {
  m_stopping = true;
  if (m_arrival_timer) m_arrival_timer->stop();
  if (!m_interval_timer) {
    m_backend->interrupt_prepare(signum);  // still in setup: nothing admitted yet
    return;
  }
  // Staged builds first: none of them may start in the place of a build that ends meanwhile.
  m_backend->unstage();
  withdraw_future_arrivals();
  std::vector<std::uint64_t> ids;
  for (const auto& [id, build] : m_in_flight) ids.push_back(id);
  for (std::uint64_t id : ids) {
    auto it = m_in_flight.find(id);
    if (it == m_in_flight.end() || it->second.removing_root) continue;
    m_backend->interrupt(id, signum);
  }
  maybe_end_run();
}

// A ramp's builds whose arrival is still to come when the run stops never start: they leave
// without a count (none was made for them), and the run does not wait for their timers.
void Runner::withdraw_future_arrivals() {
  std::erase_if(m_in_flight, [](const auto& entry) { return !entry.second.started && !entry.second.removing_root; });
}

void Runner::abort_now(int signum) {
  // A second signal: no more waiting for in-flight work, but the workspace still goes.
  spdlog::error("{} again: aborting now", strsignal(signum));
  m_backend->kill_all_now();  // killed and reaped before their files go
  // In-process batches may still be writing on their lanes: sweep again until it is gone.
  if (m_workspace) m_workspace->remove_racing_writers(50);
  std::_Exit(128 + signum);
}

}  // namespace cachestress::run
