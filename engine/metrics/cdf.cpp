#include "engine/metrics/cdf.hpp"

#include <algorithm>

namespace cachestress::metrics {

std::vector<CdfPoint> cdf_points(const Histogram& histogram) {
  std::vector<CdfPoint> points;
  const std::uint64_t total = histogram.count();
  if (total == 0) return points;
  const std::uint64_t max = histogram.max();
  std::uint64_t cumulative = 0;
  CdfPoint pending;  // the latest bucket not yet kept
  bool have_pending = false;
  histogram.for_each_bucket([&](std::uint64_t, std::uint64_t highest, std::uint64_t count) {
    cumulative += count;
    pending = {std::min(highest, max), static_cast<double>(cumulative) / static_cast<double>(total)};
    have_pending = true;
    const bool first = points.empty();
    if (first || pending.fraction - points.back().fraction >= k_cdf_fraction_step ||
        static_cast<double>(pending.value_us) >= k_cdf_value_factor * static_cast<double>(points.back().value_us)) {
      points.push_back(pending);
      have_pending = false;
    }
  });
  if (have_pending) points.push_back(pending);
  points.back().fraction = 1.0;  // cumulative == total: say so exactly
  return points;
}

}  // namespace cachestress::metrics
