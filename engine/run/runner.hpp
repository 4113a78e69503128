#pragma once
// The runner: admits builds up to the concurrency cap (together, ramp or Poisson
// arrivals), drives each build's state machine on the loop thread, stops on a build count,
// a duration or a signal, and hands a RunOutcome to the reporters.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/command/command_runner.hpp"
#include "engine/core/loop.hpp"
#include "engine/fault/stale_lock.hpp"
#include "engine/fault/tmpfs_workspace.hpp"
#include "engine/fs/safe_fs.hpp"
#include "engine/lock/waiter_pool.hpp"
#include "engine/metrics/collector.hpp"
#include "engine/model/scenario.hpp"
#include "engine/run/build.hpp"
#include "engine/run/environment.hpp"
#include "engine/run/mount_table.hpp"
#include "engine/semantics/profile.hpp"
#include "engine/worker/protocol.hpp"

namespace cachestress::run {

struct RunOptions {
  model::Scenario scenario;  // fully resolved (flags applied)
  std::string workdir;       // empty: a fresh directory under $TMPDIR
  bool keep = false;         // keep the workspace after the run
  unsigned lock_threads = 8; // dedicated kernel-lock waiter threads
  std::string failure_dir;   // backend command: failed builds' output goes here (empty: not kept)
  // Called on the loop thread after each interval (live progress).
  std::function<void(const metrics::Collector&, double elapsed_s, std::uint64_t in_flight)> on_interval;
};

struct RunOutcome {
  std::unique_ptr<metrics::RunMetrics> metrics;
  bool interrupted = false;
  int signal = 0;            // the signal that interrupted the run
  std::string workdir;
  bool workdir_kept = false;
  std::chrono::system_clock::time_point started_at;
  std::vector<std::string> kind_names;
  Environment environment;  // read while the workspace existed
  // [faults] as they were really injected (absent / 0 when the scenario asked for none).
  std::optional<fault::StaleLockReport> stale_lock;
  std::uint32_t enospc_tmpfs_kb = 0;  // the workspace was a tmpfs of this size
};

class Runner {
 public:
  explicit Runner(RunOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs the whole scenario. Throws EnvironmentError when the workspace cannot be made.
  RunOutcome run();

  // Loop-thread entry points used by builds' callbacks.
  void on_timer(Build& build);
  void on_batch_done(Build& build, int status);
  void on_kernel_lock(Build& build, int result);

 private:
  void start();
  void admit();
  bool may_admit() const;
  void start_build(Build& build);
  void begin_step(Build& build);
  void command_step(Build& build);
  void on_command_done(Build& build, command::StepVerdict verdict);
  void acquire_next(Build& build);
  void try_instance(Build& build, HeldMount& mount);
  void granted(Build& build, HeldMount& mount);
  void pass_gate(CacheState& state);
  void submit_kernel_lock(Build& build);
  void lock_timeout(Build& build);
  std::string lock_timeout_reason(const Build& build) const;
  std::string holder_key(const Build& build, const HeldMount& mount) const;
  void run_ops(Build& build);
  void queue_batch(Build& build);
  void account_outcome(Build& build, const OpItem& item, const OpOutcome& outcome);
  void release_mounts(Build& build);
  void end_step(Build& build);
  void fail(Build& build, std::string reason);
  void finish(Build& build, BuildEnd end);
  void retire(Build& build);
  void interrupt(int signum);
  void abort_now(int signum);
  // --backend process (engine/run/process_backend.cpp).
  void start_worker(Build& build);
  void on_worker_event(Build& build, const worker::protocol::Event& event);
  void on_worker_exit(Build& build, std::int64_t exit_status, int term_signal);
  void worker_granted(Build& build, const worker::protocol::Granted& granted);
  void interrupt_worker(Build& build, int signum);
  void kill_workers_now() noexcept;
  void fire_kill_lock_holder();
  std::string lock_name(const Build& build, std::uint32_t step, std::uint32_t mount) const;
  const model::Mount* worker_mount(const Build& build, std::uint32_t step, std::uint32_t mount) const;
  std::string mount_label(const Build& build, std::uint32_t step, std::uint32_t mount) const;
  std::string worker_cache_dir(const Build& build, std::uint32_t step, std::uint32_t mount) const;
  void worker_waiting(Build& build, const worker::protocol::Waiting& waiting);
  void end_worker_wait(Build& build);
  void worker_lock_timeout(Build& build);
  bool waits_on_dying_worker(const Build& build) const;
  const Build* worker_blocking(const Build& waiter) const;
  std::string worker_lock_reason(const Build& build, std::string_view fallback) const;
  std::string isolation_root(std::uint64_t build_id) const;
  void maybe_end_run();
  void end_run();
  std::uint64_t now_us() const;
  int kind_index(const std::string& name) const;
  std::string root_for(std::uint64_t build_id) const;
  std::vector<std::string> stale_lock_paths() const;

  RunOptions m_options;
  const model::Scenario& m_scenario;
  const semantics::Profile& m_profile;
  std::unique_ptr<core::Loop> m_loop;
  std::unique_ptr<fs::Root> m_workspace;
  std::string m_workspace_path;
  bool m_workspace_created = false;  // we made it, so we remove it (not just its contents)
  std::unique_ptr<fault::TmpfsWorkspace> m_tmpfs;  // [faults] enospc_tmpfs_kb
  std::optional<fault::StaleLockReport> m_stale_lock;
  std::unique_ptr<lock::WaiterPool> m_waiters;
  std::unique_ptr<command::CommandRunner> m_command;  // backend command only
  std::string m_setup_error;
  std::unique_ptr<core::Timer> m_interval_timer, m_duration_timer, m_arrival_timer;
  // [faults] kill_lock_holder: fires once, kill_lock_holder_ms after the chosen build's grant.
  std::unique_ptr<core::Timer> m_fault_timer;
  bool m_fault_armed = false;
  std::uint64_t m_fault_build = 0;
  std::vector<std::unique_ptr<core::Signal>> m_signals;
  metrics::Collector m_collector;
  MountTable m_mounts;
  HolderRegistry m_holders;
  // Who holds each locked/private cache (root|key), for naming deadlocks on a lock timeout.
  std::unordered_map<std::string, std::uint64_t> m_lock_holder;
  std::unordered_map<std::uint64_t, std::unique_ptr<Build>> m_in_flight;
  // Who last started writing / removed each path, to name the polluter of a torn or
  // missing read (the file itself cannot say). Bounded; cleared when full.
  using LastActor = std::unordered_map<std::string, std::pair<std::uint64_t, int>>;
  static void remember(LastActor& actors, const std::string& path, std::uint64_t build, int kind);
  LastActor m_last_writer;
  LastActor m_last_deleter;
  std::unordered_map<std::string, int> m_kind_by_name;
  std::vector<std::uint64_t> m_kind_cumulative;
  std::vector<std::vector<std::vector<semantics::MountLayout>>> m_layouts;  // [kind][step][mount]
  Rng m_rng;
  std::string m_worker_exe;  // --backend process: our own binary, run as `cachestress worker`
  // --backend process: the latest grant of each locked cache still held (lock name -> build,
  // kind, wait), so a holder's death can name the build that got the lock next.
  struct LastGrant {
    std::uint64_t build = 0;
    int kind = 0;
    std::uint64_t wait_us = 0;
  };
  std::unordered_map<std::string, LastGrant> m_last_grant;
  std::uint64_t m_next_build = 0;
  std::uint64_t m_pending_arrivals = 0;
  std::uint64_t m_start_us = 0;
  bool m_stopping = false;
  bool m_ended = false;
  int m_signal = 0;
  std::chrono::system_clock::time_point m_started_at;
  Environment m_environment;
};

}  // namespace cachestress::run
