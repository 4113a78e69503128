#pragma once
// Report formats (results/README.md, "Formats and file names"). Each formatter turns the
// report document into text: formatting only, nothing is measured, so every format can be
// produced from a fresh run or from a report file read back.
//
// One run writes several formats: `--format csv,md` (or `--format csv --format md`). The
// first format goes to stdout; every file format is also written beside the JSON report,
// atomically, each time the report is (after every run or sweep cell):
//   REPORT.json -> REPORT.csv, REPORT.md, REPORT.bmf.json, REPORT.gbench.json
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cachestress::report {

// Every format name, in help order: text, json, csv, md, bmf, gbench.
std::vector<std::string> format_names();

// One line per format for --help: "  csv: one row per run ...", lines joined by newlines.
std::string formats_help();

// The --format values in order, comma lists split, duplicates dropped; {"text"} when none.
// Throws InputError naming --format and the known formats for an unknown or empty name.
std::vector<std::string> parse_formats(const std::vector<std::string>& flag_values);

// True for the formats written as files beside the report: csv, md, bmf, gbench (json is
// the report itself; text is the terminal summary, stdout only).
bool is_file_format(std::string_view format);

// The file a file format is written to beside a report: "r.json" -> "r.csv", "r.md",
// "r.bmf.json", "r.gbench.json" (a report path without ".json" keeps its whole name).
std::string sibling_path(const std::string& report_path, std::string_view format);

// The report document in a format other than text. Throws InputError for an unknown format
// or a document that is not a report of this schema.
std::string format_report(const nlohmann::json& document, std::string_view format);

}  // namespace cachestress::report
