#include "engine/report/report_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <string_view>

#include "engine/core/error.hpp"
#include "engine/core/printable.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {
namespace {

// "line:column" (from 1) of byte `offset` of `text`, as editors count them.
std::string line_and_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(offset - line_start + 1);
}

// The summary's groups of event counters: whole numbers >= 0 (results/schema.json "counters").
constexpr std::array<std::string_view, 10> k_counter_groups{"builds", "steps",  "ops",    "bytes",    "locks",
                                                            "collisions", "cache", "errors", "failures", "races"};

// What results/schema.json says of a summary's numbers, checked where compare and report read
// them: counters (`counts`) and histogram counts are whole numbers >= 0, every other figure a
// number >= 0. A hand-edited -1 or 1.5 would otherwise be judged ("REGRESSION: rose from 0").
void check_summary_numbers(const nlohmann::json& value, const std::string& where, bool counts, const std::string& path) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      check_summary_numbers(item, where + "." + key, counts || key == "count" || key == "waited", path);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) check_summary_numbers(value[i], where + "[" + std::to_string(i) + "]", counts, path);
  } else if (value.is_number()) {
    const bool whole = value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
    if (counts && !whole) throw InputError(path + ": " + where + ": expected a count (a whole number >= 0), got " + value.dump());
    const double number = value.get<double>();
    if (!std::isfinite(number) || number < 0) throw InputError(path + ": " + where + ": expected a number >= 0, got " + value.dump());
  }
}

// Each run of the report as compare and report read it: an object with a config and a summary
// object, sweep values an object, the summary's numbers as the schema allows.
void check_runs(const nlohmann::json& document, const std::string& path) {
  const bool has_cells = document.contains("cells");
  if (has_cells && (!document["cells"].is_array() || document["cells"].empty())) {
    throw InputError(path + ": report has no cells (\"cells\" must be a non-empty array of runs)");
  }
  const auto cells = report_cells(document);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const std::string where = has_cells ? "cells[" + std::to_string(i) + "]" : std::string("the report");
    const auto& cell = cells[i];
    if (!cell.is_object() || !cell.contains("summary") || !cell["summary"].is_object() || !cell.contains("config") ||
        !cell["config"].is_object()) {
      throw InputError(path + ": " + where + " has no summary or config object (not a run of a cachestress report)");
    }
    if (cell.contains("values") && !cell["values"].is_object()) {
      throw InputError(path + ": " + where + ".values: expected an object (sweep key -> value), got " + cell["values"].dump());
    }
    const std::string summary = (has_cells ? where + "." : std::string()) + "summary";
    for (const auto& [key, group] : cell["summary"].items()) {
      const bool counters = std::find(k_counter_groups.begin(), k_counter_groups.end(), key) != k_counter_groups.end();
      check_summary_numbers(group, summary + "." + key, counters, path);
    }
  }
}

}  // namespace

namespace {

// The document with `convert` applied to every string, object keys included.
template <typename Convert>
nlohmann::json converted_strings(const nlohmann::json& document, Convert convert) {
  if (document.is_string()) return convert(document.get_ref<const std::string&>());
  if (document.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : document) out.push_back(converted_strings(item, convert));
    return out;
  }
  if (document.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : document.items()) out[convert(key)] = converted_strings(value, convert);
    return out;
  }
  return document;
}

}  // namespace

nlohmann::json printable_strings(const nlohmann::json& document) {
  return converted_strings(document, [](std::string_view s) { return core::printable(s); });
}

nlohmann::json valid_utf8_strings(const nlohmann::json& document) {
  return converted_strings(document, [](std::string_view s) { return core::valid_utf8(s); });
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
  // Non-blocking, so a FIFO nobody writes to is refused here instead of hanging the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(path + ": cannot open report (" + errno_text(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    // /dev/zero would be read until memory ran out; a directory or FIFO is no report either.
    throw InputError(path + ": not a regular file (a report is a JSON file written by cachestress)");
  }
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == text.size()) text.resize(text.size() + 65536);  // the file grew as we read
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw InputError(path + ": cannot read report (" + errno_text(err) + ")");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return read_report_text(text, path);
}

nlohmann::json read_report_text(std::string_view text, const std::string& path) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message after its own "[json.exception...] parse error at line L, column C: "
    // prefix: where is ours to say, as for a scenario file (path:line:column: problem).
    const std::string what = e.what();
    const std::size_t colon = what.find(": ");
    const std::string problem = colon == std::string::npos ? what : what.substr(colon + 2);
    const std::size_t at = e.byte == 0 ? 0 : e.byte - 1;  // nlohmann counts from 1
    throw InputError(path + ":" + line_and_column(text, at) + ": not valid JSON: " + core::printable(problem));
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error and no position: a number past the double's range (1e3081000) is
    // nlohmann's out_of_range.406 (the fuzz smoke's finding, fuzz/regressions/report_reader).
    const std::string what = e.what();
    const std::size_t bracket = what.find("] ");
    throw InputError(path + ": not valid JSON: " + core::printable(bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
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
  check_runs(document, path);
  return printable_strings(document);
}

}  // namespace cachestress::report
