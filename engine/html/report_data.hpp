#pragma once
// What the HTML charts draw, read once from report documents into plain structs. Reading is
// forgiving: a field that is missing or of the wrong type is simply absent here (a chart
// then says so), so a hand-edited or older report never crashes the generator.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cachestress::html {

// One report file as given on the command line.
struct ReportSource {
  std::string path;
  nlohmann::json document;
};

// A point of the lock wait CDF: fraction of acquisitions that waited at most value_us.
struct CdfPoint {
  double value_us = 0;
  double fraction = 0;
};

// One acquisition of a locked mount within the sampled window (report field lock_events).
// A missing granted_s means still waiting when the window ended; a missing released_s,
// still holding.
struct LockEvent {
  std::string key;
  std::uint64_t build = 0;
  std::string kind;
  double wait_start_s = 0;
  std::optional<double> granted_s;
  std::optional<double> released_s;
};

// One per-interval sample (report field intervals): counts within the interval, not
// cumulative. Counts, not rates: a run's last interval is usually short, and its rate would
// be noise.
struct IntervalPoint {
  double t_s = 0;  // end of the interval
  double builds_completed = 0;
  double collisions = 0;
  double lock_wait_p99_us = 0;
};

// Interference matrix entry, summed over collision kinds by the heat map.
struct InterferenceEntry {
  std::string polluter;
  std::string victim;
  std::string collision_kind;
  double count = 0;
  // The build-level evidence, worded as the terminal words it: "build 0 step 1 saw build 3
  // in cache/f0" (or "build 0 step 1 cache/f0" when no writer is named); empty if absent.
  std::string example;
};

// One failures[] group: builds that failed for one reason, and one of them.
struct FailureGroup {
  std::string reason;
  std::string category;
  double count = 0;
  std::string example;  // "build 12, kind w" (", rank 1 on node-b" under cachestress-mpi); empty if absent
};

// One run: a single-run report, or one cell of a sweep / repeated run.
struct RunCell {
  std::string source;      // the report file it came from
  std::string label;       // unique among the cells, for legends: "locked, c=16"
  std::string series;      // the scaling chart's line: sharing plus any other varying setting, and ranks when they vary
  std::string scenario;
  std::string sharing;
  std::optional<double> concurrency;  // config.concurrency: per rank under cachestress-mpi
  // cachestress-mpi: mpi.ranks (absent for a single-process run). Builds in flight over the
  // whole run are concurrency x ranks, what the scaling chart's x axis counts.
  std::optional<double> ranks;
  std::optional<double> in_flight;
  int repeat = 0;
  bool interrupted = false;
  std::optional<double> builds_per_s;
  std::optional<double> collisions;
  std::optional<double> wait_p99_us;
  std::optional<double> wait_count;  // lock acquisitions
  bool wait_measured = true;         // false: the run's backend does not measure lock waits
  bool collisions_measured = true;   // false: nor content collisions (collisions empty then)
  std::vector<CdfPoint> wait_cdf;    // ascending in value and fraction
  bool wait_cdf_from_buckets = false;  // false: approximated from p50/p90/p99/p999/max
  std::vector<IntervalPoint> intervals;
  std::vector<InterferenceEntry> interference;
  std::vector<LockEvent> lock_events;
  std::optional<double> builds_failed;
  std::vector<FailureGroup> failures;  // the first k_max_failure_groups of failures[]
  std::size_t failures_left_out = 0;   // groups past those
  // expectations[] entries with passed false, worded as -q words them:
  // "builds.failed == 0 (value 40; no [expect] on failures, ...)".
  std::vector<std::string> failed_expectations;
};
inline constexpr std::size_t k_max_failure_groups = 20;

// Every cell of every source, in order, with labels and series names derived from what
// differs between cells.
std::vector<RunCell> collect_cells(const std::vector<ReportSource>& sources);

}  // namespace cachestress::html
