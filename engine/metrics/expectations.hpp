#pragma once
// Judges a scenario's [expect] entries against a finished run.
#include <string>
#include <vector>

#include "engine/metrics/collector.hpp"
#include "engine/model/scenario.hpp"

namespace cachestress::metrics {
// Why an implicit verdict exists, in one line (reports and the exit message).
inline constexpr const char* k_implicit_reason =
    "no [expect] on failures, so a failed build fails the run (--allow-failed-builds accepts them)";
}  // namespace cachestress::metrics

namespace cachestress::metrics {

struct Verdict {
  model::Expectation expectation;
  double value = 0;
  bool passed = false;
  // Not judged, and why ("not measured by the process backend"): neither passed nor failed.
  std::string skipped;
  // Not written in [expect]: builds.failed == 0 added because [expect] says nothing about
  // failures (sweep::run_one; --allow-failed-builds drops it).
  bool implicit = false;
  bool failed() const noexcept { return skipped.empty() && !passed; }
};

// An expectation on a field the backend does not measure is skipped; `backend` names it.
std::vector<Verdict> judge(const std::vector<model::Expectation>& expectations, const RunMetrics& metrics,
                           const std::string& backend = "");
bool all_passed(const std::vector<Verdict>& verdicts);

}  // namespace cachestress::metrics
