#pragma once
// What a finished run hands to the reporters (engine/report/ reads it, never the runner).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/fault/stale_lock.hpp"
#include "engine/metrics/collector.hpp"
#include "engine/run/environment.hpp"

namespace cachestress::run {

// cachestress-mpi: one rank's own figures, before the merge.
struct RankFigures {
  int rank = 0;
  std::string host;
  std::uint64_t builds_completed = 0;
  std::uint64_t builds_failed = 0;
  double duration_s = 0;
  std::uint64_t lock_acquisitions = 0;  // lock_wait_us.count on this rank
  std::uint64_t lock_wait_p50_us = 0;
  std::uint64_t lock_wait_p99_us = 0;
  std::uint64_t collisions = 0;
  // This rank's clock minus rank 0's (realtime), measured by a ping-pong before the run;
  // the measurement is good to +- half the round trip (clock_uncertainty_us).
  std::int64_t clock_offset_us = 0;
  std::uint64_t clock_uncertainty_us = 0;
};

// A rank that stopped answering during the run (killed, hung, its host gone).
struct LostRank {
  int rank = 0;
  std::string host;
  double last_heard_s = 0;  // since the start of the run, on rank 0's clock
};

// A run over several ranks (cachestress-mpi), as rank 0 merged it.
struct MultiHost {
  int ranks = 1;
  std::uint32_t concurrency_per_rank = 0;
  std::vector<std::string> rank_hosts;  // indexed by rank: build b ran on rank b % ranks
  std::vector<RankFigures> per_rank;    // the ranks whose results arrived
  std::vector<LostRank> lost;
  // The process backend's holder marker (a file beside the lock) sees holders in every
  // process on the shared filesystem; the in-process oracle only its own rank's.
  bool cross_host_lock_overlap_measured = false;
  std::string host_of(std::uint64_t build) const { return rank_hosts[build % rank_hosts.size()]; }
};

struct RunOutcome {
  std::unique_ptr<metrics::RunMetrics> metrics;
  bool interrupted = false;
  int signal = 0;            // the signal that interrupted the run
  std::string stop_reason;   // interrupted without a signal: why (cachestress-mpi: a rank was lost)
  std::string workdir;
  bool workdir_kept = false;
  std::chrono::system_clock::time_point started_at;
  std::vector<std::string> kind_names;
  Environment environment;  // read while the workspace existed
  // [faults] as they were really injected (absent / 0 when the scenario asked for none).
  std::optional<fault::StaleLockReport> stale_lock;
  std::uint32_t enospc_tmpfs_kb = 0;  // the workspace was a tmpfs of this size
  std::optional<MultiHost> multi_host;  // cachestress-mpi only
};

}  // namespace cachestress::run
