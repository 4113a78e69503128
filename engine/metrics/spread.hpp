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

// Which repetitions of one setting a median is taken over: those that ran to their end. An
// interrupted repetition's partial figures are no sample of the same run, so it is left out;
// when every repetition was interrupted all are kept and the result is marked partial (as
// compare does). One rule for aggregates[], the terminal's repeat lines and the HTML chart.
struct FinishedRuns {
  std::vector<std::size_t> used;  // indices into the repetitions given, in order
  std::size_t interrupted_left_out = 0;
  bool partial = false;  // every repetition was interrupted: `used` holds them all
};
FinishedRuns finished_runs(const std::vector<bool>& interrupted);

}  // namespace cachestress::metrics
