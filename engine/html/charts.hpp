#pragma once
// The five charts of the HTML report, one file each (engine/html/chart_<name>.cpp). Each
// returns a complete <figure> with the id the report and its tests rely on; a chart with
// nothing to draw still returns its frame with a note saying why.
#include <cstddef>
#include <string>
#include <vector>

#include "engine/html/report_data.hpp"

namespace cachestress::html {

// #chart-throughput: builds/s and p99 lock wait against concurrency, a line per series.
std::string scaling_chart(const std::vector<RunCell>& cells);
// #chart-wait-cdf: lock wait distribution per run, log time axis.
std::string wait_cdf_chart(const std::vector<RunCell>& cells);
// #chart-timeline: holders and waiters per cache key over the sampled window of one run.
std::string lock_timeline_chart(const std::vector<RunCell>& cells);
// #chart-interference: polluter kind x victim kind heat map per run with collisions.
std::string interference_chart(const std::vector<RunCell>& cells);
// #chart-intervals: builds/s, collisions and p99 lock wait per interval over time.
std::string intervals_chart(const std::vector<RunCell>& cells);

// The cells a per-run chart draws: the first `limit` that have data, and how many more
// had data but were left out (the caption says so rather than drawing an unreadable tangle).
struct CellSelection {
  std::vector<const RunCell*> cells;
  std::size_t left_out = 0;
};
template <typename HasData>
CellSelection select_cells(const std::vector<RunCell>& cells, std::size_t limit, HasData has_data) {
  CellSelection selection;
  for (const auto& cell : cells) {
    if (!has_data(cell)) continue;
    if (selection.cells.size() < limit) {
      selection.cells.push_back(&cell);
    } else {
      ++selection.left_out;
    }
  }
  return selection;
}

// " (N more runs not drawn)" or nothing.
std::string left_out_note(std::size_t left_out);

}  // namespace cachestress::html
