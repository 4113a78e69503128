#pragma once
// What every export format reads from a report document: one row per run (a single run, or
// one sweep / --repeat cell), its sweep values in sweep-key order and a stable benchmark
// name. Formatting only: these read the JSON report, they never measure.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachestress::report {

struct ReportRow {
  nlohmann::json cell;                                       // config, summary, ... of this run
  std::vector<std::pair<std::string, std::string>> values;   // sweep key -> value text
  std::string name;               // "<scenario>" or "<scenario>/<key>:<value>/..." (Google Benchmark style)
  std::size_t repetition_index = 0;  // among the rows with the same name, in report order
  std::size_t repetitions = 1;       // rows with the same name
};

// The rows of a report, in report order.
std::vector<ReportRow> report_rows(const nlohmann::json& document);

// The sweep keys in the report's own order ("sweep": {"keys"}), else the keys found in the
// cells' values; empty for a single run.
std::vector<std::string> sweep_keys(const nlohmann::json& document);

// The scenario name of a report (config.scenario of its first run).
std::string report_scenario(const nlohmann::json& document);

// A summary figure by its dotted path ("lock_wait_us.p99"), as the JSON number (integers stay
// integers) or as a double. Throws InputError when the cell has no such number.
const nlohmann::json& summary_field(const nlohmann::json& cell, std::string_view dotted_path);
double summary_number(const nlohmann::json& cell, std::string_view dotted_path);

// False when the run's backend never measures `path` (the run's "not_measured": full paths or
// groups such as "lock_wait_us"): its summary value is a placeholder 0. Reports without the
// list measured everything they wrote.
bool backend_measures(const nlohmann::json& cell, std::string_view path);
// False for a statistic of a distribution with no samples (lock_wait_us.p50 of a run in which
// no build took a lock, build_latency_us.p99 when none completed): also a placeholder 0. Its
// count is a measurement (0).
bool has_samples(const nlohmann::json& cell, std::string_view path);
// Both: the summary figure at `path` is a measurement an export may show as a number.
bool is_measurement(const nlohmann::json& cell, std::string_view path);

// A sweep value or config value as text: strings bare, numbers and booleans as JSON.
std::string value_text(const nlohmann::json& value);

// "concurrency=16 sharing=locked", or "" for a single run.
std::string values_label(const ReportRow& row);

}  // namespace cachestress::report
