// CSV export: one row per run or sweep cell, every summary field as a column, so a
// spreadsheet or pandas gets the whole report without knowing its JSON layout (RFC 4180).
#include <algorithm>

#include "engine/metrics/summary_fields.hpp"
#include "engine/report/export_formatters.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::report {
namespace {

// The config fields worth a column: what a sweep varies and what identifies a run.
constexpr const char* k_config_columns[] = {"semantics", "sharing",  "isolation",  "backend", "arrival",
                                            "lock_kind", "concurrency", "builds", "duration_s", "seed"};

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// Every numeric leaf of a summary object as a dotted path.
void collect_leaves(const nlohmann::json& node, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [key, value] : node.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      collect_leaves(value, path, out);
    } else if (value.is_number()) {
      out.push_back(path);
    }
  }
}

// Summary columns in metric-table order (the order of the JSON docs), then any field this
// binary does not know (a report from a newer cachestress) in name order.
std::vector<std::string> summary_columns(const std::vector<ReportRow>& rows) {
  std::vector<std::string> present;
  if (!rows.empty()) collect_leaves(rows.front().cell.value("summary", nlohmann::json::object()), "", present);
  std::vector<std::string> columns;
  for (const auto& path : metrics::summary_field_paths()) {
    if (std::find(present.begin(), present.end(), path) != present.end()) columns.push_back(path);
  }
  for (const auto& path : present) {
    if (std::find(columns.begin(), columns.end(), path) == columns.end()) columns.push_back(path);
  }
  return columns;
}

bool all_expectations_passed(const nlohmann::json& cell) {
  const auto expectations = cell.value("expectations", nlohmann::json::array());
  return std::all_of(expectations.begin(), expectations.end(),
                     [](const nlohmann::json& e) { return e.value("passed", false); });
}

}  // namespace

std::string to_csv(const nlohmann::json& document) {
  const std::vector<ReportRow> rows = report_rows(document);
  const std::vector<std::string> keys = sweep_keys(document);
  const std::vector<std::string> metrics = summary_columns(rows);

  std::vector<std::string> header{"scenario", "run", "repetition"};
  for (const auto& key : keys) header.push_back("sweep." + key);
  for (const char* column : k_config_columns) header.push_back(std::string("config.") + column);
  header.insert(header.end(), {"interrupted", "expectations_passed"});
  header.insert(header.end(), metrics.begin(), metrics.end());

  std::string out;
  auto emit = [&out](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
    out += "\r\n";  // RFC 4180 line ending
  };
  emit(header);
  for (std::size_t index = 0; index < rows.size(); ++index) {
    const ReportRow& row = rows[index];
    const auto config = row.cell.value("config", nlohmann::json::object());
    std::vector<std::string> fields{config.value("scenario", std::string()), std::to_string(index),
                                    std::to_string(row.repetition_index)};
    for (const auto& key : keys) {
      auto found = std::find_if(row.values.begin(), row.values.end(), [&](const auto& kv) { return kv.first == key; });
      fields.push_back(found == row.values.end() ? std::string() : found->second);
    }
    for (const char* column : k_config_columns) fields.push_back(config.contains(column) ? value_text(config[column]) : "");
    fields.push_back(row.cell.value("interrupted", false) ? "true" : "false");
    fields.push_back(all_expectations_passed(row.cell) ? "true" : "false");
    // Empty, not the report's placeholder 0, where the figure is no measurement (results/README.md).
    for (const auto& path : metrics) fields.push_back(is_measurement(row.cell, path) ? summary_field(row.cell, path).dump() : std::string());
    emit(fields);
  }
  return out;
}

}  // namespace cachestress::report
