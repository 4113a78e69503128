#pragma once
// A histogram's cumulative distribution as a short list of exact points, for charts
// (summary.lock_wait_us.cdf in the JSON report).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/metrics/histogram.hpp"

namespace cachestress::metrics {

struct CdfPoint {
  std::uint64_t value_us = 0;  // a bucket's highest value (capped at the histogram's max)
  double fraction = 0;         // of all samples, those <= value_us: exact at this value
};

// Thinning: a bucket becomes a point when the fraction has risen by at least 1/200 or the
// value by at least 10% since the last point (the last bucket always does). So the curve
// drawn through the points is never more than 0.5% off vertically or 10% horizontally (a
// twenty-fifth of a decade on a log axis), and there are fewer than 500 points however the
// samples spread: at most 200 rises of 1/200, 291 of 10% between 1 and 2^40, the first
// and the last.
inline constexpr double k_cdf_fraction_step = 1.0 / 200;
inline constexpr double k_cdf_value_factor = 1.1;
inline constexpr std::size_t k_cdf_max_points = 500;

// Ascending in value and fraction; the last point is (max, 1). Empty for an empty histogram.
std::vector<CdfPoint> cdf_points(const Histogram& histogram);

}  // namespace cachestress::metrics
