#include "engine/metrics/expectations.hpp"

#include <algorithm>

#include "engine/metrics/summary_fields.hpp"

namespace cachestress::metrics {

namespace {

bool holds(model::Comparison comparison, double value, double bound) {
  switch (comparison) {
    case model::Comparison::eq: return value == bound;
    case model::Comparison::ne: return value != bound;
    case model::Comparison::lt: return value < bound;
    case model::Comparison::le: return value <= bound;
    case model::Comparison::gt: return value > bound;
    case model::Comparison::ge: return value >= bound;
  }
  return false;
}

}  // namespace

std::vector<Verdict> judge(const std::vector<model::Expectation>& expectations, const RunMetrics& metrics,
                           const std::string& backend) {
  std::vector<Verdict> verdicts;
  for (const auto& expectation : expectations) {
    const std::string field = canonical_summary_field(expectation.field);
    if (!metrics.measured(field)) {
      verdicts.push_back({expectation, 0, false, backend.empty() ? "not measured" : "not measured by the " + backend + " backend", false});
      continue;
    }
    if (!has_samples(metrics, field)) {
      // A percentile of nothing is no measurement: judged as 0 it would pass a latency gate.
      verdicts.push_back({expectation, 0, false, "no samples (" + std::string(sampled_distribution(field)) + ".count = 0)", false});
      continue;
    }
    double value = summary_value(metrics, field);
    verdicts.push_back({expectation, value, holds(expectation.comparison, value, expectation.value), {}, false});
  }
  return verdicts;
}

bool all_passed(const std::vector<Verdict>& verdicts) {
  return std::none_of(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return v.failed(); });
}

}  // namespace cachestress::metrics
