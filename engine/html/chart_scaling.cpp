// Throughput and p99 lock wait against concurrency: the build-host operator's question
// "what does each sharing mode cost as N grows". Two panels side by side, one line per
// series; repeated runs of one setting are one point, the median of those that finished.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "engine/html/charts.hpp"
#include "engine/html/svg_chart.hpp"
#include "engine/metrics/spread.hpp"

namespace cachestress::html {
namespace {

constexpr double k_width = 960, k_panel_width = 360, k_panel_height = 250, k_top = 24;
constexpr double k_left_panel_x = 80, k_right_panel_x = 560;

struct ScalingPoint {
  double concurrency = 0;  // builds in flight over every rank: config.concurrency x mpi.ranks
  std::optional<double> ranks;  // cachestress-mpi: its ranks (one count per series)
  double builds_per_s = 0;
  double wait_p99_us = 0;
  int runs = 0;
  std::size_t interrupted_left_out = 0;
  bool partial = false;  // every run here was interrupted: drawn from their partial figures
  bool locked = false;   // some run took a locked mount: a p99 lock wait to draw
};

// series -> points ascending in builds in flight: the median of every run at that number that
// finished (metrics::finished_runs, as aggregates[], the terminal and compare choose them;
// percentiles of runs are never averaged).
std::map<std::string, std::vector<ScalingPoint>> scaling_series(const std::vector<RunCell>& cells) {
  std::map<std::string, std::map<double, std::vector<const RunCell*>>> runs;
  for (const auto& cell : cells) {
    if (!cell.in_flight || !cell.builds_per_s) continue;
    runs[cell.series][*cell.in_flight].push_back(&cell);
  }
  std::map<std::string, std::vector<ScalingPoint>> series;
  for (const auto& [name, by_concurrency] : runs) {
    for (const auto& [concurrency, at] : by_concurrency) {
      std::vector<bool> interrupted;
      for (const RunCell* cell : at) interrupted.push_back(cell->interrupted);
      const metrics::FinishedRuns finished = metrics::finished_runs(interrupted);
      std::vector<double> builds_per_s, wait_p99_us;  // the latter: runs that took a locked mount
      for (std::size_t i : finished.used) {
        builds_per_s.push_back(*at[i]->builds_per_s);
        if (at[i]->wait_count.value_or(0) > 0) wait_p99_us.push_back(at[i]->wait_p99_us.value_or(0));
      }
      const bool locked = !wait_p99_us.empty();
      series[name].push_back({concurrency, at.front()->ranks, metrics::median_of(builds_per_s), locked ? metrics::median_of(wait_p99_us) : 0,
                              static_cast<int>(builds_per_s.size()), finished.interrupted_left_out, finished.partial, locked});
    }
  }
  return series;
}

// Sweeps double the concurrency (1, 2, 4 ... 64): a log2 axis spaces them evenly. Close
// values read better on a linear axis from zero.
Scale concurrency_scale(const std::set<double>& values, const PlotArea& area, bool& logarithmic) {
  const double low = *values.begin(), high = *values.rbegin();
  logarithmic = low > 0 && high / low >= 4;
  if (logarithmic) return Scale(Scale::Kind::log, low / 1.25, high * 1.25, area.left, area.right());
  return Scale(Scale::Kind::linear, 0, nice_ticks(0, high).back(), area.left, area.right());
}

std::vector<Tick> concurrency_ticks(const std::set<double>& values, bool logarithmic) {
  std::vector<Tick> ticks;
  if (!logarithmic) {
    for (double value : nice_ticks(0, *values.rbegin())) ticks.push_back({value, format_number(value)});
    return ticks;
  }
  // Label the concurrencies that were run, thinned so labels never collide.
  const std::size_t step = (values.size() + 9) / 10;
  std::size_t i = 0;
  for (double value : values) {
    if (i++ % step == 0) ticks.push_back({value, format_number(value)});
  }
  return ticks;
}

void draw_panel(SvgWriter& svg, const PlotArea& area, const Scale& x, const std::vector<Tick>& x_ticks,
                const std::map<std::string, std::vector<ScalingPoint>>& series, bool wait_panel, bool single_concurrency) {
  double highest = 0;
  for (const auto& [name, points] : series) {
    for (const auto& point : points) highest = std::max(highest, wait_panel ? point.wait_p99_us : point.builds_per_s);
  }
  const DurationUnit unit = duration_unit_for(highest);
  const double divisor = wait_panel ? unit.us_per_unit : 1;
  const auto y_values = nice_ticks(0, highest / divisor);
  const Scale y(Scale::Kind::linear, 0, y_values.back(), area.bottom(), area.top);
  std::vector<Tick> y_ticks;
  for (double value : y_values) y_ticks.push_back({value, format_number(value)});
  draw_x_axis(svg, area, x, x_ticks, "concurrency (builds in flight)");
  draw_y_axis(svg, area, y, y_ticks, wait_panel ? std::string("p99 lock wait (") + unit.name + ")" : "throughput (builds/s)");

  std::size_t index = 0;
  std::string lockless;  // series that never took a lock: no wait to draw, and not a zero
  for (const auto& [name, all_points] : series) {
    const SeriesStyle style = series_style(index++);
    std::vector<ScalingPoint> points;
    for (const auto& point : all_points) {
      if (!wait_panel || point.locked) points.push_back(point);
    }
    if (points.empty()) lockless += (lockless.empty() ? "" : ", ") + name;
    Points line;
    for (const auto& point : points) line.emplace_back(x(point.concurrency), y((wait_panel ? point.wait_p99_us : point.builds_per_s) / divisor));
    svg.polyline(line, style.colour, style.dash, "series");
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto& point = points[i];
      std::string tooltip = name + ", concurrency " + format_number(point.concurrency) +
                            (point.ranks ? " (" + format_number(*point.ranks) + (*point.ranks == 1 ? " rank × " : " ranks × ") +
                                               format_number(point.concurrency / *point.ranks) + " per rank)"
                                         : std::string()) +
                            ": " +
                            (wait_panel ? "p99 lock wait " + format_duration_us(point.wait_p99_us)
                                        : format_number(point.builds_per_s) + " builds/s");
      if (point.runs > 1) tooltip += " (median of " + std::to_string(point.runs) + " runs)";
      if (point.interrupted_left_out > 0) tooltip += "; " + std::to_string(point.interrupted_left_out) + " interrupted left out";
      if (point.partial) tooltip += point.runs > 1 ? "; every run interrupted: partial" : "; interrupted: partial";
      svg.circle(line[i].first, line[i].second, 3.5, style.colour, tooltip);
    }
  }
  if (!lockless.empty()) svg.text(area.left + 8, area.top + 14, "no lock taken: " + lockless, SvgWriter::Anchor::start, "note-small");
  if (single_concurrency) {
    // Two short lines above the middle: wider than the panel it would run over the y tick
    // labels, and the one point is drawn at the middle.
    svg.text(area.left + area.width / 2, area.top + area.height / 4, "one concurrency only:", SvgWriter::Anchor::middle, "note");
    svg.text(area.left + area.width / 2, area.top + area.height / 4 + 18, "needs a sweep over concurrency",
             SvgWriter::Anchor::middle, "note");
  }
}

}  // namespace

std::string scaling_chart(const std::vector<RunCell>& cells) {
  const auto series = scaling_series(cells);
  std::set<double> concurrencies;
  for (const auto& [name, points] : series) {
    for (const auto& point : points) concurrencies.insert(point.concurrency);
  }
  const PlotArea left{k_left_panel_x, k_top, k_panel_width, k_panel_height};
  const PlotArea right{k_right_panel_x, k_top, k_panel_width, k_panel_height};
  std::vector<LegendEntry> legend;
  std::size_t index = 0;
  for (const auto& [name, points] : series) legend.push_back({name, series_style(index++)});

  const double legend_top = k_top + k_panel_height + 64;
  SvgWriter svg(k_width, legend_top + 18 * (1 + legend.size() / 4), "throughput and p99 lock wait against concurrency");
  if (concurrencies.empty()) {
    // Keep the frame so the page layout (and print) stays the same.
    for (const PlotArea& area : {left, right}) {
      draw_x_axis(svg, area, Scale(Scale::Kind::linear, 0, 1, area.left, area.right()), {}, "concurrency (builds in flight)");
      svg.note(area, "no run reports concurrency and throughput");
    }
  } else {
    bool logarithmic = false;
    const Scale x_left = concurrency_scale(concurrencies, left, logarithmic);
    const Scale x_right = concurrency_scale(concurrencies, right, logarithmic);
    const auto x_ticks = concurrency_ticks(concurrencies, logarithmic);
    draw_panel(svg, left, x_left, x_ticks, series, false, concurrencies.size() == 1);
    draw_panel(svg, right, x_right, x_ticks, series, true, concurrencies.size() == 1);
    draw_legend(svg, k_left_panel_x, legend_top, k_width - k_left_panel_x - 20, legend);
  }

  std::string caption = "Completed builds per second (left) and the 99th percentile of lock wait (right) against the "
                        "number of builds in flight, one line per sharing mode";
  caption += concurrencies.size() < 2 ? ". Only one concurrency was run: a sweep over --concurrency draws the curves."
                                      : "; repeated runs of one setting are shown by the median of those that finished (an interrupted "
                                        "one is left out). Hover a point for its value.";
  if (std::any_of(cells.begin(), cells.end(), [](const RunCell& cell) { return cell.ranks.has_value(); })) {
    caption += " A cachestress-mpi run is drawn at its builds in flight over all ranks (concurrency per rank × ranks), "
               "and runs of different rank counts are different lines.";
  }
  return figure("chart-throughput", "Scaling with concurrency", svg.finish(), caption);
}

}  // namespace cachestress::html
