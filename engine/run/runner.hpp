#pragma once
// The runner: admits builds up to the concurrency cap (together, ramp or Poisson
// arrivals), hands each to the backend (engine/backend/), stops on a build count, a
// duration or a signal, counts how builds ended, owns the workspace, and hands a RunOutcome
// to the reporters. Nothing here depends on which backend runs.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/backend/layouts.hpp"
#include "engine/backend/recorder.hpp"
#include "engine/core/loop.hpp"
#include "engine/fault/stale_lock.hpp"
#include "engine/metrics/collector.hpp"
#include "engine/model/scenario.hpp"
#include "engine/ops/rng.hpp"
#include "engine/run/environment.hpp"
#include "engine/run/outcome.hpp"
#include "engine/run/run_observer.hpp"
#include "engine/run/workspace.hpp"
#include "engine/semantics/profile.hpp"

namespace cachestress::run {

struct RunOptions {
  model::Scenario scenario;  // fully resolved (flags applied)
  std::string workdir;       // empty: a fresh directory under $TMPDIR
  bool keep = false;         // keep the workspace after the run
  unsigned lock_threads = 8; // dedicated kernel-lock waiter threads
  unsigned io_threads = 8;   // in-process builds' file operations (BatchLanes)
  std::string failure_dir;   // backend command: failed builds' output goes here (empty: not kept)
  // Called on the loop thread after each interval (live progress).
  std::function<void(const metrics::Collector&, double elapsed_s, std::uint64_t in_flight)> on_interval;
  // Which backend runs the builds; empty: the scenario's --backend (engine/backend/registry).
  backend::Factory backend;

  // One of several processes running one scenario together (cachestress-mpi). Build ids are
  // global: this process runs ids first_build_id, + build_id_stride, ... and `builds` is its
  // own share. Empty hooks and the defaults are a single-host run.
  std::uint64_t first_build_id = 0;
  std::uint64_t build_id_stride = 1;
  std::string host;  // names the per-host cache root (default: this machine's hostname)
  // Makes the workspace (default: run::Workspace over `workdir`). Several processes sharing
  // one joined workspace each remove only what they created.
  std::function<std::unique_ptr<Workspace>(const std::string& workdir, bool keep, std::uint32_t tmpfs_kb)> make_workspace;
  bool leave_stale_locks = true;  // [faults] stale_lock: false on all but one process
  std::function<int(std::uint64_t build)> host_of;  // which host runs a build (cross-host collisions)
  RunObserver* observer = nullptr;
  // After the loop has closed and before the workspace goes: may block (gathers results from
  // the other processes). The workspace is removed after it returns.
  std::function<void(RunOutcome&)> after_run;
};

class Runner final : private backend::Host, private RunControl {
 public:
  explicit Runner(RunOptions options);
  ~Runner() override;
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs the whole scenario. Throws EnvironmentError when the workspace cannot be made.
  RunOutcome run();

 private:
  // One admitted build, as the runner keeps it: the backend keeps the rest.
  struct Admitted {
    std::uint64_t id = 0;
    int kind = 0;
    std::string root;
    std::uint64_t seed = 0;
    std::uint64_t admitted_us = 0;  // when it really started (after a ramp's delay)
    std::unique_ptr<core::Timer> arrival;  // ramp: its start time
    bool started = false;          // handed to the backend
    bool staged = false;           // handed over with Backend::stage_build, not yet started
    bool removing_root = false;    // ended; its per-build cache root is being removed
    std::uint64_t ended_us = 0;    // when its work ended (BuildResult::ended_us, or build_ended's now)
  };

  // backend::Host
  void build_ended(std::uint64_t build, backend::BuildResult result) override;
  void build_started(std::uint64_t build, std::uint64_t at_us) override;
  bool stopping() const override { return m_stopping; }
  std::uint64_t since_start_us(std::uint64_t now_us) const override { return now_us - m_start_us; }
  std::string isolation_root(std::uint64_t build_id) const override;

  // RunControl and backend::Host
  void stop_run(const std::string& reason) override;

  void start();
  void admit();
  void admit_now();
  void arrivals_due();  // Poisson: the arrivals due by now, then the timer to the next
  bool may_admit() const;
  void stage_next();
  bool stage_one();
  backend::BuildTicket next_ticket();
  Admitted& take(backend::BuildTicket ticket);
  std::size_t running() const { return m_in_flight.size() - m_staged; }
  // A core::now_us() time as milliseconds since the run started (-vv trace lines).
  double run_ms(std::uint64_t at_us) const { return static_cast<double>(at_us - m_start_us) / 1000; }
  void start_build(Admitted& build);
  void retire(std::uint64_t id, backend::BuildEnd end);
  void interrupt(int signum);
  void interrupt_builds(int signum);
  void withdraw_future_arrivals();
  [[noreturn]] void abort_now(int signum);
  void maybe_end_run();
  void end_run();
  std::string root_for(std::uint64_t build_id) const;
  std::vector<std::string> stale_lock_paths() const;

  RunOptions m_options;
  const model::Scenario& m_scenario;
  const semantics::Profile& m_profile;
  backend::Layouts m_layouts;
  std::unique_ptr<Workspace> m_workspace;
  std::optional<fault::StaleLockReport> m_stale_lock;
  std::unique_ptr<core::Loop> m_loop;
  metrics::Collector m_collector;
  backend::Recorder m_recorder;
  std::unique_ptr<backend::Context> m_context;
  std::unique_ptr<backend::Backend> m_backend;
  std::string m_setup_error;
  std::unique_ptr<core::Timer> m_interval_timer, m_duration_timer, m_arrival_timer;
  std::vector<std::unique_ptr<core::Signal>> m_signals;
  std::unordered_map<std::uint64_t, Admitted> m_in_flight;
  std::vector<std::uint64_t> m_kind_cumulative;
  ops::Rng m_rng;          // kinds, in admission order
  ops::Rng m_arrival_rng;  // Poisson gaps: their own stream, so how arrivals and admissions
                           // interleave in time never changes which kind a build is
  std::uint64_t m_next_build = 0;
  std::optional<int> m_drawn_kind;  // the next build's kind, drawn for a staging the backend declined
  std::size_t m_staged = 0;         // builds in m_in_flight that are staged, not started
  std::uint64_t m_pending_arrivals = 0;  // Poisson arrivals not admitted yet (every slot taken)
  double m_next_arrival_us = 0;          // the next Poisson arrival, on core::now_us()'s clock
  std::uint64_t m_start_us = 0;
  bool m_stopping = false;
  bool m_admitting = false;      // inside admit(): a build that ends there counts in m_ends_inside
  std::size_t m_ends_inside = 0;
  std::unique_ptr<core::Async> m_readmit;  // admission goes on next turn (admit)
  bool m_ended = false;
  int m_signal = 0;
  std::string m_stop_reason;  // stop_run's
  std::chrono::system_clock::time_point m_started_at;
  Environment m_environment;
};

}  // namespace cachestress::run
