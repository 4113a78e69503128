#pragma once
// The per-host view of a cachestress-mpi report: a table per run with one row per rank
// (host, builds, builds/s, lock wait, collisions, clock offset), collisions between hosts with
// an example, and any rank that was lost. Empty for single-host reports.
#include <string>
#include <vector>

#include "engine/html/report_data.hpp"

namespace cachestress::html {

std::string hosts_table(const std::vector<ReportSource>& sources);

}  // namespace cachestress::html
