// Markdown export: a short table fit for a pull-request comment (GitHub-flavoured tables).
// Durations are scaled for reading; CSV and JSON keep the raw microseconds.
#include <fmt/format.h>

#include "engine/report/export_formatters.hpp"
#include "engine/report/markup.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::report {
namespace {

std::string duration_text(double us) {
  if (us < 1000) return fmt::format("{:.0f} µs", us);
  if (us < 1e6) return fmt::format("{:.1f} ms", us / 1000);
  return fmt::format("{:.2f} s", us / 1e6);
}

// The runs' settings; a swept one lists every value it took (a sweep's first cell is not the sweep).
std::string config_line(const std::vector<ReportRow>& rows) {
  auto text = [&](const char* key) {
    std::vector<std::string> seen;
    for (const ReportRow& row : rows) {
      const auto& config = row.cell.value("config", nlohmann::json::object());
      const std::string value = config.contains(key) ? value_text(config[key]) : std::string("?");
      if (std::find(seen.begin(), seen.end(), value) == seen.end()) seen.push_back(value);
    }
    std::string joined;
    for (const auto& value : seen) joined += (joined.empty() ? "" : ", ") + value;
    return joined;
  };
  return fmt::format("semantics {} · sharing {} · isolation {} · backend {} · concurrency {} · seed {}", text("semantics"),
                     text("sharing"), text("isolation"), text("backend"), text("concurrency"), text("seed"));
}

std::string failed_expectations(const nlohmann::json& cell) {
  std::string failed;
  for (const auto& e : cell.value("expectations", nlohmann::json::array())) {
    if (e.value("passed", true)) continue;
    failed += (failed.empty() ? "" : ", ") + e.value("field", std::string("?")) + " " + e.value("expect", std::string()) +
              " (value " + (e.contains("value") ? value_text(e["value"]) : "?") + ")";
  }
  return failed;
}

}  // namespace

std::string to_markdown(const nlohmann::json& document) {
  const std::vector<ReportRow> rows = report_rows(document);
  std::string out = fmt::format("### cachestress `{}`\n\n", markdown_code(report_scenario(document)));
  if (!rows.empty()) out += config_line(rows) + "\n\n";

  const bool sweep = !sweep_keys(document).empty() || rows.size() > 1;
  out += std::string(sweep ? "| run " : "") +
         "| builds/s | lock wait p50 | lock wait p99 | build time p99 | collisions | failed builds | expectations |\n";
  out += std::string(sweep ? "|---" : "") + "|---:|---:|---:|---:|---:|---:|---|\n";
  for (const ReportRow& row : rows) {
    const auto& cell = row.cell;
    std::string label = values_label(row);
    if (row.repetitions > 1) label += fmt::format("{}#{}", label.empty() ? "" : " ", row.repetition_index + 1);
    if (cell.value("interrupted", false)) label += " (interrupted)";
    const std::string failed = failed_expectations(cell);
    const auto& expectations = cell.value("expectations", nlohmann::json::array());
    const std::string verdict = expectations.empty() ? "none" : failed.empty() ? "pass" : "**FAIL** " + markdown_escape(failed);
    if (sweep) out += "| " + markdown_escape(label.empty() ? "run" : label) + " ";
    // "not measured" (the backend's) or "none" (no samples) rather than a placeholder 0.
    auto shown = [&](const char* path, auto format) -> std::string {
      if (!backend_measures(cell, path)) return "not measured";
      if (!has_samples(cell, path)) return "none";
      return format(path);
    };
    auto duration = [&](const char* path) { return duration_text(summary_number(cell, path)); };
    auto count = [&](const char* path) { return summary_field(cell, path).dump(); };
    out += fmt::format("| {:.1f} | {} | {} | {} | {} | {} | {} |\n", summary_number(cell, "builds_per_s"),
                       shown("lock_wait_us.p50", duration), shown("lock_wait_us.p99", duration),
                       shown("build_latency_us.p99", duration), shown("collisions.total", count), count("builds.failed"),
                       verdict);
  }
  return out;
}

}  // namespace cachestress::report
