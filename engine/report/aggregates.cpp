// A combination's repetitions folded into median, MAD, min and max: the one computation
// behind the report's "aggregates" and the terminal's repeat lines.
#include <algorithm>

#include "engine/metrics/summary_fields.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {

const std::vector<std::string>& aggregated_paths() {
  static const std::vector<std::string> k_paths{
      "builds_per_s",          "builds.completed",      "builds.failed",    "lock_wait_us.p50", "lock_wait_us.p99",
      "lock_wait_us.max",      "locks.waited",          "build_latency_us.p50", "build_latency_us.p99",
      "collisions.total",      "duration_s"};
  return k_paths;
}

const metrics::Spread* Aggregate::figure(std::string_view path) const {
  for (const auto& [name, spread] : figures) {
    if (name == path) return &spread;
  }
  return nullptr;
}

std::vector<Aggregate> aggregates(const std::vector<CellReport>& cells) {
  std::vector<std::size_t> order;  // combination indices, first appearance first
  for (const auto& cell : cells) {
    if (std::find(order.begin(), order.end(), cell.index) == order.end()) order.push_back(cell.index);
  }
  std::vector<Aggregate> list;
  for (std::size_t index : order) {
    std::vector<const CellReport*> repetitions;
    std::vector<bool> interrupted;
    for (const auto& cell : cells) {
      if (cell.index != index) continue;
      repetitions.push_back(&cell);
      interrupted.push_back(cell.run.outcome->interrupted);
    }
    const metrics::FinishedRuns finished = metrics::finished_runs(interrupted);
    Aggregate entry;
    entry.index = index;
    entry.values = repetitions.front()->values;
    for (std::size_t i : finished.used) entry.runs.push_back(repetitions[i]);
    entry.interrupted_left_out = finished.interrupted_left_out;
    entry.partial = finished.partial;
    for (const auto& path : aggregated_paths()) {
      std::vector<double> samples;
      bool measured = true;
      for (const CellReport* cell : entry.runs) {
        measured = measured && cell->run.outcome->metrics->measured(path);
        samples.push_back(metrics::summary_value(*cell->run.outcome->metrics, path));
      }
      if (measured) entry.figures.emplace_back(path, metrics::spread_of(samples));
    }
    list.push_back(std::move(entry));
  }
  return list;
}

}  // namespace cachestress::report
