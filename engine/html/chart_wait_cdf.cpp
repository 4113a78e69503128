// Lock wait distribution as a CDF on a log time axis: waits span microseconds (an idle
// lock) to seconds (a convoy), so only a log axis shows the body and the tail together.
// With summary.lock_wait_us.cdf (histogram buckets) the curve is a step function; without,
// it joins the five summary percentiles and says it is approximate.
#include <algorithm>
#include <limits>

#include "engine/html/charts.hpp"
#include "engine/html/svg_chart.hpp"

namespace cachestress::html {
namespace {

constexpr double k_width = 960, k_height = 300, k_left = 80, k_top = 20;
constexpr std::size_t k_max_lines = 12;

// Step function: the fraction jumps at each bucket's upper bound.
Points step_line(const std::vector<CdfPoint>& points, const Scale& x, const Scale& y) {
  Points line;
  double fraction = 0;
  for (const auto& point : points) {
    line.emplace_back(x(point.value_us), y(fraction));
    fraction = point.fraction;
    line.emplace_back(x(point.value_us), y(fraction));
  }
  return line;
}

std::string run_tooltip(const RunCell& cell, const CdfPoint& point) {
  return cell.label + ": " + format_number(point.fraction * 100) + "% of acquisitions waited at most " +
         format_duration_us(point.value_us);
}

}  // namespace

std::string wait_cdf_chart(const std::vector<RunCell>& cells) {
  const auto selection = select_cells(cells, k_max_lines, [](const RunCell& cell) { return !cell.wait_cdf.empty(); });
  double lowest = std::numeric_limits<double>::max(), highest = 0;
  bool any_approximate = false;
  for (const RunCell* cell : selection.cells) {
    for (const auto& point : cell->wait_cdf) {
      // A log axis has no zero: uncontended waits are drawn at its left edge.
      if (point.value_us > 0) lowest = std::min(lowest, point.value_us);
      highest = std::max(highest, point.value_us);
    }
    any_approximate = any_approximate || !cell->wait_cdf_from_buckets;
  }
  if (highest <= 0) lowest = highest = 1;
  const auto decades = decade_ticks(std::max(lowest, 1.0), std::max(highest, 1.0));

  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < selection.cells.size(); ++i) legend.push_back({selection.cells[i]->label, series_style(i)});
  const PlotArea area{k_left, k_top, k_width - k_left - 30, k_height - k_top - 50};
  SvgWriter svg(k_width, k_height + 20 + 18 * ((legend.size() + 2) / 3), "lock wait cumulative distribution");
  const Scale x(Scale::Kind::log, decades.front(), decades.back(), area.left, area.right());
  const Scale y(Scale::Kind::linear, 0, 1, area.bottom(), area.top);
  std::vector<Tick> x_ticks, y_ticks;
  for (double value : decades) x_ticks.push_back({value, format_duration_us(value)});
  for (int percent = 0; percent <= 100; percent += 20) y_ticks.push_back({percent / 100.0, std::to_string(percent) + "%"});
  draw_x_axis(svg, area, x, x_ticks, "lock wait (log scale)");
  draw_y_axis(svg, area, y, y_ticks, "acquisitions waiting at most x");

  for (std::size_t i = 0; i < selection.cells.size(); ++i) {
    const RunCell& cell = *selection.cells[i];
    const SeriesStyle style = series_style(i);
    if (cell.wait_cdf_from_buckets) {
      svg.polyline(step_line(cell.wait_cdf, x, y), style.colour, style.dash, "series");
      continue;
    }
    Points line;
    for (const auto& point : cell.wait_cdf) line.emplace_back(x(point.value_us), y(point.fraction));
    svg.polyline(line, style.colour, style.dash, "series");
    // The percentiles are the only exact points: mark them.
    for (const auto& point : cell.wait_cdf) svg.circle(x(point.value_us), y(point.fraction), 3, style.colour, run_tooltip(cell, point));
  }
  if (selection.cells.empty()) {
    const bool measured = std::any_of(cells.begin(), cells.end(), [](const RunCell& c) { return c.wait_measured; });
    svg.note(area, measured ? "no locked mounts were acquired in these runs: no lock waits to show"
                            : "these runs' backend does not measure lock waits");
  }
  draw_legend(svg, k_left, k_height + 10, k_width - k_left - 20, legend);

  std::string caption = "Fraction of lock acquisitions that waited at most the time on the x axis, per run (log scale; "
                        "waits under the axis start are drawn at its left edge).";
  if (any_approximate) {
    caption += " Runs whose report has no lock_wait_us.cdf are approximated by straight lines through the p50, p90, "
               "p99, p99.9 and max of the summary (the marked points are exact).";
  }
  caption += left_out_note(selection.left_out);
  return figure("chart-wait-cdf", "Lock wait distribution", svg.finish(), caption);
}

}  // namespace cachestress::html
