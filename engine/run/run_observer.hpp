#pragma once
// Something that rides along on a run's loop without the runner knowing what it is:
// cachestress-mpi's link to the other ranks (a start barrier, heartbeats, a stop from rank 0).
// Every call comes on the loop thread; none may block it.
#include <cstdint>
#include <functional>
#include <string>

#include "engine/core/loop.hpp"
#include "engine/metrics/collector.hpp"

namespace cachestress::run {

// What an observer may do to the run it watches.
class RunControl {
 public:
  virtual ~RunControl() = default;
  // Ends the run as a signal would (no more admissions, builds in flight interrupted),
  // with `reason` in the log and the outcome.
  virtual void stop_run(const std::string& reason) = 0;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Setup has finished; admissions start when `admit` is called (at once, or after a barrier).
  virtual void ready(core::Loop& loop, RunControl& control, std::function<void()> admit) = 0;
  // After every interval, with the run's own counters so far.
  virtual void interval(const metrics::Collector& collector, double elapsed_s, std::uint64_t in_flight) = 0;
  // The run has ended on this process: stop whatever keeps the loop alive.
  virtual void ended() = 0;
};

}  // namespace cachestress::run
