#pragma once
// cachestress-mpi's part of a report: the `mpi` and `hosts` sections, and the host and
// rank of every build a report names (interference examples, double holders, failures,
// holder deaths, lock events): build b ran on rank b % ranks.
#include <nlohmann/json.hpp>

#include "engine/metrics/collector.hpp"
#include "engine/run/outcome.hpp"

namespace cachestress::report {

void add_hosts(nlohmann::json& run_doc, const run::MultiHost& multi, const metrics::RunMetrics& merged);

}  // namespace cachestress::report
