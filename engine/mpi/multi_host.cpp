#include "engine/mpi/multi_host.hpp"

namespace cachestress::mpi {

run::RankFigures rank_figures(const metrics::RunMetrics& m, int rank, const std::string& host) {
  const auto& wait = m.histogram(metrics::Hist::lock_wait_us);
  run::RankFigures f;
  f.rank = rank;
  f.host = host;
  f.builds_completed = m.counter(metrics::Counter::builds_completed);
  f.builds_failed = m.counter(metrics::Counter::builds_failed);
  f.duration_s = m.duration_s;
  f.lock_acquisitions = wait.count();
  f.lock_wait_p50_us = wait.percentile(50);
  f.lock_wait_p99_us = wait.percentile(99);
  f.collisions = m.counter(metrics::Counter::collisions_total);
  return f;
}

}  // namespace cachestress::mpi
