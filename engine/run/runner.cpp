#include "engine/run/runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <spdlog/spdlog.h>

#include "engine/core/error.hpp"
#include "engine/lock/kernel_lock.hpp"
#include "engine/run/lock_reasons.hpp"

namespace cachestress::run {

using model::Sharing;
using semantics::LockStyle;

namespace {

constexpr std::uint64_t k_poll_ms = 100;               // BuildKit's locked-mount poll period
// "enospc: write ENOSPC" / "io: read EACCES": the category first, so failures.* counts it.
std::string errno_failure(const char* what, int err) {
  const char* category = err == ENOSPC || err == EDQUOT ? "enospc" : "io";
  return std::string(category) + ": " + what + " " + uv_err_name(uv_translate_sys_error(err));
}

constexpr std::size_t k_max_actor_memory = 65536;  // bound on torn/missing attribution

constexpr const char* k_roots_dir = "roots";

// A [command] step may have no operations and a kind no steps: only the command backend
// runs those; the other backends would run nothing and call it a pass.
void validate_backend(const model::Scenario& s) {
  if (s.run.backend == model::Backend::command) {
    if (!s.command) throw InputError("backend command: scenario " + s.name + " has no [command] section (format: scenarios/README.md)");
    return;
  }
  for (const auto& kind : s.kinds) {
    if (kind.steps.empty()) {
      throw InputError("build " + kind.name + " has no steps: it runs only with backend command (--backend command)");
    }
    for (std::size_t i = 0; i < kind.steps.size(); ++i) {
      if (kind.steps[i].ops.empty()) {
        throw InputError("build " + kind.name + " step " + std::to_string(i) +
                         " has a command but no operations: it runs only with backend command (--backend command)");
      }
    }
  }
}

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t build) {
  Rng rng(seed ^ (build * 0x9E3779B97F4A7C15ull));
  return rng.next();
}

}  // namespace

void Runner::remember(LastActor& actors, const std::string& path, std::uint64_t build, int kind) {
  if (actors.size() >= k_max_actor_memory && !actors.contains(path)) actors.clear();
  actors[path] = {build, kind};
}

// ---- Build -------------------------------------------------------------------------------

Build::Build(core::Loop& loop, Runner& owner, std::uint64_t build_id, int build_kind, std::uint64_t seed)
    : runner(owner),
      id(build_id),
      kind(build_kind),
      rng(seed),
      timer(loop, [this] { runner.on_timer(*this); }),
      lock_job(owner, *this) {
  work.data = this;
}

int KernelLockJob::run() {
  waited_in_kernel = false;
  auto slash = path.rfind('/');
  if (slash != std::string::npos) {
    int rc = root->make_dirs(std::string_view(path).substr(0, slash));
    if (rc < 0) return rc;
  }
  int fd = root->open_file(path, O_RDWR | O_CREAT);
  if (fd < 0) return fd;
  int rc = lock::try_acquire(fd, kind);
  if (rc == -EAGAIN) {
    waited_in_kernel = true;
    do {
      rc = is_cancelled() ? -ECANCELED : lock::acquire_blocking(fd, kind);
    } while (rc == -EINTR);
  }
  if (rc < 0) {
    ::close(fd);
    return rc;
  }
  return fd;
}

void KernelLockJob::done(int result) { m_runner.on_kernel_lock(m_build, result); }

// ---- Runner: setup -----------------------------------------------------------------------

Runner::Runner(RunOptions options)
    : m_options(std::move(options)),
      m_scenario(m_options.scenario),
      m_profile(semantics::profile_for(m_scenario.run.semantics)),
      m_rng(m_scenario.run.seed) {
  validate_backend(m_scenario);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < m_scenario.kinds.size(); ++i) {
    m_kind_by_name.emplace(m_scenario.kinds[i].name, static_cast<int>(i));
    total += m_scenario.kinds[i].weight;
    m_kind_cumulative.push_back(total);
  }
  // A mount's layout is a pure function of the mount (Buildah hashes it with SHA-256):
  // work it out once per scenario mount, not once per build.
  for (const auto& kind : m_scenario.kinds) {
    auto& kind_layouts = m_layouts.emplace_back();
    for (const auto& step : kind.steps) {
      auto& step_layouts = kind_layouts.emplace_back();
      for (const auto& mount : step.mounts) step_layouts.push_back(m_profile.layout(mount));
    }
  }
}

Runner::~Runner() = default;

std::uint64_t Runner::now_us() const { return uv_hrtime() / 1000; }

int Runner::kind_index(const std::string& name) const {
  auto it = m_kind_by_name.find(name);
  return it == m_kind_by_name.end() ? metrics::k_unknown_kind : it->second;
}

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
      for (std::size_t i = 0; i < mounts.size(); ++i) {
        const auto& lock_file = m_layouts[k][s][i].lock_file;
        if (mounts[i].sharing == Sharing::locked && !lock_file.empty() && m_profile.rejection(mounts[i]).empty()) {
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
  m_workspace_created = m_options.workdir.empty();
  m_workspace_path = m_workspace_created ? fs::make_workspace(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp")
                                         : fs::prepare_user_workdir(m_options.workdir, &m_workspace_created);
  if (const auto kb = m_scenario.faults.enospc_tmpfs_kb; kb > 0) {
    try {
      m_tmpfs = std::make_unique<fault::TmpfsWorkspace>(m_workspace_path, kb);
    } catch (const EnvironmentError&) {
      if (m_workspace_created) ::rmdir(m_workspace_path.c_str());
      throw;
    }
    if (m_options.keep) spdlog::warn("--keep: the tmpfs workspace lives in this run's own mount namespace and goes with it");
  }
  m_workspace = std::make_unique<fs::Root>(fs::Root::open(m_workspace_path));
  if (int rc = m_workspace->make_dirs(k_roots_dir); rc < 0) {
    throw EnvironmentError("cannot create " + m_workspace_path + "/" + k_roots_dir + ": " + errno_text(-rc));
  }
  if (m_scenario.faults.stale_lock) {
    m_stale_lock = fault::leave_stale_locks(*m_workspace, stale_lock_paths(), m_scenario.run.lock_kind);
    spdlog::info("stale_lock: {} lock files left by dead holder pid {}", m_stale_lock->files, m_stale_lock->holder_pid);
  }
  spdlog::debug("workspace {}", m_workspace_path);
  m_environment = read_environment(m_workspace_path);
  if (m_scenario.run.backend == model::Backend::process) m_worker_exe = own_executable();

  m_loop = std::make_unique<core::Loop>();
  m_waiters = std::make_unique<lock::WaiterPool>(*m_loop, m_options.lock_threads);
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) {
    m_signals.push_back(std::make_unique<core::Signal>(*m_loop, signum, [this](int s) { interrupt(s); }));
    m_signals.back()->unref();  // signals alone never keep the run going
  }
  m_started_at = std::chrono::system_clock::now();
  if (m_scenario.run.backend == model::Backend::command) {
    m_command = std::make_unique<command::CommandRunner>(*m_loop, m_scenario, *m_workspace, m_workspace_path,
                                                         m_options.failure_dir);
    // [command] setup (e.g. a local base image) runs before the first build is admitted.
    m_command->prepare([this](std::string error) {
      if (!error.empty() && m_signal == 0) {
        m_setup_error = std::move(error);
        return;
      }
      start();  // after a signal during setup: admits nothing, ends as interrupted
    });
  } else {
    start();
  }
  m_loop->run();
  if (!m_setup_error.empty()) {
    // No build ran: tear down, remove the workspace (the loop has stopped, so waiting on
    // the disk here blocks nobody) and report an environment error.
    m_signals.clear();
    m_waiters.reset();
    m_command.reset();
    (void)m_loop->close();
    m_loop.reset();
    if (!m_options.keep) {
      (void)m_workspace->remove_tree("");
      if (m_workspace_created) ::rmdir(m_workspace_path.c_str());
    }
    throw EnvironmentError(m_setup_error);
  }

  RunOutcome outcome;
  outcome.interrupted = m_signal != 0;
  outcome.signal = m_signal;
  outcome.workdir = m_workspace_path;
  outcome.workdir_kept = m_options.keep;
  outcome.started_at = m_started_at;
  outcome.environment = m_environment;
  outcome.stale_lock = m_stale_lock;
  outcome.enospc_tmpfs_kb = m_tmpfs ? m_tmpfs->size_kb() : 0;
  for (const auto& kind : m_scenario.kinds) outcome.kind_names.push_back(kind.name);
  outcome.metrics = std::make_unique<metrics::RunMetrics>(m_collector.metrics());

  // Tear down in order: builds are gone; stop the waiter threads, then close the loop.
  m_signals.clear();
  m_interval_timer.reset();
  m_duration_timer.reset();
  m_arrival_timer.reset();
  m_fault_timer.reset();
  m_waiters.reset();
  m_command.reset();  // every child was reaped before the loop ran out of work
  if (int rc = m_loop->close(); rc != 0) spdlog::error("uv_loop_close: {}", uv_error_text(rc));
  m_loop.reset();
  return outcome;
}

void Runner::start() {
  const auto& run = m_scenario.run;
  m_start_us = now_us();
  m_interval_timer = std::make_unique<core::Timer>(*m_loop, [this] {
    double t = static_cast<double>(now_us() - m_start_us) / 1e6;
    m_collector.close_interval(t, m_in_flight.size());
    if (m_options.on_interval) m_options.on_interval(m_collector, t, m_in_flight.size());
  });
  m_interval_timer->start(run.interval_ms, run.interval_ms);
  if (run.duration_s > 0) {
    m_duration_timer = std::make_unique<core::Timer>(*m_loop, [this] {
      m_stopping = true;
      maybe_end_run();
    });
    m_duration_timer->start(static_cast<std::uint64_t>(run.duration_s * 1000));
  }
  if (run.arrival == model::Arrival::poisson) {
    m_arrival_timer = std::make_unique<core::Timer>(*m_loop, [this] {
      ++m_pending_arrivals;
      admit();
      if (!m_stopping && (m_scenario.run.builds == 0 || m_next_build < m_scenario.run.builds)) {
        m_arrival_timer->start(static_cast<std::uint64_t>(m_rng.exponential(m_scenario.run.rate_per_s) * 1000));
      }
    });
    m_arrival_timer->start(static_cast<std::uint64_t>(m_rng.exponential(run.rate_per_s) * 1000));
  } else {
    admit();
  }
  maybe_end_run();
}

// ---- Admission ---------------------------------------------------------------------------

bool Runner::may_admit() const {
  const auto& run = m_scenario.run;
  if (m_stopping) return false;
  if (run.builds != 0 && m_next_build >= run.builds) return false;
  if (m_in_flight.size() >= run.concurrency) return false;
  if (run.arrival == model::Arrival::poisson && m_pending_arrivals == 0) return false;
  return true;
}

void Runner::admit() {
  const auto& run = m_scenario.run;
  while (may_admit()) {
    if (m_pending_arrivals > 0) --m_pending_arrivals;
    std::uint64_t id = m_next_build++;
    int kind = static_cast<int>(m_rng.weighted(m_kind_cumulative));
    auto build = std::make_unique<Build>(*m_loop, *this, id, kind, mix_seed(run.seed, id));
    Build& ref = *build;
    ref.root = root_for(id);
    m_in_flight.emplace(id, std::move(build));
    m_collector.add(metrics::Counter::builds_started);
    ref.admitted_us = now_us();
    if (run.arrival == model::Arrival::ramp && id < run.concurrency) {
      // The first wave is spread over the ramp; later builds start as slots free up.
      ref.phase = Phase::arriving;
      ref.timer.start(static_cast<std::uint64_t>(run.ramp_s * 1000.0 * static_cast<double>(id) / run.concurrency));
    } else {
      start_build(ref);
    }
  }
}

void Runner::start_build(Build& build) {
  if (m_scenario.run.backend == model::Backend::process) {
    start_worker(build);
    return;
  }
  build.admitted_us = now_us();
  build.step = 0;
  begin_step(build);
}

// ---- Steps and mounts --------------------------------------------------------------------

void Runner::begin_step(Build& build) {
  if (m_command) {
    command_step(build);
    return;
  }
  const auto& kind = m_scenario.kinds[static_cast<std::size_t>(build.kind)];
  if (build.step >= kind.steps.size()) {
    finish(build, BuildEnd::completed);
    return;
  }
  const auto& step = kind.steps[build.step];
  build.step_start_us = now_us();
  build.next_mount = 0;
  build.next_op = 0;
  build.step_mounted = false;
  build.mounts.clear();
  const auto& layouts = m_layouts[static_cast<std::size_t>(build.kind)][build.step];
  for (std::size_t i = 0; i < step.mounts.size(); ++i) {
    const auto& mount = step.mounts[i];
    if (auto why = m_profile.rejection(mount); !why.empty()) {
      fail(build, "rejected: " + why);
      return;
    }
    HeldMount held;
    held.key = layouts[i].key;
    held.cache_dir = layouts[i].cache_dir;
    held.lock_file = layouts[i].lock_file;
    held.sharing = mount.sharing;
    held.label = mount.label();
    build.mounts.push_back(std::move(held));
  }
  acquire_next(build);
}

// ---- Command backend: a step is one child process ------------------------------------------

void Runner::command_step(Build& build) {
  if (build.step >= m_command->steps_of(build.kind)) {
    finish(build, BuildEnd::completed);
    return;
  }
  if (build.cancelled) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  build.phase = Phase::running_ops;
  build.step_start_us = now_us();
  m_command->start_step(build.id, build.kind, build.step, build.root, build.cancelled,
                        [this, &build](command::StepVerdict verdict) { on_command_done(build, std::move(verdict)); });
}

void Runner::on_command_done(Build& build, command::StepVerdict verdict) {
  if (verdict.interrupted || (build.cancelled && !verdict.ok)) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  if (!verdict.ok) {
    if (verdict.polluter) {
      // A check saw another build's value or token: a foreign collision naming the writer.
      metrics::Collision collision;
      collision.kind = metrics::CollisionKind::foreign;
      collision.polluter_kind = kind_index(verdict.polluter->kind);
      collision.polluter_build = verdict.polluter->build.value_or(metrics::k_unknown_build);
      collision.victim_kind = build.kind;
      collision.victim_build = build.id;
      collision.file = verdict.polluter->build ? "output (token of build " + std::to_string(*verdict.polluter->build) + ")"
                                               : "output";
      collision.step = build.step;
      m_collector.collision(collision);
    }
    m_collector.command_failure(verdict.failure, build.id, build.kind, verdict.log_path, std::move(verdict.first_lines),
                                verdict.signature);
    build.failure = std::move(verdict.failure);
    finish(build, BuildEnd::failed);
    return;
  }
  end_step(build);
}

void Runner::acquire_next(Build& build) {
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
      m_collector.lock_events().waiting(build.root, mount.cache_dir, build.id, build.kind, build.wait_start_us - m_start_us);
    }
  }
  if (m_profile.private_style() == semantics::PrivateStyle::instance_pool) {
    try_instance(build, mount);
    return;
  }
  if (mount.sharing == Sharing::locked && m_profile.lock_style() == LockStyle::kernel_gate) {
    CacheState& state = m_mounts.state(build.root, mount.lock_file);
    if (state.gate_busy) {
      mount.queued = true;
      build.phase = Phase::waiting_gate;
      state.gate_queue.push_back(&build);
    } else {
      state.gate_busy = true;
      submit_kernel_lock(build);
    }
    // One timer covers the gate queue and the kernel wait; granted() stops it.
    if (build.lock_deadline_us != 0) build.timer.start(m_scenario.run.lock_timeout_ms);
    return;
  }
  granted(build, mount);  // Buildah shared: a plain bind mount, no coordination
}

void Runner::try_instance(Build& build, HeldMount& mount) {
  CacheState& state = m_mounts.state(build.root, mount.key);
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
  if (created) m_collector.add(metrics::Counter::instances_created);
  mount.instance = *instance;
  granted(build, mount);
}

void Runner::submit_kernel_lock(Build& build) {
  HeldMount& mount = build.mounts[build.next_mount];
  build.phase = Phase::waiting_kernel;
  build.lock_job.root = m_workspace.get();
  build.lock_job.path = build.root + "/" + mount.lock_file;
  build.lock_job.kind = m_scenario.run.lock_kind;
  m_waiters->submit(&build.lock_job);
}

void Runner::on_kernel_lock(Build& build, int result) {
  HeldMount& mount = build.mounts[build.next_mount];
  if (result < 0) {
    // Never held: hand the gate on before this build goes.
    pass_gate(m_mounts.state(build.root, mount.lock_file));
    if (build.lock_timed_out && !build.cancelled) {
      fail(build, lock_timeout_reason(build));
    } else if (build.cancelled || result == -ECANCELED) {
      finish(build, BuildEnd::interrupted);
    } else {
      fail(build, errno_failure("lock", -result));
    }
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
    pass_gate(m_mounts.state(build.root, mount.lock_file));
  }
  granted(build, mount);
}

void Runner::pass_gate(CacheState& state) {
  if (state.gate_queue.empty()) {
    state.gate_busy = false;
    return;
  }
  Build* next = state.gate_queue.front();
  state.gate_queue.pop_front();
  submit_kernel_lock(*next);
}

void Runner::granted(Build& build, HeldMount& mount) {
  if (build.lock_deadline_us != 0) build.timer.stop();
  build.lock_deadline_us = 0;
  mount.granted = true;
  mount.granted_us = now_us();
  if (mount.sharing != Sharing::shared) m_lock_holder[holder_key(build, mount)] = build.id;
  mount.instance_dir = build.root + "/" + mount.cache_dir;
  if (m_profile.private_style() == semantics::PrivateStyle::instance_pool) {
    mount.instance_dir += "/" + std::to_string(mount.instance);
  }
  if (mount.sharing == Sharing::locked) {
    m_collector.record_lock_wait(mount.granted_us - build.wait_start_us, mount.queued, build.id, build.kind);
    m_collector.lock_events().granted(build.root, mount.cache_dir, build.id, mount.granted_us - m_start_us);
  }
  auto entry = m_holders.enter(mount.instance_dir, {build.id, build.kind, mount.sharing});
  if (entry.overlapped) m_collector.add(metrics::Counter::mounts_overlapped);
  if (const auto& conflict = entry.conflict) {
    m_collector.collision({metrics::CollisionKind::lock_overlap, conflict->kind, conflict->build, build.kind, build.id,
                           mount.instance_dir, build.step});
  }
  ++build.next_mount;
  acquire_next(build);
}

// ---- Operations --------------------------------------------------------------------------

void Runner::run_ops(Build& build) {
  if (build.cancelled) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  const auto& step = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps[build.step];
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

void Runner::queue_batch(Build& build) {
  const auto& kind = m_scenario.kinds[static_cast<std::size_t>(build.kind)];
  const auto& step = kind.steps[build.step];
  OpBatch& batch = build.batch;
  batch.clear();
  batch.root = m_workspace.get();
  batch.self_build = build.id;
  if (!build.step_mounted) {
    for (const auto& mount : build.mounts) batch.ensure_dirs.push_back(mount.instance_dir);
  }
  batch.items.reserve(step.ops.size() - build.next_op);
  for (std::size_t i = build.next_op; i < step.ops.size() && step.ops[i].kind != model::OpKind::hold; ++i) {
    const auto& op = step.ops[i];
    OpItem item;
    item.op = &op;
    item.path = op.kind == model::OpKind::prune ? build.root : build.mounts[op.mount].instance_dir;
    if (!op.file.empty()) item.path += "/" + op.file;
    if (op.kind == model::OpKind::write || op.kind == model::OpKind::append || op.kind == model::OpKind::extract) {
      item.token = {build.id, kind.name, build.step, build.seq++, op.value};
      remember(m_last_writer, item.path, build.id, build.kind);
    }
    batch.items.push_back(std::move(item));
  }
  build.phase = Phase::running_ops;
  if (m_scenario.run.backend == model::Backend::fake) {
    // The fake backend touches no files: every operation succeeds on the next loop turn.
    batch.outcomes.assign(batch.items.size(), OpOutcome{});
    build.timer.start(0);
    return;
  }
  int rc = uv_queue_work(
      m_loop->raw(), &build.work, [](uv_work_t* w) { execute(static_cast<Build*>(w->data)->batch); },
      [](uv_work_t* w, int status) {
        auto* b = static_cast<Build*>(w->data);
        b->runner.on_batch_done(*b, status);
      });
  if (rc != 0) fail(build, "other: queue work " + std::string(uv_err_name(rc)));
}

void Runner::on_batch_done(Build& build, int status) {
  OpBatch& batch = build.batch;
  build.step_mounted = true;
  if (status != 0 || batch.ensure_error != 0) {
    m_collector.add(metrics::Counter::io_errors);
    fail(build, batch.ensure_error != 0 ? errno_failure("mount", -batch.ensure_error)
                                        : "other: threadpool " + std::string(uv_err_name(status)));
    return;
  }
  for (std::size_t i = 0; i < batch.items.size(); ++i) {
    const OpOutcome& outcome = batch.outcomes[i];
    account_outcome(build, batch.items[i], outcome);
    if (outcome.lock_fd >= 0) build.workload_locks.push_back(outcome.lock_fd);
    if (outcome.raced) m_collector.add(metrics::Counter::races_rename);
    if (outcome.busy) {
      fail(build, "lock-busy: could not get lock " + batch.items[i].op->file);
      return;
    }
    if (outcome.error != 0) {
      m_collector.add(metrics::Counter::io_errors);
      fail(build, errno_failure(model::to_string(batch.items[i].op->kind), -outcome.error));
      return;
    }
  }
  build.next_op += batch.items.size();
  run_ops(build);
}

void Runner::account_outcome(Build& build, const OpItem& item, const OpOutcome& outcome) {
  if (outcome.error != 0) return;
  m_collector.add(metrics::Counter::ops_completed);
  m_collector.add(metrics::Counter::bytes_written, outcome.bytes_written);
  m_collector.add(metrics::Counter::bytes_read, outcome.bytes_read);
  if (item.op->kind == model::OpKind::remove) {
    remember(m_last_deleter, item.path, build.id, build.kind);
    return;
  }
  if (!outcome.inspected || outcome.inspection.verdict == oracle::Verdict::ok) return;
  metrics::Collision collision;
  collision.victim_kind = build.kind;
  collision.victim_build = build.id;
  collision.file = item.path;
  collision.step = build.step;
  const auto& writer = outcome.inspection.writer;
  switch (outcome.inspection.verdict) {
    case oracle::Verdict::foreign: collision.kind = metrics::CollisionKind::foreign; break;
    case oracle::Verdict::torn: collision.kind = metrics::CollisionKind::torn; break;
    case oracle::Verdict::missing: collision.kind = metrics::CollisionKind::missing; break;
    case oracle::Verdict::ok: return;
  }
  if (writer && writer->build != build.id) {
    collision.polluter_kind = kind_index(writer->kind);
    collision.polluter_build = writer->build;
  } else if (collision.kind != metrics::CollisionKind::foreign) {
    const auto& actors = collision.kind == metrics::CollisionKind::missing ? m_last_deleter : m_last_writer;
    if (auto it = actors.find(item.path); it != actors.end() && it->second.first != build.id) {
      collision.polluter_build = it->second.first;
      collision.polluter_kind = it->second.second;
    }
  }
  m_collector.collision(collision);
}

void Runner::release_mounts(Build& build) {
  std::uint64_t now = now_us();
  for (int fd : build.workload_locks) ::close(fd);  // closing drops the OFD lock
  build.workload_locks.clear();
  for (auto it = build.mounts.rbegin(); it != build.mounts.rend(); ++it) {
    HeldMount& mount = *it;
    if (!mount.granted) continue;
    mount.granted = false;
    m_holders.leave(mount.instance_dir, build.id);
    if (auto holder = m_lock_holder.find(holder_key(build, mount)); holder != m_lock_holder.end() && holder->second == build.id) {
      m_lock_holder.erase(holder);
    }
    if (mount.sharing == Sharing::locked) {
      m_collector.record(metrics::Hist::lock_hold_us, now - mount.granted_us);
      m_collector.lock_events().released(build.root, mount.cache_dir, build.id, now - m_start_us);
    }
    if (m_profile.private_style() == semantics::PrivateStyle::instance_pool) {
      release_instance(m_mounts.state(build.root, mount.key), mount.instance, mount.sharing);
      m_mounts.forget_if_idle(build.root, mount.key, true);
      continue;
    }
    if (mount.lock_fd >= 0) {
      // Unlocking never waits, so it is done here rather than on a worker.
      (void)lock::release(mount.lock_fd, m_scenario.run.lock_kind);
      ::close(mount.lock_fd);
      mount.lock_fd = -1;
      if (mount.holds_gate) pass_gate(m_mounts.state(build.root, mount.lock_file));
      mount.holds_gate = false;
      m_mounts.forget_if_idle(build.root, mount.lock_file, false);
    }
  }
}

void Runner::end_step(Build& build) {
  release_mounts(build);
  m_collector.record(metrics::Hist::step_latency_us, now_us() - build.step_start_us);
  m_collector.add(metrics::Counter::steps_completed);
  const auto& steps = m_scenario.kinds[static_cast<std::size_t>(build.kind)].steps;
  // A command build of a kind without steps runs one step with no gap.
  const std::uint32_t gap_ms = build.step < steps.size() ? steps[build.step].gap_ms : 0;
  ++build.step;
  if (gap_ms > 0 && !build.cancelled) {
    build.phase = Phase::gap;
    build.timer.start(gap_ms);
    return;
  }
  if (build.cancelled) {
    finish(build, BuildEnd::interrupted);
    return;
  }
  begin_step(build);
}

void Runner::on_timer(Build& build) {
  switch (build.phase) {
    case Phase::arriving: start_build(build); break;
    case Phase::holding:
      ++build.next_op;
      m_collector.add(metrics::Counter::ops_completed);
      run_ops(build);
      break;
    case Phase::gap: begin_step(build); break;
    case Phase::polling: acquire_next(build); break;
    case Phase::waiting_gate:
    case Phase::waiting_kernel: lock_timeout(build); break;
    case Phase::running_ops: on_batch_done(build, 0); break;  // fake backend
    case Phase::worker:
      if (build.worker_waiting && !build.cancelled) {
        worker_lock_timeout(build);  // --lock-timeout, started by its "waiting" event
      } else {
        build.process->kill(SIGKILL);  // it outlived the interrupt's grace
      }
      break;
    default: break;
  }
}

// ---- Lock timeouts and deadlocks ---------------------------------------------------------

std::string Runner::holder_key(const Build& build, const HeldMount& mount) const { return build.root + "|" + mount.key; }

void Runner::lock_timeout(Build& build) {
  build.lock_timed_out = true;
  switch (build.phase) {
    case Phase::waiting_gate: {
      auto& mount = build.mounts[build.next_mount];
      std::erase(m_mounts.state(build.root, mount.lock_file).gate_queue, &build);
      fail(build, lock_timeout_reason(build));
      break;
    }
    case Phase::waiting_kernel: m_waiters->cancel(&build.lock_job); break;  // on_kernel_lock() fails it
    default: fail(build, lock_timeout_reason(build)); break;                // polling
  }
}

// Follows "waits for a key held by" edges from this build: a path back to it is a deadlock,
// named by the two keys of its first edges (ABBA); anything else is a plain timeout.
std::string Runner::lock_timeout_reason(const Build& build) const {
  const HeldMount& wanted = build.mounts[build.next_mount];
  const std::string timeout = lock_timeout_text(m_scenario.run.lock_timeout_ms, wanted.label);
  const Build* current = &build;
  std::string second_label;
  for (std::size_t hops = 0; hops <= m_in_flight.size(); ++hops) {
    const HeldMount& waiting_for = current->mounts[current->next_mount];
    auto holder = m_lock_holder.find(holder_key(*current, waiting_for));
    if (holder == m_lock_holder.end()) return timeout;
    if (holder->second == build.id) {
      return deadlock_text(wanted.label, second_label.empty() ? waiting_for.label : second_label);
    }
    auto next = m_in_flight.find(holder->second);
    if (next == m_in_flight.end()) return timeout;
    const Build& other = *next->second;
    const bool other_waits = other.phase == Phase::waiting_gate || other.phase == Phase::waiting_kernel ||
                             other.phase == Phase::polling;
    if (!other_waits || other.next_mount >= other.mounts.size()) return timeout;
    if (second_label.empty()) second_label = other.mounts[other.next_mount].label;
    current = &other;
  }
  return timeout;
}

// ---- Ending builds -----------------------------------------------------------------------

void Runner::fail(Build& build, std::string reason) {
  m_collector.failure(reason, build.id, build.kind);
  build.failure = std::move(reason);
  finish(build, BuildEnd::failed);
}

void Runner::finish(Build& build, BuildEnd end) {
  build.end = end;
  build.timer.stop();
  release_mounts(build);
  if (m_scenario.run.isolation.kind == model::IsolationKind::per_build && m_scenario.run.backend != model::Backend::fake &&
      m_scenario.run.env_policy == model::EnvPolicy::propagate) {
    // A per-build cache root is private to this build: remove it now so disk and memory
    // stay flat however many builds run.
    build.phase = Phase::removing_root;
    core::queue_work(
        *m_loop, [root = m_workspace.get(), path = build.root] { (void)root->remove_tree(path); },
        [this, &build](int) {
          m_mounts.drop_root(build.root);
          retire(build);
        });
    return;
  }
  retire(build);
}

void Runner::retire(Build& build) {
  switch (build.end) {
    case BuildEnd::completed:
      m_collector.add(metrics::Counter::builds_completed);
      m_collector.record(metrics::Hist::build_latency_us, now_us() - build.admitted_us);
      break;
    case BuildEnd::failed: m_collector.add(metrics::Counter::builds_failed); break;
    case BuildEnd::interrupted: m_collector.add(metrics::Counter::builds_interrupted); break;
  }
  m_in_flight.erase(build.id);  // destroys the build: nothing of it is outstanding now
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
  m_collector.set_duration(static_cast<double>(now_us() - m_start_us) / 1e6);
  m_collector.close_interval(static_cast<double>(now_us() - m_start_us) / 1e6, 0);
  m_interval_timer->stop();
  if (m_duration_timer) m_duration_timer->stop();
  if (m_arrival_timer) m_arrival_timer->stop();
  if (m_fault_timer) m_fault_timer->stop();
  if (m_options.keep) return;
  core::queue_work(
      *m_loop, [root = m_workspace.get()] { (void)root->remove_tree(""); },
      [this](int) {
        if (m_tmpfs) m_tmpfs->detach();  // the directory underneath is empty: rmdir works
        if (m_workspace_created && ::rmdir(m_workspace_path.c_str()) != 0) {
          spdlog::warn("could not remove workspace {}: {}", m_workspace_path, errno_text(errno));
        }
      });
}

void Runner::interrupt(int signum) {
  if (m_signal != 0) {
    abort_now(signum);
    return;
  }
  m_signal = signum;
  m_stopping = true;
  spdlog::warn("{}: stopping admissions, ending {} builds in flight", strsignal(signum), m_in_flight.size());
  if (m_arrival_timer) m_arrival_timer->stop();
  if (!m_interval_timer) {
    if (m_command) m_command->kill_all(SIGTERM);  // still in [command] setup: nothing admitted yet
    return;
  }
  std::vector<Build*> builds;
  for (auto& [id, build] : m_in_flight) builds.push_back(build.get());
  for (Build* build : builds) {
    build->cancelled = true;
    switch (build->phase) {
      case Phase::arriving:
      case Phase::holding:
      case Phase::gap:
      case Phase::polling:
        finish(*build, BuildEnd::interrupted);
        break;
      case Phase::waiting_gate: {
        auto& queue = m_mounts.state(build->root, build->mounts[build->next_mount].lock_file).gate_queue;
        std::erase(queue, build);
        finish(*build, BuildEnd::interrupted);
        break;
      }
      case Phase::waiting_kernel: m_waiters->cancel(&build->lock_job); break;
      case Phase::worker: interrupt_worker(*build, signum); break;  // its exit ends it
      case Phase::running_ops:
        if (m_command) m_command->kill(build->id, SIGTERM);  // its exit ends the build
        break;
      case Phase::acquiring:
      case Phase::removing_root:
        break;  // their callback sees `cancelled` and ends them
    }
  }
  maybe_end_run();
}

void Runner::abort_now(int signum) {
  // A second signal: no more waiting for in-flight work, but the workspace still goes.
  spdlog::error("{} again: aborting now", strsignal(signum));
  if (m_command) m_command->kill_all(SIGKILL);  // children live in their own sessions
  kill_workers_now();  // killed and reaped before their files go
  if (!m_options.keep && m_workspace) {
    (void)m_workspace->remove_tree("");
    if (m_tmpfs) m_tmpfs->detach();
    if (m_workspace_created) ::rmdir(m_workspace_path.c_str());
  }
  std::_Exit(128 + signum);
}

}  // namespace cachestress::run
