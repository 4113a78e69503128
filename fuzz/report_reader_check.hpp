#pragma once
// The property the report-reader fuzzer checks, shared with the unit suite's replay
// (tests/engine/fuzz/fuzz_replay_test.cpp). `compare` and `report` read JSON files written on
// other machines (or by hand); the input is such a file's bytes.
//   1. read_report_text() returns a document or throws InputError naming the file; nothing
//      else escapes (cli::main catches InputError only: anything else would kill it).
//   2. A document it accepts has at least one run (report_cells).
//   3. `compare` of the document with itself (--force) returns or throws InputError, and then
//      finds no regression and no improvement (nothing changed), and all three outputs
//      (text, md, json) format.
//   4. The HTML report's reader (html::collect_cells) never throws: it skips what it cannot
//      read; its labels are unique and every wait CDF ascends in value and fraction.
// Crashes, sanitizer reports and hangs are the fuzzer's own findings.
#include <exception>
#include <set>
#include <string>
#include <string_view>

#include "engine/compare/compare.hpp"
#include "engine/compare/compare_format.hpp"
#include "engine/core/error.hpp"
#include "engine/html/report_data.hpp"
#include "engine/report/report_reader.hpp"

namespace cachestress::fuzz {

inline constexpr std::string_view k_fuzz_report = "fuzz.json";

namespace detail {

inline std::string check_compare_with_itself(const nlohmann::json& document) {
  compare::Comparison comparison;
  try {
    comparison = compare::compare_reports(document, document, compare::Options{}, true, "base.json", "new.json");
  } catch (const InputError&) {
    return {};
  } catch (const std::exception& e) {
    return std::string("compare threw something other than InputError: ") + e.what();
  }
  for (const auto& cell : comparison.cells) {
    for (const auto& metric : cell.metrics) {
      if (metric.verdict == compare::Verdict::regression || metric.verdict == compare::Verdict::improvement) {
        return std::string("a report compared with itself: ") + metric.spec->path + " is " +
               compare::to_string(metric.verdict) + " (" + metric.reason + ")";
      }
    }
  }
  if (comparison.regression()) return "a report compared with itself is a regression";
  try {
    (void)compare::to_text(comparison);
    (void)compare::to_markdown(comparison);
    (void)compare::to_json(comparison).dump();
  } catch (const std::exception& e) {
    return std::string("formatting a comparison threw: ") + e.what();
  }
  return {};
}

inline std::string check_html_cells(const nlohmann::json& document) {
  std::vector<html::RunCell> cells;
  try {
    cells = html::collect_cells({{std::string(k_fuzz_report), document}});
  } catch (const std::exception& e) {
    return std::string("html::collect_cells threw: ") + e.what();
  }
  std::set<std::string> labels;
  for (const auto& cell : cells) {
    if (!labels.insert(cell.label).second) return "two cells share the label \"" + cell.label + "\"";
    for (std::size_t i = 1; i < cell.wait_cdf.size(); ++i) {
      const auto& a = cell.wait_cdf[i - 1];
      const auto& b = cell.wait_cdf[i];
      if (b.value_us < a.value_us || b.fraction < a.fraction) {
        return "cell \"" + cell.label + "\": wait CDF descends at point " + std::to_string(i);
      }
    }
  }
  return {};
}

}  // namespace detail

// Empty when the property holds for these bytes, else a description of the finding.
inline std::string check_report_reader(std::string_view bytes) {
  nlohmann::json document;
  try {
    document = report::read_report_text(bytes, std::string(k_fuzz_report));
  } catch (const InputError& e) {
    const std::string message = e.what();
    // "fuzz.json: ..." or, for a JSON syntax error, "fuzz.json:LINE:COLUMN: ...".
    const std::string name(k_fuzz_report);
    if (!message.starts_with(name + ":")) return "InputError does not name the file: " + message;
    return {};
  } catch (const std::exception& e) {
    return std::string("read_report_text threw something other than InputError: ") + e.what();
  }
  try {
    if (report::report_cells(document).empty()) return "an accepted report has no run";
  } catch (const std::exception& e) {
    return std::string("report_cells threw: ") + e.what();
  }
  if (std::string finding = detail::check_compare_with_itself(document); !finding.empty()) return finding;
  return detail::check_html_cells(document);
}

}  // namespace cachestress::fuzz
