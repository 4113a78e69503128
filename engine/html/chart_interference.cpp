// The interference matrix as a heat map: which build kind polluted which (podman#25414's
// "the locked-across-steps test broke the cache-like-buildkit test"). One matrix per run
// with collisions, stacked; colour by count on one scale for all of them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "engine/html/charts.hpp"
#include "engine/html/svg_chart.hpp"

namespace cachestress::html {
namespace {

constexpr double k_width = 960, k_left = 40, k_cell_height = 30, k_gap = 40;
constexpr double k_header_height = 58;  // run title, "victim" and the column names
constexpr std::size_t k_max_matrices = 8, k_max_kinds = 16;

struct Matrix {
  std::vector<std::string> polluters, victims;  // row and column names
  double label_width = 0, cell_width = 0;        // wide enough for the names, within limits
  std::string title;                             // "Run <label>", cut to fit the chart
  double title_width = 0;
  std::map<std::pair<std::string, std::string>, double> total;
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> by_collision_kind;
};

// Names sorted, "unknown" (a polluter the evidence cannot name) last, at most k_max_kinds.
std::vector<std::string> ordered_kinds(const std::set<std::string>& names) {
  std::vector<std::string> ordered;
  for (const auto& name : names) {
    if (name != "unknown") ordered.push_back(name);
  }
  if (names.count("unknown") != 0) ordered.push_back("unknown");
  if (ordered.size() > k_max_kinds) ordered.resize(k_max_kinds);
  return ordered;
}

// Text cut to `width` pixels at `px_per_char` (12 px text; see svg_chart.cpp).
std::string fit(const std::string& text, double width, double px_per_char = 7) {
  const auto chars = static_cast<std::size_t>(width / px_per_char);
  return text.size() <= chars ? text : text.substr(0, chars - 1) + "…";
}

Matrix build_matrix(const RunCell& cell) {
  Matrix matrix;
  std::set<std::string> polluters, victims;
  for (const auto& entry : cell.interference) {
    polluters.insert(entry.polluter);
    victims.insert(entry.victim);
    matrix.total[{entry.polluter, entry.victim}] += entry.count;
    matrix.by_collision_kind[{entry.polluter, entry.victim}][entry.collision_kind] += entry.count;
  }
  matrix.polluters = ordered_kinds(polluters);
  matrix.victims = ordered_kinds(victims);
  // 7 px per character of 12 px text (see svg_chart.cpp), plus padding.
  auto longest = [](const std::vector<std::string>& names) {
    std::size_t most = 0;
    for (const auto& name : names) most = std::max(most, name.size());
    return 7.0 * static_cast<double>(most);
  };
  matrix.label_width = std::clamp(longest(matrix.polluters) + 46, 110.0, 220.0);
  matrix.cell_width = std::clamp(longest(matrix.victims) + 14, 60.0, 170.0);
  // The title is bold (about 7.5 px a character): the matrix is as wide as it, so the next
  // matrix on the row starts after it rather than over it (several files: long labels).
  matrix.title = fit("Run " + cell.label, k_width - 2 * k_left, 7.5);
  matrix.title_width = 7.5 * static_cast<double>(matrix.title.size());
  return matrix;
}

// White to dark orange; log scale so 1 collision is visible next to 1000.
std::string heat_colour(double count, double highest) {
  const double t = highest <= 0 ? 0 : std::log1p(count) / std::log1p(highest);
  auto channel = [t](int from, int to) { return static_cast<int>(std::lround(from + (to - from) * t)); };
  return fmt::format("#{:02x}{:02x}{:02x}", channel(0xfe, 0x8c), channel(0xed, 0x2d), channel(0xde, 0x04));
}

double matrix_height(const Matrix& matrix) { return k_header_height + matrix.polluters.size() * k_cell_height + 28; }
double matrix_width(const Matrix& matrix) {
  return std::max(matrix.label_width + matrix.victims.size() * matrix.cell_width, matrix.title_width);
}

std::string breakdown(const std::map<std::string, double>& by_kind) {
  std::string text;
  for (const auto& [kind, count] : by_kind) text += (text.empty() ? "" : ", ") + kind + " " + format_number(count);
  return text;
}

// Draws one matrix with its top left corner at (left, top).
void draw_matrix(SvgWriter& svg, double left, double top, const Matrix& matrix, double highest) {
  const double label_width = matrix.label_width, cell_width = matrix.cell_width;
  const double grid_left = left + label_width, grid_top = top + k_header_height;
  svg.text(left, top + 14, matrix.title, SvgWriter::Anchor::start, "axis-title");
  svg.text(grid_left, top + 32, "victim build kind →", SvgWriter::Anchor::start, "tick-label");
  for (std::size_t c = 0; c < matrix.victims.size(); ++c) {
    svg.text(grid_left + (c + 0.5) * cell_width, grid_top - 4, fit(matrix.victims[c], cell_width - 6), SvgWriter::Anchor::middle,
             "key-label");
  }
  for (std::size_t r = 0; r < matrix.polluters.size(); ++r) {
    const double row_top = grid_top + r * k_cell_height;
    svg.text(grid_left - 8, row_top + k_cell_height / 2 + 4, fit(matrix.polluters[r], label_width - 10), SvgWriter::Anchor::end,
             "key-label");
    for (std::size_t c = 0; c < matrix.victims.size(); ++c) {
      const std::pair<std::string, std::string> at{matrix.polluters[r], matrix.victims[c]};
      const auto found = matrix.total.find(at);
      const double count = found == matrix.total.end() ? 0 : found->second;
      const double cell_x = grid_left + c * cell_width;
      std::string tooltip = at.first + " polluted " + at.second + ": " + format_number(count);
      if (count > 0) tooltip += " (" + breakdown(matrix.by_collision_kind.at(at)) + ")";
      svg.rect(cell_x, row_top, cell_width, k_cell_height, heat_colour(count, highest), tooltip, "heat");
      const bool dark = highest > 0 && std::log1p(count) / std::log1p(highest) > 0.6;
      svg.text(cell_x + cell_width / 2, row_top + k_cell_height / 2 + 4, format_number(count), SvgWriter::Anchor::middle,
               dark ? "on-dark" : "");
    }
  }
  svg.vertical_text(left + 6, grid_top + matrix.polluters.size() * k_cell_height / 2, "polluter");
}

// Matrices flow left to right and wrap, like words: (left, top) of each, and the height.
struct Placement {
  std::vector<std::pair<double, double>> corners;
  double height = 0;
};
Placement place(const std::vector<Matrix>& matrices) {
  Placement placement;
  double left = k_left, top = 8, row_height = 0;
  for (const auto& matrix : matrices) {
    if (left > k_left && left + matrix_width(matrix) > k_width - 10) {
      left = k_left;
      top += row_height;
      row_height = 0;
    }
    placement.corners.emplace_back(left, top);
    left += matrix_width(matrix) + k_gap;
    row_height = std::max(row_height, matrix_height(matrix));
  }
  placement.height = top + row_height + 8;
  return placement;
}

// Under the heat map, readable in print: per run drawn, each polluter -> victim pair and
// collision kind with its count and the build-level example ("build 0 step 1 saw build 3").
std::string evidence_table(const std::vector<const RunCell*>& runs) {
  constexpr std::size_t k_max_rows_per_run = 12;
  std::string html =
      "<table class=\"evidence\">\n<thead><tr><th>run</th><th>polluter kind</th><th>victim kind</th><th>collision</th>"
      "<th class=\"number\">count</th><th>e.g.</th></tr></thead>\n<tbody>\n";
  for (const RunCell* run : runs) {
    std::vector<const InterferenceEntry*> entries;
    for (const auto& entry : run->interference) entries.push_back(&entry);
    std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) { return a->count > b->count; });
    for (std::size_t i = 0; i < entries.size() && i < k_max_rows_per_run; ++i) {
      const auto& e = *entries[i];
      html += "<tr><td>" + markup_escape(run->label) + "</td><td>" + markup_escape(e.polluter) + "</td><td>" +
              markup_escape(e.victim) + "</td><td>" + markup_escape(e.collision_kind) + "</td><td class=\"number\">" +
              format_number(e.count) + "</td><td>" + markup_escape(e.example) + "</td></tr>\n";
    }
    if (entries.size() > k_max_rows_per_run) {
      html += "<tr><td>" + markup_escape(run->label) + "</td><td colspan=\"5\">" +
              std::to_string(entries.size() - k_max_rows_per_run) + " more rows in the JSON report</td></tr>\n";
    }
  }
  return html + "</tbody>\n</table>";
}

}  // namespace

std::string interference_chart(const std::vector<RunCell>& cells) {
  const auto selection = select_cells(cells, k_max_matrices, [](const RunCell& cell) { return !cell.interference.empty(); });
  std::vector<Matrix> matrices;
  double highest = 0;
  for (const RunCell* cell : selection.cells) {
    matrices.push_back(build_matrix(*cell));
    for (const auto& [at, count] : matrices.back().total) highest = std::max(highest, count);
  }
  if (matrices.empty()) {
    const PlotArea area{k_left, 16, k_width - 2 * k_left, 100};
    SvgWriter svg(k_width, 132, "interference matrix");
    svg.rect(area.left, area.top, area.width, area.height, "none", {}, "frame");
    svg.note(area, "no collisions: no build polluted another");
    return figure("chart-interference", "Interference: who polluted whom", svg.finish(),
                  "Collisions counted by the kind of the build that caused them (rows) and the kind of the build that "
                  "saw them (columns). None of these runs had a collision.");
  }
  const Placement placement = place(matrices);
  SvgWriter svg(k_width, placement.height, "interference matrix");
  for (std::size_t i = 0; i < matrices.size(); ++i) {
    draw_matrix(svg, placement.corners[i].first, placement.corners[i].second, matrices[i], highest);
  }
  std::string caption = "Collisions (foreign, missing, torn, lock_overlap) counted by the kind of the build that caused "
                        "them (rows; \"unknown\" when the evidence names no writer) and the kind of the build that saw "
                        "them (columns). Darker is more, on a log scale shared by all matrices. The table gives the "
                        "breakdown by collision kind and one example each, as the terminal summary does.";
  caption += left_out_note(selection.left_out);
  return figure("chart-interference", "Interference: who polluted whom", svg.finish() + evidence_table(selection.cells), caption);
}

}  // namespace cachestress::html
