#include "engine/compare/compare.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/compare/effect.hpp"
#include "engine/compare/mann_whitney.hpp"
#include "engine/metrics/spread.hpp"
#include "engine/core/error.hpp"
#include "engine/report/report_reader.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::compare {
namespace {

// compare.py's minimum: with one value a side there is no distribution to test.
constexpr std::size_t k_min_repetitions = 2;

struct Group {
  std::string key;  // canonical dump of the sweep values
  nlohmann::json values;
  std::vector<nlohmann::json> cells;
  std::vector<std::string> where;  // each cell's place in its report, for errors: "cells[3]"
};

// Runs grouped by sweep values, in the report's order of first appearance.
std::vector<Group> group_cells(const nlohmann::json& document, const std::string& label) {
  std::vector<Group> groups;
  std::size_t index = 0;
  const bool has_cells = document.contains("cells");
  for (auto& cell : report::report_cells(document)) {
    if (!cell.contains("summary") || !cell["summary"].is_object() || !cell.contains("config") || !cell["config"].is_object()) {
      throw InputError(label + ": run " + std::to_string(index) + " has no summary or config (not a report of this schema)");
    }
    nlohmann::json values = cell.value("values", nlohmann::json::object());
    const std::string key = values.dump();  // object keys are sorted: equal values, equal text
    auto found = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.key == key; });
    if (found == groups.end()) {
      groups.push_back({key, values, {}, {}});
      found = groups.end() - 1;
    }
    found->cells.push_back(std::move(cell));
    found->where.push_back(has_cells ? "cells[" + std::to_string(index) + "]" : std::string("the report"));
    ++index;
  }
  return groups;
}

std::vector<double> metric_values(const Group& group, const MetricSpec& spec, const std::string& label) {
  std::vector<double> values;
  for (std::size_t i = 0; i < group.cells.size(); ++i) {
    try {
      if (report::has_samples(group.cells[i], spec.path)) values.push_back(report::summary_number(group.cells[i], spec.path));
    } catch (const InputError& e) {
      throw InputError(label + ": " + group.where[i] + ": " + e.what());
    }
  }
  return values;
}

bool group_measures(const Group& group, const std::string& path) {
  return std::all_of(group.cells.begin(), group.cells.end(), [&](const nlohmann::json& cell) { return report::backend_measures(cell, path); });
}

// "prefix.key: a -> b" for every key whose value differs (or exists on one side only).
void diff_objects(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix,
                  std::vector<std::string>& out) {
  if (!a.is_object() || !b.is_object()) return;
  auto text = [](const nlohmann::json& object, const std::string& key) {
    return object.contains(key) ? report::value_text(object[key]) : std::string("(absent)");
  };
  std::vector<std::string> keys;
  for (const auto& [key, value] : a.items()) keys.push_back(key);
  for (const auto& [key, value] : b.items()) {
    if (!a.contains(key)) keys.push_back(key);
  }
  for (const auto& key : keys) {
    if (a.contains(key) && b.contains(key) && a[key] == b[key]) continue;
    std::string line = prefix + key + ": " + text(a, key) + " -> " + text(b, key);
    if (key == "workload_sha256") {  // 64 hex digits say less than what they stand for
      line = prefix + key + ": " + text(a, key).substr(0, 12) + " -> " + text(b, key).substr(0, 12) +
             " (what the builds do differs: steps, mounts, operations, [command], [faults] or [expect])";
    }
    if (std::find(out.begin(), out.end(), line) == out.end()) out.push_back(std::move(line));
  }
}

std::string values_text(const nlohmann::json& values) {
  std::string text;
  for (const auto& [key, value] : values.items()) text += (text.empty() ? "" : " ") + key + "=" + report::value_text(value);
  return text.empty() ? "(single run)" : text;
}

void add_note(std::vector<std::string>& notes, std::string note) {
  if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(std::move(note));
}

bool was_interrupted(const nlohmann::json& run) {
  // Only a true boolean says so: a report's field of another type is not read as one.
  return run.is_object() && run.contains("interrupted") && run["interrupted"].is_boolean() && run["interrupted"].get<bool>();
}

// The group's runs that ran to their end. An interrupted repetition (SIGINT during the 4th of 6)
// is left out of the test, with a note: its partial figures are not one more sample of the
// same run. When every run of the group was interrupted they are kept, noted as partial.
Group complete_runs(const Group& group, const std::string& label, std::vector<std::string>& notes) {
  // The one rule of which repetitions count (metrics::finished_runs, as aggregates use it).
  std::vector<bool> interrupted;
  for (const auto& cell : group.cells) interrupted.push_back(was_interrupted(cell));
  const metrics::FinishedRuns runs = metrics::finished_runs(interrupted);
  Group complete{group.key, group.values, {}, {}};
  for (const std::size_t i : runs.used) {
    complete.cells.push_back(group.cells[i]);
    complete.where.push_back(group.where[i]);
  }
  const bool repeated = group.cells.size() > 1;
  const std::string what = group.values.empty() ? std::string() : values_text(group.values) + " ";
  for (std::size_t i = 0; i < group.cells.size(); ++i) {
    if (!interrupted[i]) continue;
    std::string note = runs.partial
                           ? label + ": " + (repeated ? "every run " : "the run ") + what + "was interrupted (partial results)"
                           : label + ": run " + what + (repeated ? "repetition " + std::to_string(i + 1) + " of " + std::to_string(group.cells.size()) + " " : "") +
                                 "was interrupted: left out of the test";
    add_note(notes, std::move(note));
  }
  return complete;
}

}  // namespace

const std::vector<MetricSpec>& compared_metrics() {
  static const std::vector<MetricSpec> k_metrics{
      {"builds_per_s", "builds/s", Better::higher, false},
      {"lock_wait_us.p50", "us", Better::lower, false},
      {"lock_wait_us.p99", "us", Better::lower, false},
      {"lock_wait_us.max", "us", Better::lower, false},
      {"build_latency_us.p50", "us", Better::lower, false},
      {"build_latency_us.p99", "us", Better::lower, false},
      {"collisions.total", "collisions", Better::lower, true},
      {"collisions.foreign", "collisions", Better::lower, true},
      {"collisions.missing", "collisions", Better::lower, true},
      {"collisions.torn", "collisions", Better::lower, true},
      {"collisions.lock_overlap", "collisions", Better::lower, true},
      {"builds.failed", "builds", Better::lower, true},
  };
  return k_metrics;
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::no_change: return "no change";
    case Verdict::improvement: return "improvement";
    case Verdict::regression: return "regression";
    case Verdict::inconclusive: return "inconclusive";
  }
  return "unknown";
}

namespace {

// What a relative effect is relative to: the base median, else the new one, else 1 (absolute).
double effect_scale(double base_value, double new_value) {
  if (base_value != 0) return std::fabs(base_value);
  if (new_value != 0) return std::fabs(new_value);
  return 1;
}

// The spread of one run, from both sides' median absolute deviations (scaled to a standard
// deviation for normal data); 0 when a side has a single value.
double run_spread(const std::vector<double>& base, const std::vector<double>& fresh) {
  const metrics::Spread b = metrics::spread_of(base), f = metrics::spread_of(fresh);
  return 1.4826 * std::max(b.mad, f.mad);
}

}  // namespace

MetricResult judge_metric(const MetricSpec& spec, std::vector<double> base, std::vector<double> fresh,
                          const Options& options) {
  MetricResult r;
  r.spec = &spec;
  r.base_value = metrics::median_of(base);
  r.new_value = metrics::median_of(fresh);
  if (r.base_value != 0) {
    r.change = (r.new_value - r.base_value) / std::fabs(r.base_value);
  } else if (r.new_value == 0) {
    r.change = 0.0;
  }  // else: from 0 to something, no finite relative change
  r.base = std::move(base);
  r.fresh = std::move(fresh);
  const double scale = effect_scale(r.base_value, r.new_value);
  if (!r.base.empty() && !r.fresh.empty()) {
    const Shift shift = hodges_lehmann(r.base, r.fresh, options.alpha);
    r.effect = shift.estimate / scale;
    if (shift.low) r.effect_low = *shift.low / scale;
    if (shift.high) r.effect_high = *shift.high / scale;
  }
  const double first = r.base.empty() ? 0 : r.base.front();
  auto same = [first](double v) { return v == first; };
  r.constant = std::all_of(r.base.begin(), r.base.end(), same) && std::all_of(r.fresh.begin(), r.fresh.end(), same);
  if (!r.constant && r.base.size() >= k_min_repetitions && r.fresh.size() >= k_min_repetitions) {
    r.p_mann_whitney = mann_whitney_u(r.base, r.fresh).p_value;
    r.p_kolmogorov_smirnov = kolmogorov_smirnov(r.base, r.fresh).p_value;
    r.p_value = std::min(*r.p_mann_whitney, *r.p_kolmogorov_smirnov);
    r.p_adjusted = r.p_value;
  }
  auto is_zero = [](double v) { return v == 0; };
  r.rose_from_zero = spec.zero_tolerance && !r.base.empty() && std::all_of(r.base.begin(), r.base.end(), is_zero) &&
                     !std::all_of(r.fresh.begin(), r.fresh.end(), is_zero);
  decide(r, options);
  return r;
}

void decide(MetricResult& r, const Options& options) {
  r.repetitions_needed.reset();
  if (r.rose_from_zero) {
    r.verdict = Verdict::regression;
    // The median may still read 0 (1 run of 5 collided): say how many runs the rule saw.
    const auto rose = std::count_if(r.fresh.begin(), r.fresh.end(), [](double v) { return v != 0; });
    r.reason = r.fresh.size() == 1 ? std::string("rose from 0")
                                   : fmt::format("rose from 0 in {} of {} runs", rose, r.fresh.size());
    return;
  }
  if (r.constant) {
    r.verdict = Verdict::no_change;
    r.reason = "the same in every run";
    return;
  }
  const bool significant = r.p_adjusted && *r.p_adjusted < options.alpha;
  const bool large = std::fabs(r.effect) >= options.min_effect;
  const bool worse = r.spec->better == Better::higher ? r.effect < 0 : r.effect > 0;
  if (significant && large) {
    r.verdict = worse ? Verdict::regression : Verdict::improvement;
    r.reason = "significant, at least the minimum effect";
    return;
  }
  if (r.effect_low && r.effect_high && *r.effect_low > -options.min_effect && *r.effect_high < options.min_effect) {
    r.verdict = Verdict::no_change;
    r.reason = "the effect's interval is inside the minimum effect";
    return;
  }
  r.verdict = Verdict::inconclusive;
  // Even runs that never overlap give at best p = 2 / C(m+n, m), times the tests Holm corrects
  // over: 4 vs 4 runs among 6 tested metrics cannot get below 0.17. Not noise: too few runs.
  const bool cannot_reach = r.p_value && smallest_p_value(r.base.size(), r.fresh.size()) * static_cast<double>(r.holm_tests) >= options.alpha;
  if (!r.p_value) {
    r.reason = fmt::format("{} vs {} runs: no test", r.base.size(), r.fresh.size());
  } else if (!r.effect_low) {
    r.reason = "too few runs for an interval";
  } else if (cannot_reach && !significant) {
    r.reason = fmt::format("too few runs: {} vs {} cannot reach p < {:g} over {} tests", r.base.size(), r.fresh.size(),
                           options.alpha, r.holm_tests);
  } else if (significant) {
    r.reason = "significant, but the effect may be below the minimum";
  } else {
    r.reason = "too noisy to decide";
  }
  const double scale = effect_scale(r.base_value, r.new_value);
  // The shift to resolve: the one observed, or the minimum effect when that is smaller (to
  // tell "no change" apart, the interval must shrink below it).
  const double shift = std::max(std::fabs(r.effect), options.min_effect) * scale;
  r.repetitions_needed = repetitions_needed(run_spread(r.base, r.fresh), shift, options.alpha, r.holm_tests,
                                            std::min(r.base.size(), r.fresh.size()));
}

bool Comparison::regression() const {
  for (const auto& cell : cells) {
    for (const auto& metric : cell.metrics) {
      if (metric.verdict == Verdict::regression) return true;
    }
  }
  return false;
}

bool Comparison::inconclusive() const {
  for (const auto& cell : cells) {
    for (const auto& metric : cell.metrics) {
      if (metric.verdict == Verdict::inconclusive) return true;
    }
  }
  return false;
}

std::size_t Comparison::tested() const {
  std::size_t count = 0;
  for (const auto& cell : cells) {
    for (const auto& metric : cell.metrics) count += metric.p_value ? 1 : 0;
  }
  return count;
}

std::size_t Comparison::min_repetitions() const {
  std::size_t fewest = 0;
  for (const auto& cell : cells) {
    const std::size_t runs = std::min(cell.base_runs, cell.new_runs);
    fewest = fewest == 0 ? runs : std::min(fewest, runs);
  }
  return fewest;
}

Comparison compare_reports(const nlohmann::json& base, const nlohmann::json& fresh, const Options& options, bool force,
                           std::string base_label, std::string new_label) {
  Comparison c;
  c.options = options;
  c.base_label = std::move(base_label);
  c.new_label = std::move(new_label);
  const std::vector<Group> base_groups = group_cells(base, c.base_label);
  const std::vector<Group> new_groups = group_cells(fresh, c.new_label);
  c.base_scenario = report::report_scenario(base);
  c.new_scenario = report::report_scenario(fresh);
  if (c.base_scenario != c.new_scenario && !force) {
    throw InputError("different scenarios: " + c.base_label + " ran \"" + c.base_scenario + "\", " + c.new_label +
                     " ran \"" + c.new_scenario + "\" (--force compares them anyway)");
  }

  for (const Group& b : base_groups) {
    auto n = std::find_if(new_groups.begin(), new_groups.end(), [&](const Group& g) { return g.key == b.key; });
    if (n == new_groups.end()) {
      c.only_in_base.push_back(b.values);
      continue;
    }
    const Group base_group = complete_runs(b, c.base_label, c.notes);
    const Group new_group = complete_runs(*n, c.new_label, c.notes);
    CellComparison cell;
    cell.values = b.values;
    cell.base_runs = base_group.cells.size();
    cell.new_runs = new_group.cells.size();
    for (const MetricSpec& spec : compared_metrics()) {
      const bool base_measures = group_measures(base_group, spec.path);
      const bool new_measures = group_measures(new_group, spec.path);
      if (!base_measures || !new_measures) {
        const std::string side = !base_measures && !new_measures ? "either side"
                                 : !base_measures                ? c.base_label
                                                                 : c.new_label;
        add_note(c.notes, std::string(spec.path) + ": not measured by the backend of " + side + ", not compared");
        continue;
      }
      auto base_values = metric_values(base_group, spec, c.base_label);
      auto new_values = metric_values(new_group, spec, c.new_label);
      if (base_values.empty() || new_values.empty()) {
        // All 20 builds failed on both sides: their latency "0 us -> 0 us" said "no change".
        const std::string side = base_values.empty() && new_values.empty() ? std::string("either side")
                                 : base_values.empty()                     ? c.base_label
                                                                           : c.new_label;
        add_note(c.notes, std::string(spec.path) + ": no samples on " + side + (b.values.empty() ? "" : " at " + values_text(b.values)) +
                              " (no build completed, or none took a lock), not compared");
        continue;
      }
      cell.metrics.push_back(judge_metric(spec, std::move(base_values), std::move(new_values), options));
    }
    // A run across MPI ranks had concurrency x ranks builds at once: as plain a difference
    // as config's (a single-process report has no mpi object: one rank).
    const auto ranks = [](const nlohmann::json& run) {
      const auto mpi = run.find("mpi");
      const bool has = mpi != run.end() && mpi->is_object() && mpi->contains("ranks");
      return nlohmann::json{{"ranks", has ? (*mpi)["ranks"] : nlohmann::json(1)}};
    };
    for (std::size_t i = 0; i < std::min(base_group.cells.size(), new_group.cells.size()); ++i) {
      diff_objects(base_group.cells[i]["config"], new_group.cells[i]["config"], "config.", c.differences);
      diff_objects(ranks(base_group.cells[i]), ranks(new_group.cells[i]), "mpi.", c.differences);
    }
    c.cells.push_back(std::move(cell));
  }
  for (const Group& n : new_groups) {
    const bool matched = std::any_of(base_groups.begin(), base_groups.end(), [&](const Group& g) { return g.key == n.key; });
    if (!matched) c.only_in_new.push_back(n.values);
  }
  if (c.cells.empty()) {
    std::string base_runs, new_runs;
    for (const auto& g : base_groups) base_runs += (base_runs.empty() ? "" : ", ") + values_text(g.values);
    for (const auto& g : new_groups) new_runs += (new_runs.empty() ? "" : ", ") + values_text(g.values);
    throw InputError("no run in common: " + c.base_label + " has " + base_runs + "; " + c.new_label + " has " + new_runs);
  }
  // Holm over every tested metric of every cell, so a big sweep does not fail by chance.
  std::vector<MetricResult*> tested;
  for (auto& cell : c.cells) {
    for (auto& metric : cell.metrics) {
      if (metric.p_value) tested.push_back(&metric);
    }
  }
  std::vector<double> raw;
  for (const auto* metric : tested) raw.push_back(*metric->p_value);
  const std::vector<double> adjusted = holm_adjust(raw);
  for (std::size_t i = 0; i < tested.size(); ++i) {
    tested[i]->p_adjusted = adjusted[i];
    tested[i]->holm_tests = tested.size();
    decide(*tested[i], options);
  }
  diff_objects(base.value("environment", nlohmann::json::object()), fresh.value("environment", nlohmann::json::object()),
               "environment.", c.differences);
  diff_objects(base.value("tool", nlohmann::json::object()), fresh.value("tool", nlohmann::json::object()), "tool.",
               c.differences);
  return c;
}

}  // namespace cachestress::compare
