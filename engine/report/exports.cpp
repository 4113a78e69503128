#include "engine/report/exports.hpp"

#include <array>

#include "engine/core/error.hpp"
#include "engine/report/export_formatters.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {
namespace {

struct ExportFormat {
  const char* name;
  const char* help;
  std::string (*format)(const nlohmann::json&);
};

std::string to_json_text(const nlohmann::json& document) { return document.dump(2) + "\n"; }

// The one list of export formats: adding one is a file and a line here.
constexpr std::array<ExportFormat, 5> k_formats{{
    {"json", "the JSON report itself (results/schema.json)", to_json_text},
    {"csv", "one row per run or sweep cell: sweep values, config, every summary field", to_csv},
    {"md", "a Markdown table for a pull-request comment", to_markdown},
    {"bmf", "Bencher Metric Format JSON (bencher run --adapter json)", to_bmf},
    {"gbench", "Google Benchmark JSON (compare.py, github-action-benchmark tool: googlecpp)", to_gbench},
}};

const ExportFormat* find_format(std::string_view name) {
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

std::vector<std::string> export_formats() {
  std::vector<std::string> names;
  for (const auto& format : k_formats) names.emplace_back(format.name);
  return names;
}

std::string export_formats_help() {
  std::string help;
  for (const auto& format : k_formats) help += std::string("  ") + format.name + ": " + format.help + "\n";
  return help;
}

std::string format_report(const nlohmann::json& document, std::string_view format) {
  const ExportFormat* found = find_format(format);
  if (found == nullptr) {
    throw InputError("unknown report format \"" + std::string(format) + "\" (expected one of " + format_list() + ")");
  }
  return found->format(document);
}

ExportTarget parse_export(std::string_view spec) {
  const auto equals = spec.find('=');
  if (equals == std::string_view::npos) {
    throw InputError("--export: expected FORMAT=PATH (got \"" + std::string(spec) + "\")");
  }
  ExportTarget target{std::string(spec.substr(0, equals)), std::string(spec.substr(equals + 1))};
  if (find_format(target.format) == nullptr) {
    throw InputError("--export: unknown format \"" + target.format + "\" (expected one of " + format_list() + ")");
  }
  if (target.path.empty()) throw InputError("--export " + target.format + "=: the path is empty");
  return target;
}

void check_export_paths(const std::vector<ExportTarget>& targets) {
  for (const auto& target : targets) check_output_path(target.path);
}

void write_exports(const nlohmann::json& document, const std::vector<ExportTarget>& targets) {
  for (const auto& target : targets) write_atomically(target.path, format_report(document, target.format));
}

}  // namespace cachestress::report
