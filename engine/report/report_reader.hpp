#pragma once
// Reading reports back (compare, HTML report): one view over single-run and multi-cell
// (sweep / --repeat) documents.
//
// Version 2 (written now): every report carries "cells", a single run as one cell, plus
// "sweep" and "aggregates". Version 1 (still read): a single run's report carries its run at the top level: config, interrupted, signal,
// summary, interference, failures, expectations, intervals. A sweep or repeated run carries
// "sweep": {"keys": [...], "repeat": K} and "cells": [ {"index", "repeat", "values": {key:
// value}, config, interrupted, signal, summary, interference, failures, expectations,
// intervals}, ... ] with no top-level summary.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace cachestress::report {

// The runs of a report, each a JSON object holding at least config and summary. A single
// run gives one cell (the document itself, with "values" empty and "repeat" 0).
std::vector<nlohmann::json> report_cells(const nlohmann::json& document);

// Reads and parses a report file. Throws InputError naming the file when it is missing,
// not JSON, or not a cachestress report of a known schema_version.
// Returned with printable_strings() applied.
nlohmann::json read_report_file(const std::string& path);
// Every string (keys included) of a document escaped by core::printable, so a report field
// read back (an id from a scenario file, a failure reason) cannot drive the terminal: compare,
// the HTML page and the md/csv exports print this.
nlohmann::json printable_strings(const nlohmann::json& document);
// Every string (keys included) with its non-UTF-8 bytes escaped (core::valid_utf8): what we
// write is always JSON that serialises, whatever bytes a command printed or a path held.
nlohmann::json valid_utf8_strings(const nlohmann::json& document);
// The same checks on a report's text; path only names it in errors. What compare and report
// read from other machines goes through here (fuzz/report_reader_check.hpp).
nlohmann::json read_report_text(std::string_view text, const std::string& path);

}  // namespace cachestress::report
