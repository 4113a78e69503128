#include "engine/html/report_data.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "engine/html/svg_chart.hpp"
#include "engine/report/report_reader.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::html {
namespace {

using nlohmann::json;

// A report file could hold anything: bound what one chart draws.
constexpr std::size_t k_max_lock_events = 5000;
constexpr std::size_t k_max_cdf_points = 5000;

const json* find(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<double> number(const json* value) {
  if (value == nullptr || !value->is_number()) return std::nullopt;
  const double number = value->get<double>();
  return std::isfinite(number) ? std::optional<double>(number) : std::nullopt;
}

std::optional<double> number_in(const json& object, std::initializer_list<const char*> path) {
  const json* at = &object;
  for (const char* key : path) {
    at = find(*at, key);
    if (at == nullptr) return std::nullopt;
  }
  return number(at);
}

std::string text_in(const json& object, const char* key, const std::string& fallback = {}) {
  const json* value = find(object, key);
  if (value == nullptr) return fallback;
  if (value->is_string()) return value->get<std::string>();
  if (value->is_number()) return format_number(value->get<double>());
  return fallback;
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// summary.lock_wait_us.cdf: [[value_us, fraction], ...] from the histogram's buckets.
std::vector<CdfPoint> cdf_from_buckets(const json& pairs) {
  std::vector<CdfPoint> points;
  for (const auto& pair : pairs) {
    if (points.size() >= k_max_cdf_points) break;
    if (!pair.is_array() || pair.size() != 2) continue;
    auto value = number(&pair[0]), fraction = number(&pair[1]);
    if (!value || !fraction || *value < 0) continue;
    points.push_back({*value, std::clamp(*fraction, 0.0, 1.0)});
  }
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.value_us < b.value_us; });
  double highest = 0;
  for (auto& point : points) highest = point.fraction = std::max(point.fraction, highest);
  return points;
}

// Without buckets: the five summary percentiles are five exact points of the CDF.
std::vector<CdfPoint> cdf_from_percentiles(const json& wait) {
  static constexpr std::array<std::pair<const char*, double>, 5> k_points{
      {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0}}};
  std::vector<CdfPoint> points;
  double highest = 0;
  for (const auto& [key, fraction] : k_points) {
    auto value = number(find(wait, key));
    if (!value || *value < 0) continue;
    highest = std::max(highest, *value);
    points.push_back({highest, fraction});
  }
  return points;
}

std::vector<IntervalPoint> read_intervals(const json* intervals) {
  std::vector<IntervalPoint> points;
  if (intervals == nullptr || !intervals->is_array()) return points;
  std::vector<const json*> rows;
  for (const auto& row : *intervals) {
    if (number_in(row, {"t_s"})) rows.push_back(&row);
  }
  std::sort(rows.begin(), rows.end(), [](const json* a, const json* b) { return (*a)["t_s"].get<double>() < (*b)["t_s"].get<double>(); });
  for (const json* row : rows) {
    points.push_back({(*row)["t_s"].get<double>(), number_in(*row, {"builds_completed"}).value_or(0),
                      number_in(*row, {"collisions"}).value_or(0), number_in(*row, {"lock_wait_p99_us"}).value_or(0)});
  }
  return points;
}

std::vector<InterferenceEntry> read_interference(const json* interference) {
  std::vector<InterferenceEntry> entries;
  if (interference == nullptr || !interference->is_array()) return entries;
  for (const auto& row : *interference) {
    auto count = number_in(row, {"count"});
    if (!count || *count <= 0) continue;
    std::string example;
    if (const json* e = find(row, "example"); e != nullptr && number_in(*e, {"victim_build"})) {
      const auto step = number_in(*e, {"step"});
      example = "build " + text_in(*e, "victim_build") + " step " + (step ? format_number(*step) : "?");
      if (number_in(*e, {"polluter_build"})) example += " saw build " + text_in(*e, "polluter_build") + " in";
      example += " " + text_in(*e, "file", "?");
    }
    entries.push_back({text_in(row, "polluter", "unknown"), text_in(row, "victim", "unknown"), text_in(row, "kind"), *count,
                       std::move(example)});
  }
  return entries;
}

std::vector<LockEvent> read_lock_events(const json* events) {
  std::vector<LockEvent> out;
  if (events == nullptr || !events->is_array()) return out;
  for (const auto& row : *events) {
    if (out.size() >= k_max_lock_events) break;
    auto wait_start = number_in(row, {"wait_start_s"});
    if (!wait_start) continue;
    LockEvent event;
    event.key = text_in(row, "key", "?");
    event.build = static_cast<std::uint64_t>(std::max(0.0, number_in(row, {"build"}).value_or(0)));
    event.kind = text_in(row, "kind");
    event.wait_start_s = *wait_start;
    event.granted_s = number_in(row, {"granted_s"});
    event.released_s = number_in(row, {"released_s"});
    out.push_back(std::move(event));
  }
  return out;
}

// failures[]: reason, count, and the example build with what the report says of it.
std::vector<FailureGroup> read_failures(const json* failures, std::size_t& left_out) {
  std::vector<FailureGroup> groups;
  if (failures == nullptr || !failures->is_array()) return groups;
  for (const auto& row : *failures) {
    auto count = number_in(row, {"count"});
    if (!count || *count <= 0) continue;
    if (groups.size() >= k_max_failure_groups) {
      ++left_out;
      continue;
    }
    FailureGroup group{text_in(row, "reason", "?"), text_in(row, "category"), *count, {}};
    if (number_in(row, {"example_build"})) {
      group.example = "build " + text_in(row, "example_build");
      if (const std::string kind = text_in(row, "example_kind"); !kind.empty()) group.example += ", kind " + kind;
      if (number_in(row, {"example_rank"})) group.example += ", rank " + text_in(row, "example_rank");
      if (const std::string host = text_in(row, "example_host"); !host.empty()) group.example += " on " + host;
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

// expectations[] entries that failed: "FIELD OP WRITTEN (value V)", as the terminal's -q says.
std::vector<std::string> read_failed_expectations(const json* expectations) {
  std::vector<std::string> failed;
  if (expectations == nullptr || !expectations->is_array()) return failed;
  for (const auto& row : *expectations) {
    const json* passed = find(row, "passed");
    if (passed == nullptr || !passed->is_boolean() || passed->get<bool>()) continue;
    const std::string expect = text_in(row, "expect");
    const std::string op = expect.substr(0, expect.find(' '));
    const std::string written = text_in(row, "written");
    std::string text = text_in(row, "field", "?") + " " + (written.empty() || op.empty() ? expect : op + " " + written);
    if (const std::string when = text_in(row, "when"); !when.empty()) text += " when " + when;
    const auto value = number_in(row, {"value"});
    const std::string implicit = text_in(row, "implicit");
    if (value || !implicit.empty()) {
      text += " (" + (value ? "value " + format_number(*value) : std::string()) + (value && !implicit.empty() ? "; " : "") + implicit + ")";
    }
    failed.push_back(std::move(text));
  }
  return failed;
}

RunCell read_cell(const std::string& source, const json& cell) {
  static const json k_empty = json::object();
  const json* config = find(cell, "config");
  const json* summary = find(cell, "summary");
  if (config == nullptr) config = &k_empty;
  if (summary == nullptr) summary = &k_empty;

  RunCell run;
  run.source = source;
  run.scenario = text_in(*config, "scenario", "?");
  run.sharing = text_in(*config, "sharing", "?");
  run.concurrency = number_in(*config, {"concurrency"});
  if (const auto ranks = number_in(cell, {"mpi", "ranks"}); ranks && *ranks >= 1) run.ranks = ranks;
  if (run.concurrency) run.in_flight = *run.concurrency * run.ranks.value_or(1);
  run.repeat = static_cast<int>(number_in(cell, {"repeat"}).value_or(0));
  const json* interrupted = find(cell, "interrupted");
  run.interrupted = interrupted != nullptr && interrupted->is_boolean() && interrupted->get<bool>();
  run.builds_per_s = number_in(*summary, {"builds_per_s"});
  run.collisions = number_in(*summary, {"collisions", "total"});
  run.wait_p99_us = number_in(*summary, {"lock_wait_us", "p99"});
  run.wait_count = number_in(*summary, {"lock_wait_us", "count"});
  // A backend's placeholder 0 is not drawn or shown as a figure (results/README.md).
  run.collisions_measured = report::backend_measures(cell, "collisions.total");
  if (!run.collisions_measured) run.collisions.reset();
  run.wait_measured = report::backend_measures(cell, "lock_wait_us.p99");
  if (!run.wait_measured) {
    run.wait_p99_us.reset();
    run.wait_count.reset();
  }
  if (const json* wait = find(*summary, "lock_wait_us"); wait != nullptr && run.wait_count.value_or(0) > 0) {
    const json* cdf = find(*wait, "cdf");
    if (cdf != nullptr && cdf->is_array()) run.wait_cdf = cdf_from_buckets(*cdf);
    run.wait_cdf_from_buckets = !run.wait_cdf.empty();
    if (run.wait_cdf.empty()) run.wait_cdf = cdf_from_percentiles(*wait);
  }
  run.intervals = read_intervals(find(cell, "intervals"));
  run.interference = read_interference(find(cell, "interference"));
  run.lock_events = read_lock_events(find(cell, "lock_events"));
  run.builds_failed = number_in(*summary, {"builds", "failed"});
  run.failures = read_failures(find(cell, "failures"), run.failures_left_out);
  run.failed_expectations = read_failed_expectations(find(cell, "expectations"));
  return run;
}

// Settings that may distinguish runs, besides sharing and concurrency (always named): a
// label names them only when they differ between the cells.
constexpr std::array<const char*, 6> k_other_settings{"scenario", "semantics", "isolation", "backend", "lock_kind", "arrival"};

void name_cells(std::vector<RunCell>& cells, const std::vector<const json*>& configs) {
  std::vector<const char*> varying;
  for (const char* key : k_other_settings) {
    std::set<std::string> values;
    for (const json* config : configs) {
      const json* value = find(*config, key);
      values.insert(value == nullptr ? "" : value->dump());
    }
    if (values.size() > 1) varying.push_back(key);
  }
  // "shared, scenario remote-tmpdir, isolation per-build, c=8, rep 2": repetitions counted
  // from 1, as the terminal's "rep" column counts them.
  const bool repeated = std::any_of(cells.begin(), cells.end(), [](const RunCell& cell) { return cell.repeat > 0; });
  // cachestress-mpi runs of another rank count (or single-process runs beside them) are
  // another line: their builds in flight are not the same kind of thing, never one point.
  auto processes = [](const RunCell& cell) { return cell.ranks ? format_number(*cell.ranks) + (*cell.ranks == 1 ? " rank" : " ranks") : "single process"; };
  std::set<std::string> process_counts;
  for (const auto& cell : cells) process_counts.insert(processes(cell));
  for (std::size_t i = 0; i < cells.size(); ++i) {
    RunCell& cell = cells[i];
    cell.series = cell.sharing;
    for (const char* key : varying) cell.series += std::string(", ") + key + " " + text_in(*configs[i], key, "?");
    if (process_counts.size() > 1) cell.series += ", " + processes(cell);
    cell.label = cell.series + ", c=" + (cell.concurrency ? format_number(*cell.concurrency) : "?");
    if (cell.ranks) cell.label += process_counts.size() > 1 ? " per rank" : " per rank, " + processes(cell);
    if (repeated) cell.label += ", rep " + std::to_string(cell.repeat + 1);
  }
  // Same settings twice (the same run given twice, say): tell them apart by file, then by
  // number.
  auto disambiguate = [&cells](auto&& suffix) {
    std::map<std::string, int> total, seen;
    for (const auto& cell : cells) ++total[cell.label];
    for (auto& cell : cells) {
      if (total[cell.label] > 1) cell.label += suffix(cell, ++seen[cell.label]);
    }
  };
  disambiguate([](const RunCell& cell, int) { return " (" + base_name(cell.source) + ")"; });
  disambiguate([](const RunCell&, int n) { return " " + std::to_string(n); });
}

}  // namespace

std::vector<RunCell> collect_cells(const std::vector<ReportSource>& sources) {
  static const json k_empty = json::object();
  std::vector<RunCell> cells;
  std::vector<json> cell_documents;
  for (const auto& source : sources) {
    for (auto& cell : report::report_cells(source.document)) {
      cells.push_back(read_cell(source.path, cell));
      cell_documents.push_back(std::move(cell));
    }
  }
  std::vector<const json*> configs;
  for (const auto& document : cell_documents) {
    const json* config = find(document, "config");
    configs.push_back(config != nullptr && config->is_object() ? config : &k_empty);
  }
  name_cells(cells, configs);
  // Legends and the runs table read best grouped by series, in concurrency order.
  std::stable_sort(cells.begin(), cells.end(), [](const RunCell& a, const RunCell& b) {
    return std::tie(a.series, a.in_flight, a.repeat) < std::tie(b.series, b.in_flight, b.repeat);
  });
  return cells;
}

}  // namespace cachestress::html
