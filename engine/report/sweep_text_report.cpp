// The terminal view of a sweep: one row per cell, sweep keys as columns.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/metrics/summary_fields.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {
std::string sweep_to_text(const std::vector<CellReport>& cells, const SweepInfo& sweep) {
  std::vector<std::string> header(sweep.keys.begin(), sweep.keys.end());
  if (sweep.repeat > 1) header.emplace_back("rep");
  for (const char* column : {"builds/s", "wait p99", "collisions", "failed", "expect"}) header.emplace_back(column);

  std::vector<std::vector<std::string>> rows;
  for (const auto& cell : cells) {
    const auto& m = *cell.run.outcome->metrics;
    auto value = [&](const char* path) { return metrics::summary_value(m, path); };
    std::vector<std::string> row;
    for (const auto& [key, v] : cell.values) row.push_back(v);
    if (sweep.repeat > 1) row.push_back(std::to_string(cell.repeat + 1));
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
  std::string out = fmt::format("cachestress {} | scenario {} | sweep {} | {} of {} runs\n", CACHESTRESS_VERSION,
                                cells.front().run.scenario->name, fmt::join(sweep.keys, " x "), cells.size(), sweep.cells_planned);
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) line += fmt::format(" {:>{}}", row[c], width[c]);
    out += line + "\n";
  };
  emit(header);
  for (const auto& row : rows) emit(row);
  return out;
}

}  // namespace cachestress::report
