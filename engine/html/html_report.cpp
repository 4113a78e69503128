#include "engine/html/html_report.hpp"

#include <set>

#include "engine/html/charts.hpp"
#include "engine/html/hosts_table.hpp"
#include "engine/html/svg_chart.hpp"

namespace cachestress::html {
namespace {

// Screen and print: system fonts only (nothing to download), charts scale to the page
// width, a figure never splits across printed pages.
constexpr const char* k_style = R"css(
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222;
       background: #fff; max-width: 1000px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 6px; }
.meta { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
th.number { text-align: right; }
figure { margin: 32px 0; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: #444; font-size: 13px; margin-top: 4px; }
svg text { font-family: inherit; font-size: 12px; fill: #222; }
svg .tick-label { fill: #444; }
svg .axis-title { font-weight: 600; }
svg .key-label { font-weight: 600; }
svg .note { fill: #555; font-style: italic; font-size: 14px; }
svg .note-small { fill: #555; font-style: italic; }
svg .on-dark { fill: #fff; }
svg .axis { stroke: #444; stroke-width: 1; shape-rendering: crispEdges; }
svg .grid { stroke: #e6e6e6; stroke-width: 1; shape-rendering: crispEdges; }
svg rect { shape-rendering: crispEdges; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .queue { opacity: 0.45; }
svg .holder { stroke: #fff; stroke-width: 0.5; }
svg .alternate { fill-opacity: 0.6; }
svg .heat { stroke: #fff; stroke-width: 1; }
svg .frame { stroke: #ccc; }
table.evidence { margin-top: 10px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.fail { color: #b00020; }
.verdict { font-size: 15px; }
.sources { color: #555; font-size: 12px; word-break: break-all; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  figure { break-inside: avoid; page-break-inside: avoid; margin: 18px 0; }
  table, tr { break-inside: avoid; }
  svg .grid { stroke: #cfcfcf; }
  svg .tick-label, figcaption, .meta, .sources { fill: #000; color: #000; }
}
)css";

std::string cell_or_dash(const std::optional<double>& value, std::string (*format)(double)) {
  return value ? format(*value) : "–";
}

// Builds in flight; a cachestress-mpi run's config.concurrency is per rank: "4 (2 ranks × 2)".
std::string concurrency_text(const RunCell& cell) {
  if (!cell.ranks || !cell.in_flight) return cell_or_dash(cell.concurrency, format_number);
  return format_number(*cell.in_flight) + " (" + format_number(*cell.ranks) + (*cell.ranks == 1 ? " rank × " : " ranks × ") + format_number(*cell.concurrency) + ")";
}

// The run's note: interrupted, and every expectation it failed, with FAIL in front.
std::string run_note(const RunCell& cell) {
  std::string note = cell.interrupted ? "interrupted: partial results" : "";
  for (const auto& failed : cell.failed_expectations) {
    note += (note.empty() ? "" : "<br>") + std::string("<strong class=\"fail\">FAIL</strong> ") + markup_escape(failed);
  }
  return note;
}

std::string runs_table(const std::vector<RunCell>& cells) {
  std::size_t failed_runs = 0;
  for (const auto& cell : cells) failed_runs += cell.failed_expectations.empty() ? 0 : 1;
  std::string html = "<section id=\"runs\">\n<h2>Runs</h2>\n";
  // A failed run must not read as a quiet one: say so before the figures.
  if (failed_runs > 0) {
    html += "<p class=\"verdict\"><strong class=\"fail\">FAIL</strong>: " + std::to_string(failed_runs) + " of " +
            std::to_string(cells.size()) + (cells.size() == 1 ? " run" : " runs") + " failed an expectation (below).</p>\n";
  }
  html +=
      "<table>\n<thead><tr><th>run</th><th>scenario</th><th>sharing</th>"
      "<th class=\"number\">concurrency</th><th class=\"number\">builds/s</th><th class=\"number\">p99 lock wait</th>"
      "<th class=\"number\">collisions</th><th class=\"number\">failed builds</th><th>note</th></tr></thead>\n<tbody>\n";
  for (const auto& cell : cells) {
    html += "<tr><td>" + markup_escape(cell.label) + "</td><td>" + markup_escape(cell.scenario) + "</td><td>" + markup_escape(cell.sharing) +
            "</td><td class=\"number\">" + concurrency_text(cell) + "</td><td class=\"number\">" +
            cell_or_dash(cell.builds_per_s, format_number) + "</td><td class=\"number\">" +
            (!cell.wait_measured                 ? std::string("not measured")
             : cell.wait_count.value_or(0) > 0 ? cell_or_dash(cell.wait_p99_us, format_duration_us)
                                               : std::string("no lock waits")) +
            "</td><td class=\"number\">" +
            (cell.collisions_measured ? cell_or_dash(cell.collisions, format_number) : std::string("not measured")) +
            "</td><td class=\"number\">" +
            (cell.builds_failed.value_or(0) > 0 ? "<strong class=\"fail\">" + format_number(*cell.builds_failed) + "</strong>"
                                                : cell_or_dash(cell.builds_failed, format_number)) +
            "</td><td>" + run_note(cell) + "</td></tr>\n";
  }
  return html + "</tbody>\n</table>\n</section>\n";
}

// Why builds failed, per run that had failures: the report's failures[] groups (reason,
// builds, one example), so a run whose builds all failed says why, not only builds/s 0.
std::string failures_section(const std::vector<RunCell>& cells) {
  std::string body;
  for (const auto& cell : cells) {
    if (cell.builds_failed.value_or(0) <= 0 && cell.failures.empty()) continue;
    body += "<h3>" + markup_escape(cell.label) + ": " + format_number(cell.builds_failed.value_or(0)) +
            (cell.builds_failed.value_or(0) == 1 ? " build failed" : " builds failed") + "</h3>\n";
    if (cell.failures.empty()) {
      body += "<p>The report names no failure reason.</p>\n";
      continue;
    }
    body += "<table>\n<thead><tr><th>reason</th><th>category</th><th class=\"number\">builds</th><th>example</th></tr></thead>\n<tbody>\n";
    for (const auto& failure : cell.failures) {
      body += "<tr><td>" + markup_escape(failure.reason) + "</td><td>" + markup_escape(failure.category) + "</td><td class=\"number\">" +
              format_number(failure.count) + "</td><td>" + markup_escape(failure.example) + "</td></tr>\n";
    }
    body += "</tbody>\n</table>\n";
    if (cell.failures_left_out > 0) body += "<p>" + std::to_string(cell.failures_left_out) + " more reasons not listed.</p>\n";
  }
  if (body.empty()) return {};
  return "<section id=\"failures\">\n<h2>Failed builds</h2>\n" + body + "</section>\n";
}

// Where the data came from and how to reproduce it.
std::string sources_list(const std::vector<ReportSource>& sources) {
  std::string html = "<section class=\"sources\">\n<h2>Sources</h2>\n<ul>\n";
  for (const auto& source : sources) {
    html += "<li>" + markup_escape(source.path);
    const auto& document = source.document;
    if (document.contains("created_at") && document["created_at"].is_string()) {
      html += ", created " + markup_escape(document["created_at"].get<std::string>());
    }
    if (document.contains("command_line") && document["command_line"].is_string()) {
      html += ": <code>" + markup_escape(document["command_line"].get<std::string>()) + "</code>";
    }
    html += "</li>\n";
  }
  return html + "</ul>\n</section>\n";
}

std::string tool_version(const std::vector<ReportSource>& sources) {
  std::set<std::string> versions;
  for (const auto& source : sources) {
    const auto& tool = source.document.value("tool", nlohmann::json::object());
    if (tool.is_object() && tool.contains("version") && tool["version"].is_string()) versions.insert(tool["version"].get<std::string>());
  }
  std::string text;
  for (const auto& version : versions) text += (text.empty() ? "" : ", ") + version;
  return text.empty() ? "unknown" : text;
}

}  // namespace

std::string left_out_note(std::size_t left_out) {
  if (left_out == 0) return {};
  return " " + std::to_string(left_out) + " more run" + (left_out == 1 ? "" : "s") + " with data not drawn.";
}

std::string render_html_report(const std::vector<ReportSource>& sources) {
  const std::vector<RunCell> cells = collect_cells(sources);
  std::set<std::string> scenarios;
  for (const auto& cell : cells) scenarios.insert(cell.scenario);
  std::string scenario_names;
  for (const auto& name : scenarios) scenario_names += (scenario_names.empty() ? "" : ", ") + name;
  const std::string runs = std::to_string(cells.size()) + (cells.size() == 1 ? " run" : " runs");

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Self-contained by construction: the browser refuses to load anything at all.
  html += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>cachestress report: " + markup_escape(scenario_names) + " (" + runs + ")</title>\n";
  html += "<style>" + std::string(k_style) + "</style>\n</head>\n<body>\n";
  html += "<header>\n<h1>cachestress report: " + markup_escape(scenario_names) + "</h1>\n<p class=\"meta\">" + runs + " from " +
          std::to_string(sources.size()) + (sources.size() == 1 ? " report" : " reports") + ", written by cachestress " +
          markup_escape(tool_version(sources)) + ".</p>\n</header>\n";
  html += runs_table(cells);
  html += failures_section(cells);
  html += hosts_table(sources);
  html += scaling_chart(cells);
  html += wait_cdf_chart(cells);
  html += lock_timeline_chart(cells);
  html += interference_chart(cells);
  html += intervals_chart(cells);
  html += sources_list(sources);
  return html + "</body>\n</html>\n";
}

}  // namespace cachestress::html
