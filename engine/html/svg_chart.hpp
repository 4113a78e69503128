#pragma once
// Inline SVG drawing for the HTML report: escaping, scales, 1-2-5 and decade ticks, axes,
// legends and the <figure> wrapper. Our own few hundred lines instead of a charting
// library: the report must open offline and print, and every chart is lines, dots and
// rectangles (ARCHITECTURE.md "HTML report").
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/report/markup.hpp"

namespace cachestress::html {

// Everything that comes from a report (kind names, cache keys, file names, command lines)
// goes through markup_escape before it reaches the page.
using report::markup_escape;

// "12", "3.5", "0.25", "1.2e+09": short, locale-independent, no trailing zeros.
std::string format_number(double value);
// A duration given in microseconds with a readable unit: "850 µs", "12.5 ms", "1.25 s".
std::string format_duration_us(double us);

// The unit a duration axis is labelled in, chosen from the largest value it shows.
struct DurationUnit {
  double us_per_unit = 1;
  const char* name = "µs";
};
DurationUnit duration_unit_for(double max_us);

// Maps data values to pixels. A log scale clamps values below its domain minimum (a log
// axis has no zero); a degenerate domain maps everything to the middle.
class Scale {
 public:
  enum class Kind { linear, log };
  Scale(Kind kind, double domain_min, double domain_max, double pixel_from, double pixel_to);
  double operator()(double value) const;
  double domain_min() const noexcept { return m_min; }
  double domain_max() const noexcept { return m_max; }

 private:
  double position(double value) const;  // 0..1 along the domain
  Kind m_kind;
  double m_min, m_max, m_from, m_to;
};

// About `count` round ticks (1, 2, 5 x 10^k) from min to at least max.
std::vector<double> nice_ticks(double min, double max, int count = 5);
// Powers of ten from the one at or below min to the one at or above max.
std::vector<double> decade_ticks(double min, double max);

struct Tick {
  double value = 0;
  std::string label;
};

// The plotting rectangle inside an SVG; the margins around it hold axes and legends.
struct PlotArea {
  double left = 0, top = 0, width = 0, height = 0;
  double right() const noexcept { return left + width; }
  double bottom() const noexcept { return top + height; }
};

using Points = std::vector<std::pair<double, double>>;  // pixel coordinates

// Appends SVG elements to one <svg> document. Attribute text is escaped here, so callers
// pass plain strings. `tooltip` becomes a <title> child (hover text in browsers).
class SvgWriter {
 public:
  SvgWriter(double width, double height, std::string_view accessible_name);
  void line(double x1, double y1, double x2, double y2, std::string_view css_class);
  void polyline(const Points& points, std::string_view colour, std::string_view dash, std::string_view css_class);
  void polygon(const Points& points, std::string_view colour, std::string_view css_class);
  void circle(double x, double y, double radius, std::string_view colour, std::string_view tooltip = {});
  void rect(double x, double y, double width, double height, std::string_view fill, std::string_view tooltip = {},
            std::string_view css_class = {});
  enum class Anchor { start, middle, end };
  void text(double x, double y, std::string_view content, Anchor anchor = Anchor::start, std::string_view css_class = {});
  // Text turned 90 degrees counter-clockwise around (x, y): y axis titles.
  void vertical_text(double x, double y, std::string_view content);
  // A centred note in the plot area, e.g. "no lock events sampled".
  void note(const PlotArea& area, std::string_view content);
  std::string finish();

 private:
  std::string m_svg;
};

// Axes with tick marks, grid lines, tick labels and a title naming the unit.
void draw_x_axis(SvgWriter& svg, const PlotArea& area, const Scale& x, const std::vector<Tick>& ticks,
                 std::string_view title);
void draw_y_axis(SvgWriter& svg, const PlotArea& area, const Scale& y, const std::vector<Tick>& ticks,
                 std::string_view title);

// Lines stay distinguishable in grayscale print: each series has a colour and a dash.
struct SeriesStyle {
  std::string colour;
  std::string dash;  // SVG stroke-dasharray, empty for solid
};
SeriesStyle series_style(std::size_t index);

struct LegendEntry {
  std::string label;
  SeriesStyle style;
  bool block = false;  // a filled swatch (bars, areas) rather than a line
};
// One row of swatches and labels starting at (x, y), wrapping at max_width. Returns the
// height used.
double draw_legend(SvgWriter& svg, double x, double y, double max_width, const std::vector<LegendEntry>& entries);

// <figure id="..."> with a heading, the chart markup and a <figcaption>. title and
// caption are plain text (escaped here); chart_markup is SVG we generated.
std::string figure(std::string_view id, std::string_view title, std::string_view chart_markup, std::string_view caption);

}  // namespace cachestress::html
