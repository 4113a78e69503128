// `cachestress compare BASE.json NEW.json [--alpha A] [--threshold PERCENT] [--format text|md|json] [--force]`
#include "engine/cli/compare_command.hpp"

#include <cstdio>
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
  double threshold_percent = 10;
  std::string format = "text";
  bool force = false;
};

// Exit 1 means "regression" here, as it means "expectation failed" for a run: CI fails.
constexpr int k_exit_regression = 1;

int run_compare(const CompareFlags& f) {
  const nlohmann::json base = report::read_report_file(f.base);
  const nlohmann::json fresh = report::read_report_file(f.fresh);
  compare::Options options;
  options.alpha = f.alpha;
  options.threshold = f.threshold_percent / 100;
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
  cmd->add_option("--alpha", flags->alpha, "U test significance level with repetitions (default 0.05)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--threshold", flags->threshold_percent, "minimum change of a median that counts, in percent (default 10)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--format", flags->format, "output: text|md|json (default text)")->check(CLI::IsMember({"text", "md", "json"}));
  cmd->add_flag("--force", flags->force, "compare reports of different scenarios");
  return {cmd, [flags] { return run_compare(*flags); }};
}

}  // namespace cachestress::cli
