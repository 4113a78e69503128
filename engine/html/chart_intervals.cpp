// The per-interval time series: builds completed, collisions and p99 lock wait per interval,
// three panels over one time axis, a line per run. Shows warm-up, convoys and collapses
// that a whole-run summary averages away.
#include <algorithm>
#include <functional>

#include "engine/html/charts.hpp"
#include "engine/html/svg_chart.hpp"

namespace cachestress::html {
namespace {

constexpr double k_width = 960, k_left = 80, k_right = 30, k_top = 16;
constexpr double k_panel_height = 120, k_panel_gap = 30;
constexpr std::size_t k_max_lines = 12;

struct Panel {
  const char* title;                                // y axis title, without unit
  std::function<double(const IntervalPoint&)> value;
  bool duration = false;                            // microseconds: pick a readable unit
};

void draw_panel(SvgWriter& svg, const PlotArea& area, const Scale& x, const std::vector<Tick>& x_ticks, const Panel& panel,
                const std::vector<const RunCell*>& runs, bool bottom_panel) {
  double highest = 0;
  for (const RunCell* run : runs) {
    for (const auto& point : run->intervals) highest = std::max(highest, panel.value(point));
  }
  const DurationUnit unit = panel.duration ? duration_unit_for(highest) : DurationUnit{1, ""};
  const auto y_values = nice_ticks(0, highest / unit.us_per_unit, 3);
  const Scale y(Scale::Kind::linear, 0, y_values.back(), area.bottom(), area.top);
  std::vector<Tick> y_ticks;
  for (double value : y_values) y_ticks.push_back({value, format_number(value)});
  const std::string title = panel.duration ? std::string(panel.title) + " (" + unit.name + ")" : panel.title;
  // Only the bottom panel carries the time axis title; the others share it.
  draw_x_axis(svg, area, x, x_ticks, bottom_panel ? "time since start (s)" : "");
  draw_y_axis(svg, area, y, y_ticks, title);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    // A run that never took a lock has no wait to draw (its zero is not a measurement).
    if (panel.duration && runs[i]->wait_count.value_or(0) == 0) continue;
    const SeriesStyle style = series_style(i);
    Points line;
    for (const auto& point : runs[i]->intervals) line.emplace_back(x(point.t_s), y(panel.value(point) / unit.us_per_unit));
    svg.polyline(line, style.colour, style.dash, "series");
    // A line needs two points: a short run still shows its one or two samples.
    if (line.size() < 3) {
      for (const auto& [px, py] : line) svg.circle(px, py, 3, style.colour, runs[i]->label);
    }
  }
}

}  // namespace

std::string intervals_chart(const std::vector<RunCell>& cells) {
  const auto selection = select_cells(cells, k_max_lines, [](const RunCell& cell) { return !cell.intervals.empty(); });
  double end = 0;
  for (const RunCell* run : selection.cells) end = std::max(end, run->intervals.back().t_s);
  const std::vector<Panel> panels{
      {"builds completed", [](const IntervalPoint& p) { return p.builds_completed; }},
      {"collisions", [](const IntervalPoint& p) { return p.collisions; }},
      {"p99 lock wait", [](const IntervalPoint& p) { return p.lock_wait_p99_us; }, true},
  };
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < selection.cells.size(); ++i) legend.push_back({selection.cells[i]->label, series_style(i)});

  const double plots_bottom = k_top + panels.size() * (k_panel_height + k_panel_gap) + 20;
  SvgWriter svg(k_width, plots_bottom + 20 + 18 * ((legend.size() + 2) / 3), "per-interval time series");
  const auto time_values = nice_ticks(0, end > 0 ? end : 1, 10);
  const double plot_width = k_width - k_left - k_right;
  const Scale x(Scale::Kind::linear, 0, time_values.back(), k_left, k_left + plot_width);
  std::vector<Tick> x_ticks;
  for (double t : time_values) x_ticks.push_back({t, format_number(t)});
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const PlotArea area{k_left, k_top + p * (k_panel_height + k_panel_gap), plot_width, k_panel_height};
    draw_panel(svg, area, x, x_ticks, panels[p], selection.cells, p + 1 == panels.size());
    if (selection.cells.empty() && p == 0) svg.note(area, "no per-interval samples in these reports");
  }
  draw_legend(svg, k_left, plots_bottom + 14, plot_width, legend);

  std::string caption = "Counted per interval (the run's --interval-ms), not cumulative: builds completed, collisions "
                        "found, and the 99th percentile of the lock waits that ended in the interval. Each point is "
                        "drawn at the end of its interval; the last interval of a run is usually shorter.";
  caption += left_out_note(selection.left_out);
  return figure("chart-intervals", "Over time, per interval", svg.finish(), caption);
}

}  // namespace cachestress::html
