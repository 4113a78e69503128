#pragma once
// One rank's RunMetrics as bytes for MPI, and back, losslessly: histograms travel as their
// raw bytes (every rank runs the same cachestress-mpi build: checked when ranks meet), the
// rest as JSON.
#include <memory>
#include <string>
#include <string_view>

#include "engine/metrics/collector.hpp"

namespace cachestress::mpi {

std::string encode_metrics(const metrics::RunMetrics& m);
// Throws std::runtime_error when the bytes are not what encode_metrics wrote.
std::unique_ptr<metrics::RunMetrics> decode_metrics(std::string_view bytes);

}  // namespace cachestress::mpi
