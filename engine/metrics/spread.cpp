#include "engine/metrics/spread.hpp"

#include <algorithm>
#include <cmath>

namespace cachestress::metrics {

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  // The midpoint without the sum, which overflows for two values near the double's maximum.
  return n % 2 == 1 ? values[n / 2] : values[n / 2 - 1] + (values[n / 2] - values[n / 2 - 1]) / 2;
}

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = values.size();
  if (values.empty()) return s;
  s.median = median_of(values);
  std::vector<double> deviations;
  deviations.reserve(values.size());
  for (double v : values) deviations.push_back(std::fabs(v - s.median));
  s.mad = median_of(std::move(deviations));
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  return s;
}

FinishedRuns finished_runs(const std::vector<bool>& interrupted) {
  FinishedRuns runs;
  for (std::size_t i = 0; i < interrupted.size(); ++i) {
    if (!interrupted[i]) runs.used.push_back(i);
  }
  runs.interrupted_left_out = interrupted.size() - runs.used.size();
  if (runs.used.empty() && !interrupted.empty()) {
    for (std::size_t i = 0; i < interrupted.size(); ++i) runs.used.push_back(i);
    runs.interrupted_left_out = 0;
    runs.partial = true;
  }
  return runs;
}

}  // namespace cachestress::metrics
