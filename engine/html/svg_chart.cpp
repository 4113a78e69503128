#include "engine/html/svg_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace cachestress::html {
namespace {

// Pixel coordinates: a tenth of a pixel is finer than any screen or printer needs.
std::string px(double value) { return fmt::format("{:.1f}", std::isfinite(value) ? value : 0.0); }

std::string points_attribute(const Points& points) {
  std::string text;
  for (const auto& [x, y] : points) {
    if (!text.empty()) text += ' ';
    text += px(x) + "," + px(y);
  }
  return text;
}

std::string trim_zeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string title_element(std::string_view tooltip) {
  return tooltip.empty() ? std::string() : "<title>" + markup_escape(tooltip) + "</title>";
}

const char* anchor_name(SvgWriter::Anchor anchor) {
  switch (anchor) {
    case SvgWriter::Anchor::start: return "start";
    case SvgWriter::Anchor::middle: return "middle";
    case SvgWriter::Anchor::end: return "end";
  }
  return "start";
}

// Rough width of 12px sans-serif text: enough to lay out legends without measuring.
double text_width(std::string_view text) { return 7.0 * static_cast<double>(text.size()); }

}  // namespace

std::string format_number(double value) {
  if (!std::isfinite(value)) return "n/a";
  const double magnitude = std::fabs(value);
  if (magnitude == 0) return "0";
  if (magnitude >= 1e7 || magnitude < 1e-3) return fmt::format("{:.3g}", value);
  if (magnitude >= 100) return fmt::format("{:.0f}", value);
  if (magnitude >= 10) return trim_zeros(fmt::format("{:.1f}", value));
  return trim_zeros(fmt::format("{:.3f}", value));
}

DurationUnit duration_unit_for(double max_us) {
  if (max_us >= 1e6) return {1e6, "s"};
  if (max_us >= 1e3) return {1e3, "ms"};
  return {1, "µs"};
}

std::string format_duration_us(double us) {
  const DurationUnit unit = duration_unit_for(std::fabs(us));
  return format_number(us / unit.us_per_unit) + " " + unit.name;
}

Scale::Scale(Kind kind, double domain_min, double domain_max, double pixel_from, double pixel_to)
    : m_kind(kind), m_min(domain_min), m_max(domain_max), m_from(pixel_from), m_to(pixel_to) {
  if (m_kind == Kind::log) {
    m_min = std::max(m_min, 1e-9);
    m_max = std::max(m_max, m_min);
  }
}

double Scale::position(double value) const {
  if (!std::isfinite(value)) return 0;
  if (m_kind == Kind::log) {
    const double low = std::log10(m_min), high = std::log10(m_max);
    if (high <= low) return 0.5;
    return (std::log10(std::max(value, m_min)) - low) / (high - low);
  }
  if (m_max <= m_min) return 0.5;
  return (value - m_min) / (m_max - m_min);
}

double Scale::operator()(double value) const { return m_from + position(value) * (m_to - m_from); }

std::vector<double> nice_ticks(double min, double max, int count) {
  if (!std::isfinite(min) || !std::isfinite(max)) return {0, 1};
  if (max <= min) max = min + (min == 0 ? 1 : std::fabs(min));
  // The 1-2-5 step nearest to range / count (thresholds at the geometric means, as d3 and
  // matplotlib do). Rounding the step up instead would give 0-100-200-300 for 266 builds/s:
  // four ticks where five were asked for.
  const double raw_step = (max - min) / std::max(count, 1);
  const int exponent = static_cast<int>(std::floor(std::log10(raw_step)));
  const double error = raw_step / std::pow(10.0, exponent);
  const int multiple = error >= std::sqrt(50.0) ? 10 : error >= std::sqrt(10.0) ? 5 : error >= std::sqrt(2.0) ? 2 : 1;
  // tick i is (first + i) * multiple * 10^exponent; for negative exponents dividing by the
  // exact power of ten keeps 0.6 from coming out as 0.6000000000000001.
  const double power = std::pow(10.0, std::abs(exponent));
  auto value = [&](double units) { return exponent < 0 ? units * multiple / power : units * multiple * power; };
  const double step = value(1);
  const double first = std::floor(min / step + 1e-9);
  std::vector<double> ticks;
  for (int i = 0; i <= 4 * count + 2; ++i) {
    const double tick = value(first + i);
    ticks.push_back(tick == 0 ? 0.0 : tick);  // never -0
    if (tick >= max - step * 1e-9) break;
  }
  return ticks;
}

std::vector<double> decade_ticks(double min, double max) {
  min = std::max(min, 1e-9);
  max = std::max(max, min);
  int low = static_cast<int>(std::floor(std::log10(min) + 1e-9));
  int high = static_cast<int>(std::ceil(std::log10(max) - 1e-9));
  if (high <= low) high = low + 1;
  std::vector<double> ticks;
  for (int exponent = low; exponent <= high; ++exponent) ticks.push_back(std::pow(10.0, exponent));
  return ticks;
}

SvgWriter::SvgWriter(double width, double height, std::string_view accessible_name) {
  m_svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + px(width) + " " + px(height) +
          "\" role=\"img\" aria-label=\"" + markup_escape(accessible_name) + "\">";
}

void SvgWriter::line(double x1, double y1, double x2, double y2, std::string_view css_class) {
  m_svg += "<line class=\"" + markup_escape(css_class) + "\" x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) +
           "\" y2=\"" + px(y2) + "\"/>";
}

void SvgWriter::polyline(const Points& points, std::string_view colour, std::string_view dash, std::string_view css_class) {
  if (points.empty()) return;
  m_svg += "<polyline class=\"" + markup_escape(css_class) + "\" stroke=\"" + markup_escape(colour) + "\"";
  if (!dash.empty()) m_svg += " stroke-dasharray=\"" + markup_escape(dash) + "\"";
  m_svg += " points=\"" + points_attribute(points) + "\"/>";
}

void SvgWriter::polygon(const Points& points, std::string_view colour, std::string_view css_class) {
  if (points.empty()) return;
  m_svg += "<polygon class=\"" + markup_escape(css_class) + "\" fill=\"" + markup_escape(colour) + "\" points=\"" +
           points_attribute(points) + "\"/>";
}

void SvgWriter::circle(double x, double y, double radius, std::string_view colour, std::string_view tooltip) {
  m_svg += "<circle class=\"point\" cx=\"" + px(x) + "\" cy=\"" + px(y) + "\" r=\"" + px(radius) + "\" fill=\"" +
           markup_escape(colour) + "\">" + title_element(tooltip) + "</circle>";
}

void SvgWriter::rect(double x, double y, double width, double height, std::string_view fill, std::string_view tooltip,
                     std::string_view css_class) {
  m_svg += "<rect";
  if (!css_class.empty()) m_svg += " class=\"" + markup_escape(css_class) + "\"";
  m_svg += " x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(std::max(width, 0.0)) + "\" height=\"" +
           px(std::max(height, 0.0)) + "\" fill=\"" + markup_escape(fill) + "\">" + title_element(tooltip) + "</rect>";
}

void SvgWriter::text(double x, double y, std::string_view content, Anchor anchor, std::string_view css_class) {
  m_svg += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor_name(anchor) + "\"";
  if (!css_class.empty()) m_svg += " class=\"" + markup_escape(css_class) + "\"";
  m_svg += ">" + markup_escape(content) + "</text>";
}

void SvgWriter::vertical_text(double x, double y, std::string_view content) {
  m_svg += "<text class=\"axis-title\" x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"middle\" transform=\"rotate(-90 " +
           px(x) + " " + px(y) + ")\">" + markup_escape(content) + "</text>";
}

void SvgWriter::note(const PlotArea& area, std::string_view content) {
  text(area.left + area.width / 2, area.top + area.height / 2, content, Anchor::middle, "note");
}

std::string SvgWriter::finish() { return m_svg + "</svg>"; }

void draw_x_axis(SvgWriter& svg, const PlotArea& area, const Scale& x, const std::vector<Tick>& ticks,
                 std::string_view title) {
  for (const auto& tick : ticks) {
    const double at = x(tick.value);
    if (at < area.left - 0.5 || at > area.right() + 0.5) continue;
    svg.line(at, area.top, at, area.bottom(), "grid");
    svg.line(at, area.bottom(), at, area.bottom() + 5, "axis");
    svg.text(at, area.bottom() + 18, tick.label, SvgWriter::Anchor::middle, "tick-label");
  }
  svg.line(area.left, area.bottom(), area.right(), area.bottom(), "axis");
  if (!title.empty()) svg.text(area.left + area.width / 2, area.bottom() + 38, title, SvgWriter::Anchor::middle, "axis-title");
}

void draw_y_axis(SvgWriter& svg, const PlotArea& area, const Scale& y, const std::vector<Tick>& ticks,
                 std::string_view title) {
  for (const auto& tick : ticks) {
    const double at = y(tick.value);
    if (at < area.top - 0.5 || at > area.bottom() + 0.5) continue;
    svg.line(area.left, at, area.right(), at, "grid");
    svg.line(area.left - 5, at, area.left, at, "axis");
    svg.text(area.left - 8, at + 4, tick.label, SvgWriter::Anchor::end, "tick-label");
  }
  svg.line(area.left, area.top, area.left, area.bottom(), "axis");
  svg.vertical_text(area.left - 52, area.top + area.height / 2, title);
}

SeriesStyle series_style(std::size_t index) {
  // Okabe-Ito: distinguishable with the common colour vision deficiencies.
  static constexpr std::array<const char*, 8> k_colours{"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                        "#E69F00", "#56B4E9", "#000000", "#999933"};
  static constexpr std::array<const char*, 4> k_dashes{"", "7 3", "2 3", "9 3 2 3"};
  return {k_colours[index % k_colours.size()], k_dashes[(index + index / k_colours.size()) % k_dashes.size()]};
}

double draw_legend(SvgWriter& svg, double x, double y, double max_width, const std::vector<LegendEntry>& entries) {
  constexpr double k_row_height = 18;
  double at = x, row = y;
  for (const auto& entry : entries) {
    const double width = 30 + text_width(entry.label) + 16;
    if (at > x && at + width > x + max_width) {
      at = x;
      row += k_row_height;
    }
    if (entry.block) {
      svg.rect(at, row - 10, 24, 11, entry.style.colour);
    } else {
      svg.polyline({{at, row - 4}, {at + 24, row - 4}}, entry.style.colour, entry.style.dash, "series");
    }
    svg.text(at + 30, row, entry.label, SvgWriter::Anchor::start, "legend");
    at += width;
  }
  return entries.empty() ? 0 : row - y + k_row_height;
}

std::string figure(std::string_view id, std::string_view title, std::string_view chart_markup, std::string_view caption) {
  std::string html = "<figure id=\"" + markup_escape(id) + "\">\n<h2>" + markup_escape(title) + "</h2>\n";
  html += chart_markup;
  html += "\n<figcaption>" + markup_escape(caption) + "</figcaption>\n</figure>\n";
  return html;
}

}  // namespace cachestress::html
