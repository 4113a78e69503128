// Bencher Metric Format: {"<benchmark>": {"<measure>": {"value", "lower_value"?, "upper_value"?}}}
// (bencher.dev/docs/reference/bencher-metric-format). One benchmark per run or sweep cell;
// repetitions of a cell fold into one entry: the median, with min and max as the bounds.
#include <algorithm>
#include <map>

#include "engine/metrics/spread.hpp"
#include "engine/report/export_formatters.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::report {
namespace {

struct Measure {
  const char* slug;  // Bencher creates unknown measures by name; the unit is in the slug
  const char* path;  // summary field
};

// "throughput" is Bencher's built-in measure (operations/s): here builds/s.
constexpr Measure k_measures[] = {
    {"throughput", "builds_per_s"},
    {"lock-wait-p50-us", "lock_wait_us.p50"},
    {"lock-wait-p99-us", "lock_wait_us.p99"},
    {"lock-wait-max-us", "lock_wait_us.max"},
    {"build-latency-p50-us", "build_latency_us.p50"},
    {"build-latency-p99-us", "build_latency_us.p99"},
    {"collisions", "collisions.total"},
    {"builds-failed", "builds.failed"},
};

}  // namespace

std::string to_bmf(const nlohmann::json& document) {
  // Benchmark name -> its repetitions, in report order.
  std::vector<std::string> names;
  std::map<std::string, std::vector<const ReportRow*>> runs;
  const std::vector<ReportRow> rows = report_rows(document);
  for (const ReportRow& row : rows) {
    if (runs[row.name].empty()) names.push_back(row.name);
    runs[row.name].push_back(&row);
  }

  nlohmann::json out = nlohmann::json::object();
  for (const auto& name : names) {
    // Repetitions a signal cut short are left out, as aggregates leave them (finished_runs).
    std::vector<bool> interrupted;
    for (const ReportRow* row : runs[name]) interrupted.push_back(row->cell.value("interrupted", false));
    std::vector<const ReportRow*> finished;
    for (const std::size_t i : metrics::finished_runs(interrupted).used) finished.push_back(runs[name][i]);
    nlohmann::json measures = nlohmann::json::object();
    for (const Measure& measure : k_measures) {
      // Only measurements: Bencher would store a placeholder 0 (not measured by the backend,
      // or a percentile of no samples) as a result. A measure with none is left out.
      std::vector<double> values;
      for (const ReportRow* row : finished) {
        if (is_measurement(row->cell, measure.path)) values.push_back(summary_number(row->cell, measure.path));
      }
      if (values.empty()) continue;
      nlohmann::json metric = {{"value", metrics::median_of(values)}};
      if (values.size() > 1) {
        metric["lower_value"] = *std::min_element(values.begin(), values.end());
        metric["upper_value"] = *std::max_element(values.begin(), values.end());
      }
      measures[measure.slug] = metric;
    }
    out[name] = measures;
  }
  return out.dump(2) + "\n";
}

}  // namespace cachestress::report
