// `cachestress compare BASE.json NEW.json [--alpha A] [--min-effect PERCENT] [--inconclusive pass|fail]
//  [--format text|md|json] [--force]`
#include "engine/cli/compare_command.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "engine/compare/compare.hpp"
#include "engine/compare/compare_format.hpp"
#include "engine/core/error.hpp"
#include "engine/report/report_reader.hpp"

namespace cachestress::cli {
namespace {

// Exit 1 means "regression" here, as it means "expectation failed" for a run: CI fails.
constexpr int k_exit_regression = 1;
// Exit 4: no regression found, but some metric could not be decided (too few repetitions or
// too much noise). Not 0: a CI step must not pass a +300% change because it ran twice.
constexpr int k_exit_inconclusive = 4;

constexpr double k_max_percent = 1e6;

// "10", "10%" or "2.5" -> 0.10, 0.10, 0.025: decimal digits with at most one point, then an
// optional "%" (no sign, exponent or hex: strtod would read "0x10" as 16).
double parse_percent(const char* flag, const std::string& given) {
  std::string text = given;
  if (text.ends_with('%')) text.pop_back();
  const bool digits = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos &&
                      text.find('.') == text.rfind('.') && text != ".";
  const double percent = digits ? std::stod(text) : -1;
  if (!digits || !(percent <= k_max_percent)) {
    throw InputError(std::string(flag) + ": expected a percentage from 0 to 1000000, such as 10 or 10% (got \"" + given + "\")");
  }
  return percent / 100;
}

}  // namespace

int run_compare_command(const CompareFlags& f) {
  if (!(f.alpha > 0 && f.alpha < 1)) throw InputError("--alpha: must be between 0 and 1, exclusive");
  compare::Options options;
  options.alpha = f.alpha;
  options.min_effect = parse_percent("--min-effect", f.min_effect);
  const nlohmann::json base = report::read_report_file(f.base);
  const nlohmann::json fresh = report::read_report_file(f.fresh);
  const compare::Comparison comparison = compare::compare_reports(base, fresh, options, f.force, f.base, f.fresh);

  std::string text = f.format == "json" ? compare::to_json(comparison).dump(2) + "\n"
                     : f.format == "md" ? compare::to_markdown(comparison)
                                        : compare::to_text(comparison);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (comparison.regression()) return k_exit_regression;
  if (comparison.inconclusive()) {
    if (f.inconclusive == "pass") return static_cast<int>(ExitCode::ok);
    if (f.inconclusive == "fail") return k_exit_regression;
    return k_exit_inconclusive;
  }
  return static_cast<int>(ExitCode::ok);
}

}  // namespace cachestress::cli
