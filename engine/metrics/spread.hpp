#pragma once
// Median and spread of one figure over a cell's repetitions (--repeat K): what the report's
// "aggregates" and the terminal's repeat table print. Percentiles of different runs are
// never averaged: each repetition is one value here.
#include <cstddef>
#include <vector>

namespace cachestress::metrics {

struct Spread {
  std::size_t n = 0;
  double median = 0;
  double mad = 0;  // median absolute deviation from the median (unscaled)
  double min = 0;
  double max = 0;
};

double median_of(std::vector<double> values);  // 0 for no values
Spread spread_of(const std::vector<double>& values);

}  // namespace cachestress::metrics
