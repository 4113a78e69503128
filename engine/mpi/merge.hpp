#pragma once
// Merging the ranks of a cachestress-mpi run: never an average. Histograms add their
// buckets (one fixed layout everywhere), counters and sums add, extremes take the extreme,
// the interference matrix adds cell by cell, examples and lock events are gathered.
#include <cstdint>

#include "engine/metrics/collector.hpp"

namespace cachestress::mpi {

// Adds one rank's metrics into `total`. `shift_us` moves the rank's timestamps (relative to
// its own start) onto rank 0's timeline: its start minus rank 0's, after the clock offset.
void merge_metrics(metrics::RunMetrics& total, const metrics::RunMetrics& part, std::int64_t shift_us);

}  // namespace cachestress::mpi
