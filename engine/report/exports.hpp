#pragma once
// Export formats beside the JSON report (results/README.md, "Export formats"). Each
// formatter turns the report document into text: formatting only, nothing is measured, so
// every format can be produced from a fresh run or from a report file read back.
//
// One run writes several formats: stdout gets `--format FORMAT`, and each repeatable
// `--export FORMAT=PATH` writes one more file, atomically, at the same time as --out.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cachestress::report {

// The formats format_report knows, in help order: json, csv, md, bmf, gbench.
std::vector<std::string> export_formats();

// One line per format for --help: "csv: one row per run ...".
std::string export_formats_help();

// The report document in the given format. Throws InputError for an unknown format (the
// message lists the known ones) or a document that is not a report of this schema.
std::string format_report(const nlohmann::json& document, std::string_view format);

// A parsed `--export FORMAT=PATH`.
struct ExportTarget {
  std::string format;
  std::string path;
};

// Parses "FORMAT=PATH"; throws InputError naming --export when the format is unknown or
// the path is empty.
ExportTarget parse_export(std::string_view spec);

// Checks every target's path before a run (report::check_output_path), so a bad path costs
// no run. Throws EnvironmentError.
void check_export_paths(const std::vector<ExportTarget>& targets);

// Writes every target atomically (temp file + rename). Throws EnvironmentError.
void write_exports(const nlohmann::json& document, const std::vector<ExportTarget>& targets);

}  // namespace cachestress::report
