#pragma once
// `cachestress compare BASE.json NEW.json`: per metric, is NEW worse than BASE?
//
// Runs are matched by their sweep values (a single-run report is one run with no values).
// Several runs with the same values are repetitions. Each metric gets one of four verdicts:
//   regression / improvement: the smaller p of Mann-Whitney U and Kolmogorov-Smirnov,
//     Holm-corrected over every tested metric of every cell, is below --alpha AND the
//     Hodges-Lehmann shift is at least --min-effect of the base median;
//   no change: the (1 - alpha) confidence interval of the shift lies inside +-min-effect, or
//     every value on both sides is the same;
//   inconclusive: anything else (too few repetitions, too much noise): the caller decides
//     (--inconclusive pass|fail), by default its own exit code.
// Collision counters (and failed builds) rising from 0 are a regression whatever the
// statistics say: a collision is a bug, not noise.
#include <nlohmann/json.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace cachestress::compare {

enum class Better { higher, lower };

struct MetricSpec {
  const char* path;     // summary field, e.g. "lock_wait_us.p99"
  const char* unit;     // for display: "builds/s", "us", "collisions", "builds"
  Better better;
  bool zero_tolerance;  // rising from 0 is always a regression
};

// The metrics compare judges, in table order (declared once, in compare.cpp).
const std::vector<MetricSpec>& compared_metrics();

struct Options {
  double alpha = 0.05;       // significance level (after Holm) and 1 - confidence of the effect interval
  double min_effect = 0.10;  // smallest shift that counts, as a fraction of the base median (0.10 = 10%)
};

enum class Verdict {
  no_change,     // the effect's interval lies inside +-min_effect (or nothing varied)
  improvement,   // significantly better by at least min_effect
  regression,    // significantly worse by at least min_effect, or rose from 0
  inconclusive,  // too few repetitions or too much noise to decide
};
const char* to_string(Verdict verdict);

struct MetricResult {
  const MetricSpec* spec = nullptr;
  std::vector<double> base, fresh;  // one value per repetition
  double base_value = 0;            // median of base
  double new_value = 0;             // median of fresh
  std::optional<double> change;     // (new - base) / |base|; empty when base is 0 and new is not
  // Hodges-Lehmann shift (new - base) relative to the base median (to the new median when the
  // base is 0, absolute when both are), with its (1 - alpha) interval when one exists.
  double effect = 0;
  std::optional<double> effect_low, effect_high;
  std::optional<double> p_mann_whitney, p_kolmogorov_smirnov;  // with >= 2 repetitions a side
  std::optional<double> p_value;     // the smaller of the two
  std::optional<double> p_adjusted;  // Holm-corrected over every tested metric and cell
  Verdict verdict = Verdict::inconclusive;
  std::string reason;                // why, in a few words ("1 vs 1 runs: no test", ...)
  std::optional<std::size_t> repetitions_needed;  // inconclusive: runs a side that would decide
  std::size_t holm_tests = 1;        // the p-values p_adjusted was corrected over (1: tested alone)
  bool rose_from_zero = false;       // the zero-tolerance rule decided
  bool constant = false;             // every value on both sides is the same: nothing to test
};

// The verdict for one metric tested alone (p_adjusted = p_value). Pure: the unit tests drive it.
MetricResult judge_metric(const MetricSpec& spec, std::vector<double> base, std::vector<double> fresh,
                          const Options& options);
// The verdict again from a (Holm-)adjusted p-value.
void decide(MetricResult& result, const Options& options);

struct CellComparison {
  nlohmann::json values;  // the sweep values both sides share ({} for single runs)
  std::vector<MetricResult> metrics;
  std::size_t base_runs = 0, new_runs = 0;
};

struct Comparison {
  std::string base_label, new_label;  // file names, for the header
  std::string base_scenario, new_scenario;
  std::vector<std::string> differences;  // "config.concurrency: 4 -> 16", config then environment
  std::vector<std::string> notes;        // e.g. a run was interrupted: partial results
  std::vector<CellComparison> cells;
  std::vector<nlohmann::json> only_in_base, only_in_new;  // sweep values without a partner
  Options options;

  bool regression() const;
  bool inconclusive() const;  // any metric inconclusive
  std::size_t tested() const;  // metrics with a p-value (the Holm family size)
  std::size_t min_repetitions() const;  // fewest runs behind any compared cell, either side
};

// Compares two report documents. Throws InputError (exit 2) when the scenarios differ (unless
// force), when no run matches, or when a run lacks a compared summary field.
Comparison compare_reports(const nlohmann::json& base, const nlohmann::json& fresh, const Options& options,
                           bool force, std::string base_label = "base", std::string new_label = "new");

}  // namespace cachestress::compare
