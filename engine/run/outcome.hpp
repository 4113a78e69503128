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

}  // namespace cachestress::run
