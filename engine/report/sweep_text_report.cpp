// The terminal view of a sweep: one row per cell, sweep keys as columns.
#include <fmt/format.h>

#include <algorithm>

#include "engine/core/printable.hpp"
#include "engine/model/scenario.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {
namespace {

// After the repetitions of --repeat K: per combination, the median, MAD and range of the key
// figures (report::aggregates, the numbers of the report's "aggregates"), one line each.
std::string repeat_aggregates_text(const std::vector<CellReport>& cells) {
  struct Figure {
    const char* label;
    const char* path;
    bool duration;
  };
  static constexpr Figure k_figures[] = {{"builds/s", "builds_per_s", false},
                                         {"wait p50", "lock_wait_us.p50", true},
                                         {"wait p99", "lock_wait_us.p99", true},
                                         {"collisions", "collisions.total", false}};
  std::string out = "  over repetitions: median ±MAD [min..max]\n";
  for (const Aggregate& aggregate : aggregates(cells)) {
    const std::string where = core::printable(model::sweep_values_text(aggregate.values));
    const std::size_t runs = aggregate.runs.size();
    std::string line = fmt::format("  {}{}{} rep{}", where, where.empty() ? "" : ", ", runs, runs == 1 ? "" : "s");
    // Say what the figures are not over: a cut-short repetition is no sample of the run.
    if (aggregate.partial) line += runs == 1 ? ", interrupted (partial)" : ", every one interrupted (partial)";
    if (aggregate.interrupted_left_out > 0) line += fmt::format(" ({} interrupted left out)", aggregate.interrupted_left_out);
    line += ":";
    const bool locked = std::any_of(aggregate.runs.begin(), aggregate.runs.end(), [](const CellReport* cell) {
      return metrics::summary_value(*cell->run.outcome->metrics, "lock_wait_us.count") > 0;
    });
    for (const auto& figure : k_figures) {
      if (figure.duration && !locked) continue;  // no lock taken: no wait to summarise
      const metrics::Spread* s = aggregate.figure(figure.path);
      if (s == nullptr) {
        line += fmt::format("  {} not measured", figure.label);
        continue;
      }
      auto text = [&](double v) { return figure.duration ? duration_text(v) : fmt::format("{:.1f}", v); };
      if (std::string_view(figure.path) == "collisions.total") {
        line += fmt::format("  {} {:.0f} ±{:.0f} [{:.0f}..{:.0f}]", figure.label, s->median, s->mad, s->min, s->max);
      } else {
        line += fmt::format("  {} {} ±{} [{}..{}]", figure.label, text(s->median), text(s->mad), text(s->min), text(s->max));
      }
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace
std::string sweep_to_text(const std::vector<CellReport>& cells, const SweepInfo& sweep) {
  std::vector<std::string> header(sweep.keys.begin(), sweep.keys.end());
  if (sweep.repeat > 1) header.emplace_back("rep");
  for (const char* column : {"builds/s", "wait p99", "collisions", "failed", "expect"}) header.emplace_back(column);

  std::vector<std::vector<std::string>> rows;
  for (const auto& cell : cells) {
    const auto& m = *cell.run.outcome->metrics;
    auto value = [&](const char* path) { return metrics::summary_value(m, path); };
    std::vector<std::string> row;
    for (const auto& [key, v] : cell.values) row.push_back(core::printable(v));
    if (sweep.repeat > 1) row.push_back(std::to_string(cell.repeat + 1));  // "rep 1", as the HTML page says
    row.push_back(fmt::format("{:.1f}", value("builds_per_s")));
    row.push_back(value("lock_wait_us.count") > 0 ? duration_text(value("lock_wait_us.p99")) : "-");
    row.push_back(fmt::format("{:.0f}", value("collisions.total")));
    row.push_back(fmt::format("{:.0f}", value("builds.failed")));
    const bool passed = std::all_of(cell.run.verdicts.begin(), cell.run.verdicts.end(), [](const auto& v) { return !v.failed(); });
    row.push_back(cell.run.outcome->interrupted ? "interrupted" : passed ? "pass" : "FAIL");
    rows.push_back(std::move(row));
  }

  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  // Joined by hand, not with fmt::join: its element formatter parses a spec at run time, where
  // GCC 12 at -O3 without NDEBUG reports a bogus -Wstringop-overflow inside fmt 9's fill_t
  // (fmtlib/fmt#2989; GCC 13 no longer does).
  std::string keys;
  for (const auto& key : sweep.keys) keys += (keys.empty() ? "" : " x ") + key;
  // --repeat without a sweep has no keys: "repeat K", not an empty "sweep" field.
  const std::string what = keys.empty() ? fmt::format("repeat {}", sweep.repeat) : "sweep " + keys;
  std::string out = fmt::format("cachestress {} | scenario {} | {} | {} of {} runs\n", CACHESTRESS_VERSION,
                                core::printable(cells.front().run.scenario->name), what, cells.size(), sweep.cells_planned);
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) line += fmt::format(" {:>{}}", row[c], width[c]);
    out += line + "\n";
  };
  emit(header);
  for (const auto& row : rows) emit(row);
  if (sweep.repeat > 1) out += repeat_aggregates_text(cells);
  return out;
}

}  // namespace cachestress::report
