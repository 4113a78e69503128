#pragma once
// The measuring layer: the runner records raw events here (loop thread only); at the end
// snapshot() turns them into a RunMetrics that reporters serialise. Nothing here formats.
#include <array>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/metrics/histogram.hpp"
#include "engine/metrics/lock_events.hpp"
#include "engine/metrics/metric_table.hpp"

namespace cachestress::metrics {

enum class CollisionKind { foreign, missing, torn, lock_overlap };
const char* to_string(CollisionKind kind);

inline constexpr int k_unknown_kind = -1;  // a polluter the evidence cannot name
// A polluter whose kind is known but not which build (a command's output check saw a value
// the scenario says only that kind writes).
inline constexpr std::uint64_t k_unknown_build = ~std::uint64_t{0};

struct Collision {
  CollisionKind kind = CollisionKind::foreign;
  int polluter_kind = k_unknown_kind;  // index into the scenario's build kinds
  std::uint64_t polluter_build = 0;    // valid when polluter_kind != k_unknown_kind
  int victim_kind = 0;
  std::uint64_t victim_build = 0;
  std::string file;  // relative to the workspace
  std::uint32_t step = 0;
};

// One cell of the polluter-kind x victim-kind x collision-kind matrix.
struct InterferenceCell {
  int polluter_kind = k_unknown_kind;
  int victim_kind = 0;
  CollisionKind kind = CollisionKind::foreign;
  std::uint64_t count = 0;
  Collision example;  // the first one seen
};

// True per-interval sample (not cumulative).
struct IntervalSample {
  double t_s = 0;  // end of the interval, seconds since start
  std::uint64_t builds_completed = 0;
  std::uint64_t steps_completed = 0;
  std::uint64_t collisions = 0;
  std::uint64_t lock_wait_p99_us = 0;
  std::uint64_t in_flight = 0;
  // The process itself at the end of the interval: a soak run must keep these flat.
  std::uint64_t open_fds = 0;
  std::uint64_t threads = 0;
  std::uint64_t rss_kb = 0;
};

// Open descriptors, threads and resident memory of this process, from /proc/self (served
// from kernel memory: it never waits on a device, so the loop thread may read it).
struct ProcessSample {
  std::uint64_t open_fds = 0;
  std::uint64_t threads = 0;
  std::uint64_t rss_kb = 0;
};
ProcessSample sample_process() noexcept;

// A failure reason reads "category: detail"; the category picks its failures.* counter.
Counter failure_category(std::string_view reason);

inline constexpr std::size_t k_max_double_holders = 100;

struct FailureReason {
  std::string reason;
  std::uint64_t count = 0;
  std::uint64_t example_build = 0;
  int example_kind = 0;
  std::string example_log;                 // command backend: the example build's full output file
  std::vector<std::string> example_lines;  // command backend: its first lines of output
};

// Process backend: a build's process died (signal, timeout) while it held a locked mount;
// the kernel released the lock, and `next_*` says who got it next and how long it waited.
struct HolderDeath {
  std::uint64_t build = 0;
  int kind = 0;
  std::string reason;  // the build's failure ("signal: killed by SIGKILL")
  std::string lock;    // the cache, as the report names it: "<root> <mount id or target>"
  std::optional<std::uint64_t> next_build;
  int next_kind = -1;
  std::uint64_t next_wait_us = 0;  // the next holder's lock wait, as it measured it
  std::string key;  // the same cache as lock_events[].key names it (metrics::lock_event_key)
};
inline constexpr std::size_t k_max_holder_deaths = 100;  // listed; the counter has them all

struct RunMetrics {
  std::array<std::uint64_t, static_cast<std::size_t>(Counter::count_)> counters{};
  std::array<Histogram, static_cast<std::size_t>(Hist::count_)> histograms;
  std::uint64_t lock_waited = 0;  // acquisitions that had to wait (lock_wait_us.waited)
  // Fairness of lock grants: Jain's index over every wait, (sum x)^2 / (n * sum x^2), is 1
  // when everyone waited alike and 1/n when one build did all the waiting.
  double wait_sum_us = 0;
  double wait_sum_squares = 0;
  std::uint64_t longest_wait_us = 0;
  std::uint64_t longest_wait_build = 0;
  int longest_wait_kind = -1;
  double jain_index() const noexcept;
  std::vector<InterferenceCell> interference;
  // Every lock_overlap names its double holders: the build already inside a locked cache and
  // the one granted beside it (the first k_max_double_holders of them; the counter has all).
  std::vector<Collision> double_holders;
  std::vector<IntervalSample> intervals;
  std::vector<FailureReason> failures;
  LockEventSample lock_events;  // the first acquisitions, for the report's timeline
  // Command backend: failed builds whose output matched a failure signature, per category.
  std::map<std::string, std::uint64_t> signatures;
  std::vector<HolderDeath> holder_deaths;  // the first k_max_holder_deaths
  // [faults] kill_lock_holder: the builds it SIGKILLed (one per process backend, so one per
  // rank of cachestress-mpi; none when every holder let go before the delay).
  std::vector<std::uint64_t> fault_killed_builds;
  // cachestress-mpi: collisions whose polluter ran on another host than its victim, and the
  // first k_max_double_holders of them.
  std::uint64_t cross_host_collisions = 0;
  std::uint64_t cross_host_lock_overlaps = 0;  // of which lock_overlap
  std::vector<Collision> cross_host_examples;
  double duration_s = 0;
  // Summary fields the backend never measures (full paths or groups, e.g. "lock_wait_us"):
  // their 0 means nothing, so reports say "not measured" and expectations skip them.
  std::vector<std::string> not_measured;
  bool measured(std::string_view path) const;

  std::uint64_t counter(Counter c) const { return counters[static_cast<std::size_t>(c)]; }
  const Histogram& histogram(Hist h) const { return histograms[static_cast<std::size_t>(h)]; }
  double rate(Rate r) const;
};

class Collector {
 public:
  Collector();
  void add(Counter c, std::uint64_t n = 1) noexcept { m_metrics->counters[static_cast<std::size_t>(c)] += n; }
  std::uint64_t get(Counter c) const noexcept { return m_metrics->counter(c); }
  void record(Hist h, std::uint64_t value_us) noexcept;
  void record_lock_wait(std::uint64_t wait_us, bool waited, std::uint64_t build, int kind) noexcept;
  void collision(const Collision& collision);
  // Which host a build ran on (cachestress-mpi): collisions between hosts are counted apart.
  void set_host_of(std::function<int(std::uint64_t build)> host_of) { m_host_of = std::move(host_of); }
  void failure(const std::string& reason, std::uint64_t build, int kind);
  // A command build's failure: also keeps where its output went and its first lines (for
  // the first build of each reason), and counts its signature category if one matched.
  void command_failure(const std::string& reason, std::uint64_t build, int kind, const std::string& log,
                       std::vector<std::string> first_lines, const std::string& signature);
  void holder_death(HolderDeath death);
  void fault_killed(std::uint64_t build) { m_metrics->fault_killed_builds.push_back(build); }
  // A listed death on `lock` whose next holder is not known yet (and was not `not_build`).
  HolderDeath* pending_holder_death(const std::string& lock, std::uint64_t not_build);
  // Closes the current interval at t_s seconds (true per-interval figures).
  void close_interval(double t_s, std::uint64_t in_flight);
  void set_duration(double seconds) noexcept { m_metrics->duration_s = seconds; }
  LockEventSample& lock_events() noexcept { return m_metrics->lock_events; }
  const RunMetrics& metrics() const noexcept { return *m_metrics; }
  const std::vector<IntervalSample>& intervals() const noexcept { return m_metrics->intervals; }

 private:
  std::unique_ptr<RunMetrics> m_metrics;  // histograms are large: keep them off the stack
  std::unique_ptr<Histogram> m_interval_wait;
  std::uint64_t m_interval_builds = 0, m_interval_steps = 0, m_interval_collisions = 0;
  std::map<std::tuple<int, int, int>, std::size_t> m_cell_index;
  std::map<std::string, std::size_t> m_failure_index;
  std::function<int(std::uint64_t)> m_host_of;
};

}  // namespace cachestress::metrics
