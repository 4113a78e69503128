#pragma once
// cachestress-mpi's lines in the terminal summary: ranks and hosts, collisions between
// hosts, a rank per row, and any rank that was lost.
#include <string>

#include "engine/metrics/collector.hpp"
#include "engine/run/outcome.hpp"

namespace cachestress::report {

std::string hosts_text(const run::MultiHost& multi, const metrics::RunMetrics& merged);

}  // namespace cachestress::report
