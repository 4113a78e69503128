#pragma once
// `cachestress compare BASE.json NEW.json`: per metric, is NEW worse than BASE?
//
// Runs are matched by their sweep values (a single-run report is one run with no values).
// Several runs with the same values are repetitions. With at least two repetitions on both
// sides a two-sided Mann-Whitney U test (mann_whitney.hpp) must reject "same distribution"
// at --alpha AND the medians must differ by at least --threshold; with fewer only the
// threshold applies, and the verdict says it is unreliable. Collision counters (and failed
// builds) rising from 0 are a regression whatever the statistics say: a collision is a bug,
// not noise.
#include <nlohmann/json.hpp>
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
  double alpha = 0.05;      // U test significance level
  double threshold = 0.10;  // minimum relative change of the medians that counts (0.10 = 10%)
};

enum class Verdict {
  unchanged,        // change below the threshold
  improvement,      // better by at least the threshold (and significant, with repetitions)
  regression,       // worse by at least the threshold (and significant), or rose from 0
  not_significant,  // beyond the threshold but the U test cannot tell it from noise
};
const char* to_string(Verdict verdict);

struct MetricResult {
  const MetricSpec* spec = nullptr;
  std::vector<double> base, fresh;  // one value per repetition
  double base_value = 0;            // median of base
  double new_value = 0;             // median of fresh
  std::optional<double> change;     // (new - base) / |base|; empty when base is 0 and new is not
  std::optional<double> p_value;    // when both sides have >= 2 repetitions
  Verdict verdict = Verdict::unchanged;
  bool reliable = false;            // false: threshold only (fewer than 2 repetitions a side)
  bool rose_from_zero = false;      // the zero-tolerance rule decided
};

// The verdict for one metric. Pure: the unit tests drive it directly.
MetricResult judge_metric(const MetricSpec& spec, std::vector<double> base, std::vector<double> fresh,
                          const Options& options);

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
  std::size_t min_repetitions() const;  // fewest runs behind any compared cell, either side
};

// Compares two report documents. Throws InputError (exit 2) when the scenarios differ (unless
// force), when no run matches, or when a run lacks a compared summary field.
Comparison compare_reports(const nlohmann::json& base, const nlohmann::json& fresh, const Options& options,
                           bool force, std::string base_label = "base", std::string new_label = "new");

}  // namespace cachestress::compare
