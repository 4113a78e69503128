#pragma once
// The Backend seam: how one admitted build is carried out. The runner (engine/run/) admits
// builds, keeps arrivals, stop conditions, signals, the workspace and the per-build
// accounting, the same for every backend; a backend runs the build's steps and tells the
// runner when it ended. What happens inside a build (waits, grants, releases, operations,
// collisions, steps) is reported through one vocabulary, the Recorder (recorder.hpp).
//
// Backends: inproc (state machine on the loop, file work on its lanes), fake (inproc
// touching no files), process (a child process per build), command (a user's command per
// step). registry.cpp lists them, one line each; a test can hand the runner its own factory.
//
// Threading: every call, both ways, is on the loop thread.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/core/loop.hpp"
#include "engine/fs/safe_fs.hpp"
#include "engine/backend/layouts.hpp"
#include "engine/metrics/collector.hpp"
#include "engine/model/scenario.hpp"
#include "engine/semantics/profile.hpp"

namespace cachestress::backend {

class Recorder;

enum class BuildEnd { completed, failed, interrupted };

// One admitted build, as the runner hands it over.
struct BuildTicket {
  std::uint64_t id = 0;
  int kind = 0;            // index into scenario.kinds
  std::string root;        // its cache root, relative to the workspace ("roots/b12")
  std::uint64_t seed = 0;  // its own random stream
};

// How a build ended. A failed build's reason reads "category: detail"; the runner counts it
// in failures.* unless the backend already recorded a richer entry itself (failure_recorded).
struct BuildResult {
  BuildEnd end = BuildEnd::completed;
  std::string failure;
  bool failure_recorded = false;
  // When the build's own work ended (core::now_us(), e.g. as a waiter thread let its last
  // lock go); 0: when build_ended() is called. Build latency ends here.
  std::uint64_t ended_us = 0;
};

// The runner as a backend sees it.
class Host {
 public:
  virtual ~Host() = default;
  // The build is over and nothing of it is outstanding in the backend (no request, no
  // timer, no child). Called once per start_build(), possibly from inside it (a build
  // rejected at once); the runner may start the next build from inside this call.
  virtual void build_ended(std::uint64_t build, BuildResult result) = 0;
  // A build the backend accepted through stage_build() really started, at `at_us`
  // (core::now_us(), possibly stamped off the loop thread): its latency counts from there.
  virtual void build_started(std::uint64_t build, std::uint64_t at_us) = 0;
  // No more admissions (duration over, or a signal): a fault should not fire any more.
  virtual bool stopping() const = 0;
  // The backend cannot run builds any more (its fork server died): end the run as a signal
  // would, with `reason` in the log and the outcome (exit 3), rather than fail every build left.
  virtual void stop_run(const std::string& reason) = 0;
  // Microseconds since the run started (the clock of lock_events and intervals).
  virtual std::uint64_t since_start_us(std::uint64_t now_us) const = 0;
  // The cache root the build's isolation gives it, ignoring the environment policy (what a
  // worker's plan names; under --env-policy drop its TMPDIR says otherwise).
  virtual std::string isolation_root(std::uint64_t build) const = 0;
};

// What the runner owns and lends to its backend for the whole run.
struct Context {
  core::Loop& loop;
  const model::Scenario& scenario;
  const semantics::Profile& profile;
  const Layouts& layouts;
  const fs::Root& workspace;
  const std::string& workspace_path;
  metrics::Collector& collector;
  Recorder& recorder;
  Host& host;
  unsigned lock_threads = 8;  // --lock-threads
  std::string failure_dir;    // command backend: failed builds' output (empty: not kept)
  unsigned io_threads = 8;    // --io-threads: lanes for in-process op batches
};

// How many builds the runner stages ahead of those in flight (Runner::stage_next; why these
// depths: engine/run/runner.cpp), and below how many still staged a backend that started
// one wakes the loop so the runner stages more: half, which leaves the loop half a depth of
// builds' time to get a CPU. At --concurrency 1 the depth is smaller (a chain of one cache).
inline constexpr std::size_t k_staged_depth = 256;
inline constexpr std::size_t k_staged_depth_one = 128;
inline constexpr std::size_t k_staged_low = k_staged_depth / 2;
inline constexpr std::size_t k_staged_low_one = k_staged_depth_one / 2;

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Before the first admission (e.g. [command] setup). `ready` is called once, on a later
  // loop turn or right away: an empty string, or why the run cannot start.
  virtual void prepare(std::function<void(std::string error)> ready) { ready({}); }
  // A signal arrived while prepare() was still going: stop it (ready still follows).
  virtual void interrupt_prepare(int /*signum*/) {}
  // Runs one build; Host::build_ended follows exactly once.
  virtual void start_build(const BuildTicket& ticket) = 0;
  // Every slot taken (as many builds in flight as --concurrency): the next build, to be
  // started by the backend itself the moment one in flight ends, without waiting for the
  // loop (the waiter thread that lets a lock go, or the lane whose build's one batch ended,
  // starts it). False: not possible here; the
  // runner starts the build itself later. True: Host::build_started follows once it really
  // starts, then build_ended; interrupt() may come before either.
  virtual bool stage_build(const BuildTicket& /*ticket*/) { return false; }
  // A slot is free while builds are staged: the oldest staged build starts now, if the
  // backend can start one on the loop's word (Host::build_started is called before this
  // returns). False: it cannot (a staged build then waits for a build in flight to end).
  virtual bool start_staged() { return false; }
  // Admissions stopped (the duration is over): no staged build may start from now on. Each
  // one not started yet ends with build_ended(interrupted), now or later (the runner counts
  // none of them); one the backend already started runs on.
  virtual void unstage() {}
  // First SIGINT/SIGTERM: end the build soon (build_ended(interrupted) follows).
  virtual void interrupt(std::uint64_t build, int signum) = 0;
  // Second signal: the process is about to _exit. Kill and reap every child now.
  virtual void kill_all_now() noexcept {}
  // The last build ended: stop any timer of the backend's own, so the loop can finish.
  virtual void run_ended() {}
  // Once per run, after run_ended (or after a failed prepare) and before the workspace is
  // removed: stop what prepare started (e.g. [command] teardown). `done` is called once, on a
  // later loop turn or right away.
  virtual void teardown(std::function<void()> done) { done(); }
  // A per-build cache root was removed from disk: forget what was kept about it.
  virtual void forget_root(const std::string& /*root*/) {}
  // Whether builds create files under their cache root (the runner removes a per-build
  // root when the build ends; the fake backend creates nothing).
  virtual bool writes_files() const { return true; }
};

using Factory = std::function<std::unique_ptr<Backend>(Context& context)>;

}  // namespace cachestress::backend
