#pragma once
// Judges a scenario's [expect] entries against a finished run.
#include <string>
#include <vector>

#include "engine/metrics/collector.hpp"
#include "engine/model/scenario.hpp"

namespace cachestress::metrics {

struct Verdict {
  model::Expectation expectation;
  double value = 0;
  bool passed = false;
};

std::vector<Verdict> judge(const std::vector<model::Expectation>& expectations, const RunMetrics& metrics);
bool all_passed(const std::vector<Verdict>& verdicts);

}  // namespace cachestress::metrics
