#pragma once
// One rank's own figures for the report's `hosts` section, read off its metrics before the merge.
#include <string>

#include "engine/metrics/collector.hpp"
#include "engine/run/outcome.hpp"

namespace cachestress::mpi {

run::RankFigures rank_figures(const metrics::RunMetrics& m, int rank, const std::string& host);

}  // namespace cachestress::mpi
