// `cachestress compare BASE.json NEW.json [--alpha A] [--threshold PERCENT] [--format text|md|json] [--force]`
#include "engine/cli/compare_command.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <memory>

#include "engine/compare/compare.hpp"
#include "engine/compare/compare_format.hpp"
#include "engine/core/error.hpp"
#include "engine/report/report_reader.hpp"

namespace cachestress::cli {
namespace {

struct CompareFlags {
  std::string base, fresh;
  double alpha = 0.05;
  std::string threshold = "10";  // percent, "10" or "10%"
  std::string format = "text";
  bool force = false;
};

// Exit 1 means "regression" here, as it means "expectation failed" for a run: CI fails.
constexpr int k_exit_regression = 1;

// "10", "10%" or "2.5" -> 0.10, 0.10, 0.025.
double parse_threshold(std::string text) {
  if (text.ends_with('%')) text.pop_back();
  std::size_t used = 0;
  double percent = -1;
  try {
    percent = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(percent >= 0 && percent <= 1e6)) {
    throw InputError("--threshold: expected a percentage such as 10 or 10% (got \"" + text + "\")");
  }
  return percent / 100;
}

int run_compare(const CompareFlags& f) {
  if (!(f.alpha > 0 && f.alpha < 1)) throw InputError("--alpha: must be between 0 and 1, exclusive");
  compare::Options options;
  options.alpha = f.alpha;
  options.threshold = parse_threshold(f.threshold);
  const nlohmann::json base = report::read_report_file(f.base);
  const nlohmann::json fresh = report::read_report_file(f.fresh);
  const compare::Comparison comparison = compare::compare_reports(base, fresh, options, f.force, f.base, f.fresh);

  std::string text = f.format == "json" ? compare::to_json(comparison).dump(2) + "\n"
                     : f.format == "md" ? compare::to_markdown(comparison)
                                        : compare::to_text(comparison);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return comparison.regression() ? k_exit_regression : static_cast<int>(ExitCode::ok);
}

}  // namespace

Command add_compare_command(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  auto* cmd = app.add_subcommand("compare", "compare two reports: per-metric verdicts; exit 1 on a regression");
  cmd->add_option("base", flags->base, "baseline report (JSON written by cachestress)")->required();
  cmd->add_option("new", flags->fresh, "new report to judge against the baseline")->required();
  cmd->add_option("--alpha", flags->alpha, "U test significance level with repetitions (default 0.05)");
  cmd->add_option("--threshold", flags->threshold, "minimum change of a median that counts, in percent: 10 or 10% (default 10)");
  cmd->add_option("--format", flags->format, "output: text|md|json (default text)")->check(CLI::IsMember({"text", "md", "json"}));
  cmd->add_flag("--force", flags->force, "compare reports of different scenarios");
  cmd->footer(
      "Runs are matched by sweep values; repetitions (--repeat) of a run are compared with a two-sided\n"
      "Mann-Whitney U test, single runs by the threshold only (the verdict says unreliable).\n"
      "Exit codes: 0 no regression, 1 regression, 2 input error (missing file, not a report of this\n"
      "schema_version, different scenarios without --force, no run in common).");
  return {cmd, [flags] { return run_compare(*flags); }};
}

}  // namespace cachestress::cli
