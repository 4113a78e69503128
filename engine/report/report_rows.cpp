#include "engine/report/report_rows.hpp"

#include <algorithm>
#include <map>

#include "engine/core/error.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/model/scenario.hpp"
#include "engine/report/report_reader.hpp"

namespace cachestress::report {

std::vector<std::string> sweep_keys(const nlohmann::json& document) {
  std::vector<std::string> keys;
  const auto sweep = document.find("sweep");
  if (sweep != document.end() && sweep->is_object() && sweep->contains("keys") && (*sweep)["keys"].is_array()) {
    for (const auto& key : (*sweep)["keys"]) {
      if (key.is_string()) keys.push_back(key.get<std::string>());
    }
    return keys;
  }
  // No declared order: the union of the cells' keys, in first-seen order.
  for (const auto& cell : report_cells(document)) {
    const auto values = cell.find("values");
    if (values == cell.end() || !values->is_object()) continue;
    for (const auto& [key, value] : values->items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  return keys;
}

std::string report_scenario(const nlohmann::json& document) {
  const auto cells = report_cells(document);
  if (cells.empty()) return {};
  const auto& config = cells.front().value("config", nlohmann::json::object());
  return config.is_object() ? config.value("scenario", std::string()) : std::string();
}

std::string value_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::vector<ReportRow> report_rows(const nlohmann::json& document) {
  const std::vector<std::string> keys = sweep_keys(document);
  const std::string scenario = report_scenario(document);
  std::vector<ReportRow> rows;
  std::map<std::string, std::size_t> seen;  // name -> rows so far
  for (auto& cell : report_cells(document)) {
    ReportRow row;
    row.name = scenario;
    const auto values = cell.value("values", nlohmann::json::object());
    for (const auto& key : keys) {
      if (!values.is_object() || !values.contains(key)) continue;
      row.values.emplace_back(key, value_text(values[key]));
      row.name += "/" + key + ":" + row.values.back().second;
    }
    row.repetition_index = seen[row.name]++;
    row.cell = std::move(cell);
    rows.push_back(std::move(row));
  }
  for (auto& row : rows) row.repetitions = seen[row.name];
  return rows;
}

const nlohmann::json& summary_field(const nlohmann::json& cell, std::string_view dotted_path) {
  std::string pointer = "/summary/";
  for (char c : dotted_path) pointer += c == '.' ? '/' : c;
  const nlohmann::json::json_pointer at(pointer);
  if (!cell.contains(at) || !cell[at].is_number()) {
    throw InputError("report has no number at summary." + std::string(dotted_path));
  }
  return cell[at];
}

bool backend_measures(const nlohmann::json& cell, std::string_view path) {
  if (!cell.contains("not_measured") || !cell["not_measured"].is_array()) return true;
  for (const auto& entry : cell["not_measured"]) {
    if (!entry.is_string()) continue;
    const std::string& name = entry.get_ref<const std::string&>();
    if (path == name || (path.starts_with(name) && path.size() > name.size() && path[name.size()] == '.')) return false;
  }
  return true;
}

bool has_samples(const nlohmann::json& cell, std::string_view path) {
  const std::string_view distribution = metrics::sampled_distribution(path);
  if (distribution.empty() || !cell.contains("summary") || !cell["summary"].is_object()) return true;
  const nlohmann::json& summary = cell["summary"];
  const std::string group(distribution);
  if (!summary.contains(group) || !summary[group].is_object() || !summary[group].contains("count")) return true;
  const auto& count = summary[group]["count"];
  return !count.is_number() || count.get<double>() > 0;
}

bool is_measurement(const nlohmann::json& cell, std::string_view path) { return backend_measures(cell, path) && has_samples(cell, path); }

double summary_number(const nlohmann::json& cell, std::string_view dotted_path) {
  return summary_field(cell, dotted_path).get<double>();
}

std::string values_label(const ReportRow& row) { return model::sweep_values_text(row.values); }

}  // namespace cachestress::report
