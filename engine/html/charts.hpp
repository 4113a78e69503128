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

// The cells a per-run chart draws: at most `limit` that have data, the runs with collisions
// first (a left-out run must never be the one that showed the problem), then the others in
// order; drawn in their original order. left_out counts the runs with data not drawn (the
// caption says so rather than drawing an unreadable tangle).
struct CellSelection {
  std::vector<const RunCell*> cells;
  std::size_t left_out = 0;
};
template <typename HasData>
CellSelection select_cells(const std::vector<RunCell>& cells, std::size_t limit, HasData has_data) {
  CellSelection selection;
  std::vector<bool> chosen(cells.size(), false);
  std::size_t taken = 0;
  for (bool collided_pass : {true, false}) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const bool collided = cells[i].collisions.value_or(0) > 0;
      if (chosen[i] || collided != collided_pass || !has_data(cells[i])) continue;
      if (taken < limit) {
        chosen[i] = true;
        ++taken;
      } else {
        ++selection.left_out;
      }
    }
  }
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (chosen[i]) selection.cells.push_back(&cells[i]);
  }
  return selection;
}

// " (N more runs not drawn)" or nothing.
std::string left_out_note(std::size_t left_out);

}  // namespace cachestress::html
