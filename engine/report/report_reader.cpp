#include "engine/report/report_reader.hpp"

#include <fstream>
#include <sstream>

#include "engine/core/error.hpp"
#include "engine/core/printable.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {

nlohmann::json printable_strings(const nlohmann::json& document) {
  if (document.is_string()) return core::printable(document.get_ref<const std::string&>());
  if (document.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : document) out.push_back(printable_strings(item));
    return out;
  }
  if (document.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : document.items()) out[core::printable(key)] = printable_strings(value);
    return out;
  }
  return document;
}

std::vector<nlohmann::json> report_cells(const nlohmann::json& document) {
  std::vector<nlohmann::json> cells;
  if (document.contains("cells") && document["cells"].is_array()) {
    for (const auto& cell : document["cells"]) cells.push_back(cell);
    return cells;
  }
  nlohmann::json single = document;
  if (!single.contains("values")) single["values"] = nlohmann::json::object();
  if (!single.contains("repeat")) single["repeat"] = 0;
  cells.push_back(std::move(single));
  return cells;
}

nlohmann::json read_report_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open report");
  std::ostringstream text;
  text << in.rdbuf();
  return read_report_text(text.str(), path);
}

nlohmann::json read_report_text(std::string_view text, const std::string& path) {
  auto document = nlohmann::json::parse(text, nullptr, false);
  if (document.is_discarded()) throw InputError(path + ": not valid JSON");
  // Each field's type checked before it is read: nlohmann's value() throws type_error on a
  // field of another type, which is bad input, not our bug.
  const auto is_ours = [&] {
    if (!document.is_object() || !document.contains("schema_version") || !document.contains("tool")) return false;
    const auto& tool = document["tool"];
    return tool.is_object() && tool.contains("name") && tool["name"].is_string() && tool["name"].get_ref<const std::string&>() == "cachestress";
  };
  if (!is_ours()) {
    throw InputError(path + ": not a cachestress report (no schema_version / tool.name)");
  }
  const auto& version = document["schema_version"];
  if (!version.is_number_integer() || version.get<int>() < k_oldest_schema_version || version.get<int>() > k_schema_version) {
    throw InputError(path + ": schema_version " + version.dump() + " (this cachestress reads " +
                     std::to_string(k_oldest_schema_version) + " to " + std::to_string(k_schema_version) + ")");
  }
  if (version.get<int>() >= 2 && !(document.contains("cells") && document["cells"].is_array() && !document["cells"].empty())) {
    throw InputError(path + ": schema_version " + version.dump() + " report has no cells");
  }
  if (!document.contains("cells") && !document.contains("summary")) throw InputError(path + ": report has no summary");
  return printable_strings(document);
}

}  // namespace cachestress::report
