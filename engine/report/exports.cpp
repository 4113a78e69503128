#include "engine/report/exports.hpp"
#include "engine/report/report_reader.hpp"

#include <algorithm>
#include <array>

#include "engine/core/error.hpp"
#include "engine/report/export_formatters.hpp"

namespace cachestress::report {
namespace {

struct Format {
  const char* name;
  const char* extension;  // beside REPORT.json; nullptr: stdout only (text) or the report itself (json)
  const char* help;
  std::string (*format)(const nlohmann::json&);  // nullptr for text (the CLI's terminal summary)
};

std::string to_json_text(const nlohmann::json& document) { return document.dump(2) + "\n"; }

// The one list of formats: adding one is a file and a line here.
constexpr std::array<Format, 6> k_formats{{
    {"text", nullptr, "terminal summary (stdout only; the default)", nullptr},
    {"json", nullptr, "the JSON report itself (results/schema.json)", to_json_text},
    {"csv", ".csv", "one row per run or sweep cell: sweep values, config, every summary field", to_csv},
    {"md", ".md", "a Markdown table for a pull-request comment", to_markdown},
    {"bmf", ".bmf.json", "Bencher Metric Format JSON (bencher run --adapter json)", to_bmf},
    {"gbench", ".gbench.json", "Google Benchmark JSON (compare.py, github-action-benchmark tool: googlecpp)", to_gbench},
}};

const Format* find_format(std::string_view name) {
  for (const auto& format : k_formats) {
    if (name == format.name) return &format;
  }
  return nullptr;
}

std::string format_list() {
  std::string list;
  for (const auto& format : k_formats) list += (list.empty() ? "" : ", ") + std::string(format.name);
  return list;
}

}  // namespace

std::vector<std::string> format_names() {
  std::vector<std::string> names;
  for (const auto& format : k_formats) names.emplace_back(format.name);
  return names;
}

std::string formats_help() {
  std::string help;
  for (const auto& format : k_formats) help += std::string(help.empty() ? "" : "\n") + "  " + format.name + ": " + format.help;
  return help;
}

std::vector<std::string> parse_formats(const std::vector<std::string>& flag_values) {
  std::vector<std::string> formats;
  for (const auto& value : flag_values) {
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = value.find(',', start);
      const std::string name = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (find_format(name) == nullptr) {
        throw InputError("--format: unknown format \"" + name + "\" in \"" + value + "\" (expected one or more of " +
                         format_list() + ", comma-separated)");
      }
      if (std::find(formats.begin(), formats.end(), name) == formats.end()) formats.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (formats.empty()) formats.emplace_back("text");
  return formats;
}

bool is_file_format(std::string_view format) {
  const Format* found = find_format(format);
  return found != nullptr && found->extension != nullptr;
}

std::string sibling_path(const std::string& report_path, std::string_view format) {
  const Format* found = find_format(format);
  if (found == nullptr || found->extension == nullptr) return report_path;
  std::string stem = report_path;
  if (stem.size() > 5 && stem.ends_with(".json")) stem.resize(stem.size() - 5);
  return stem + found->extension;
}

std::string format_report(const nlohmann::json& document, std::string_view format) {
  const Format* found = find_format(format);
  if (found == nullptr || found->format == nullptr) {
    throw InputError("cannot format a report document as \"" + std::string(format) + "\" (expected one of " +
                     format_list() + " except text)");
  }
  // Text formats are printed and pasted: their strings escaped (JSON formats escape by themselves).
  if (format == "md" || format == "csv") return found->format(printable_strings(document));
  return found->format(document);
}

}  // namespace cachestress::report
