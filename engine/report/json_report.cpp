// JSON report (schema documented in results/README.md, validated by results/schema.json).
#include <chrono>
#include <csignal>
#include <string>
#include <ctime>

#include "engine/metrics/cdf.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/report/hosts_json.hpp"
#include "engine/report/report.hpp"
#include "engine/report/report_reader.hpp"
#include "engine/scenario/loader.hpp"

namespace cachestress::report {
namespace {

// "SIGINT" rather than 2: numbers differ between platforms, names do not.
std::string signal_name(int signum) {
  switch (signum) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "SIG" + std::to_string(signum);
  }
}

using nlohmann::json;

std::string iso_utc(std::chrono::system_clock::time_point at) {
  std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// "collisions.total" -> /collisions/total; integral values stay integers.
void put_path(json& root, const std::string& dotted, double value) {
  std::string pointer = "/";
  for (char c : dotted) pointer += c == '.' ? '/' : c;
  json number = value == static_cast<double>(static_cast<std::uint64_t>(value)) && value >= 0
                    ? json(static_cast<std::uint64_t>(value))
                    : json(value);
  root[json::json_pointer(pointer)] = number;
}

std::string kind_name(const run::RunOutcome& outcome, int kind) {
  if (kind < 0 || static_cast<std::size_t>(kind) >= outcome.kind_names.size()) return "unknown";
  return outcome.kind_names[static_cast<std::size_t>(kind)];
}

json config_json(const model::Scenario& s) {
  const auto& r = s.run;
  return {{"scenario", s.name},
          {"description", s.description},
          {"source", s.source},
          {"builds", r.builds},
          {"duration_s", r.duration_s},
          {"concurrency", r.concurrency},
          {"sharing", sharing_summary(s)},
          {"isolation", model::to_string(r.isolation)},
          {"semantics", model::to_string(r.semantics)},
          {"backend", model::to_string(r.backend)},
          {"arrival", model::to_string(r.arrival)},
          {"rate_per_s", r.rate_per_s},
          {"ramp_s", r.ramp_s},
          {"lock_kind", model::to_string(r.lock_kind)},
          {"lock_timeout_s", r.lock_timeout_ms / 1000.0},
          {"env_policy", model::to_string(r.env_policy)},
          {"build_timeout_s", r.build_timeout_ms / 1000.0},
          {"command", s.command ? json{{"per", s.command->per == model::CommandPer::build ? "build" : "step"},
                                       {"run", s.command->run},
                                       {"timeout_s", s.command->timeout_ms / 1000.0}}
                                : json(nullptr)},
          {"faults", {{"kill_lock_holder_s", s.faults.kill_lock_holder_ms ? json(*s.faults.kill_lock_holder_ms / 1000.0) : json(nullptr)}}},
          {"interval_ms", r.interval_ms},
          {"seed", r.seed},
          {"workload_sha256", scenario::workload_sha256(s)},
          {"kinds", [&] {
             json kinds = json::array();
             for (const auto& k : s.kinds) kinds.push_back({{"name", k.name}, {"weight", k.weight}, {"steps", k.steps.size()}});
             return kinds;
           }()}};
}

}  // namespace

std::string sharing_summary(const model::Scenario& scenario) { return model::common_sharing(scenario); }

namespace {

json header_json(const RunReport& report) {
  json doc;
  doc["schema_version"] = k_schema_version;
  doc["tool"] = {{"name", "cachestress"}, {"version", CACHESTRESS_VERSION}};
  doc["created_at"] = iso_utc(report.outcome->started_at);
  doc["command_line"] = report.command_line;
  doc["environment"] = {{"libuv_version", report.environment.libuv_version},
                        {"kernel", report.environment.kernel},
                        {"workdir_filesystem", report.environment.workdir_filesystem},
                        {"cpus", report.environment.cpus},
                        {"hostname", report.environment.hostname}};
  return doc;
}

// One entry per combination (report::aggregates): the median and spread of each aggregated
// figure over the repetitions that finished, and how many interrupted ones were left out.
json aggregates_json(const std::vector<CellReport>& cells) {
  json list = json::array();
  for (const Aggregate& aggregate : aggregates(cells)) {
    json values = json::object();
    for (const auto& [key, value] : aggregate.values) values[key] = value;
    json figures = json::object();
    for (const auto& [path, s] : aggregate.figures) {
      figures[path] = {{"median", s.median}, {"mad", s.mad}, {"min", s.min}, {"max", s.max}};
    }
    list.push_back({{"index", aggregate.index},
                    {"values", std::move(values)},
                    {"runs", aggregate.runs.size()},
                    {"interrupted_left_out", aggregate.interrupted_left_out},
                    {"partial", aggregate.partial},
                    {"metrics", std::move(figures)}});
  }
  return list;
}

}  // namespace

nlohmann::json run_json(const RunReport& report) {
  const auto& outcome = *report.outcome;
  const auto& m = *outcome.metrics;
  json doc;
  doc["config"] = config_json(*report.scenario);
  doc["interrupted"] = outcome.interrupted;
  doc["signal"] = outcome.interrupted && outcome.signal != 0 ? json(signal_name(outcome.signal)) : json(nullptr);  // a stop_reason stop: no signal

  json summary = json::object();
  for (const auto& path : metrics::summary_field_paths()) put_path(summary, path, metrics::summary_value(m, path));
  json cdf = json::array();
  for (const auto& point : metrics::cdf_points(m.histogram(metrics::Hist::lock_wait_us))) cdf.push_back({point.value_us, point.fraction});
  summary["lock_wait_us"]["cdf"] = std::move(cdf);
  // Command backend: failed builds per failure-signature category (user-defined names).
  summary["failures"]["signatures"] = json::object();
  for (const auto& [category, count] : m.signatures) summary["failures"]["signatures"][category] = count;
  doc["summary"] = summary;
  // Fields the backend never measures: their summary 0 is a placeholder (results/README.md).
  doc["not_measured"] = m.not_measured;

  json interference = json::array();
  for (const auto& cell : m.interference) {
    json example = {{"file", cell.example.file}, {"step", cell.example.step}, {"victim_build", cell.example.victim_build}};
    example["polluter_build"] = cell.polluter_kind == metrics::k_unknown_kind || cell.example.polluter_build == metrics::k_unknown_build
                                    ? json(nullptr)
                                    : json(cell.example.polluter_build);
    interference.push_back({{"polluter", kind_name(outcome, cell.polluter_kind)},
                            {"victim", kind_name(outcome, cell.victim_kind)},
                            {"kind", metrics::to_string(cell.kind)},
                            {"count", cell.count},
                            {"example", example}});
  }
  doc["interference"] = interference;

  // The builds that held one locked cache together (lock_overlap), named pair by pair.
  json double_holders = json::array();
  for (const auto& c : m.double_holders) {
    double_holders.push_back({{"cache", c.file},
                              {"step", c.step},
                              {"first", {{"build", c.polluter_build}, {"kind", kind_name(outcome, c.polluter_kind)}}},
                              {"second", {{"build", c.victim_build}, {"kind", kind_name(outcome, c.victim_kind)}}}});
  }
  doc["double_holders"] = double_holders;

  // [faults] as really injected: each null when the scenario did not ask for it.
  json faults = {{"stale_lock", nullptr}, {"enospc", nullptr}, {"kill_lock_holder", nullptr}};
  if (const auto& stale = outcome.stale_lock) {
    faults["stale_lock"] = {{"files", stale->files},
                            {"example", stale->example},
                            {"holder_pid", stale->holder_pid},
                            {"holder_locked_all", stale->holder_locked_all},
                            {"freed_by_kernel", stale->freed_by_kernel}};
  }
  if (outcome.enospc_tmpfs_kb > 0) faults["enospc"] = {{"tmpfs_kb", outcome.enospc_tmpfs_kb}};
  if (const auto delay = report.scenario->faults.kill_lock_holder_ms) {
    faults["kill_lock_holder"] = {{"after_s", *delay / 1000.0}, {"killed_builds", m.fault_killed_builds}};
  }
  doc["faults"] = faults;

  json failures = json::array();
  for (const auto& f : m.failures) {
    const auto category = metrics::k_counters[static_cast<std::size_t>(metrics::failure_category(f.reason))].name;
    failures.push_back({{"reason", f.reason}, {"category", std::string(category).substr(9)}, {"count", f.count}, {"example_build", f.example_build},
                        {"example_kind", kind_name(outcome, f.example_kind)},
                        {"log", f.example_log.empty() ? json(nullptr) : json(f.example_log)},
                        {"first_lines", f.example_lines}});
  }
  doc["failures"] = failures;

  json deaths = json::array();
  for (const auto& d : m.holder_deaths) {
    deaths.push_back({{"build", d.build},
                      {"kind", kind_name(outcome, d.kind)},
                      {"reason", d.reason},
                      {"lock", d.lock},
                      {"key", d.key},
                      {"next_build", d.next_build ? json(*d.next_build) : json(nullptr)},
                      {"next_kind", d.next_build ? json(kind_name(outcome, d.next_kind)) : json(nullptr)},
                      {"next_wait_us", d.next_build ? json(d.next_wait_us) : json(nullptr)}});
  }
  doc["holder_deaths"] = deaths;

  json expectations = json::array();
  json skipped = json::array();  // not judged: kept apart so every "expectations" entry has a value and a verdict
  for (const auto& v : report.verdicts) {
    json condition = v.expectation.when.empty() ? json(nullptr) : json(model::condition_text(v.expectation));
    json entry = {{"field", v.expectation.field},
                  {"when", condition},
                  {"expect", std::string(model::to_string(v.expectation.comparison)) + " " + nlohmann::json(v.expectation.value).dump()},
                  {"written", v.expectation.text}};
    if (!v.skipped.empty()) {
      entry["reason"] = v.skipped;
      skipped.push_back(std::move(entry));
      continue;
    }
    entry["value"] = v.value;
    entry["passed"] = v.passed;
    if (v.implicit) entry["implicit"] = metrics::k_implicit_reason;
    expectations.push_back(std::move(entry));
  }
  doc["expectations"] = expectations;
  doc["expectations_skipped"] = skipped;

  json intervals = json::array();
  for (const auto& i : m.intervals) {
    intervals.push_back({{"t_s", i.t_s}, {"builds_completed", i.builds_completed}, {"steps_completed", i.steps_completed},
                         {"collisions", i.collisions}, {"lock_wait_p99_us", i.lock_wait_p99_us}, {"in_flight", i.in_flight},
                         {"open_fds", i.open_fds}, {"threads", i.threads}, {"rss_kb", i.rss_kb}});
  }
  doc["intervals"] = intervals;

  auto seconds = [](std::optional<std::uint64_t> us) { return us ? json(static_cast<double>(*us) / 1e6) : json(nullptr); };
  json lock_events = json::array();
  for (const auto& e : m.lock_events.events()) {
    lock_events.push_back({{"key", e.key}, {"build", e.build}, {"kind", kind_name(outcome, e.kind)},
                           {"wait_start_s", static_cast<double>(e.wait_start_us) / 1e6}, {"granted_s", seconds(e.granted_us)},
                           {"released_s", seconds(e.released_us)}});
  }
  doc["lock_events"] = std::move(lock_events);
  if (outcome.multi_host) add_hosts(doc, *outcome.multi_host, m);
  doc["stop_reason"] = outcome.stop_reason.empty() ? json(nullptr) : json(outcome.stop_reason);
  return doc;
}

nlohmann::json sweep_to_json(const std::vector<CellReport>& cells, const SweepInfo& sweep) {
  json doc = header_json(cells.front().run);
  doc["command_line"] = sweep.command_line;
  doc["config"] = config_json(*cells.front().run.scenario);  // the first cell's, for orientation
  doc["sweep"] = {{"keys", sweep.keys}, {"repeat", sweep.repeat}, {"warmup", sweep.warmup}, {"cells_planned", sweep.cells_planned}};
  json list = json::array();
  bool interrupted = sweep.signal != 0;
  int signum = sweep.signal;
  for (const auto& cell : cells) {
    if (signum == 0 && cell.run.outcome->interrupted) signum = cell.run.outcome->signal;
    json entry = {{"index", cell.index}, {"repeat", cell.repeat}};
    json values = json::object();
    for (const auto& [key, value] : cell.values) values[key] = value;
    entry["values"] = values;
    entry.update(run_json(cell.run));
    interrupted = interrupted || cell.run.outcome->interrupted;
    list.push_back(std::move(entry));
  }
  doc["interrupted"] = interrupted;
  doc["signal"] = signum != 0 ? json(signal_name(signum)) : json(nullptr);
  doc["cells"] = std::move(list);
  doc["aggregates"] = aggregates_json(cells);
  return valid_utf8_strings(doc);
}

}  // namespace cachestress::report
