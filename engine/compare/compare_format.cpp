#include "engine/compare/compare_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "engine/compare/mann_whitney.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::compare {
namespace {

// compare.py's advice: below this many repetitions the U test has little power.
constexpr std::size_t k_optimal_repetitions = 9;

std::string value_text(const MetricSpec& spec, double v) {
  if (std::strcmp(spec.unit, "us") == 0) {
    if (v < 1000) return fmt::format("{:.0f} us", v);
    if (v < 1e6) return fmt::format("{:.1f} ms", v / 1000);
    return fmt::format("{:.2f} s", v / 1e6);
  }
  if (std::strcmp(spec.unit, "builds/s") == 0) return fmt::format("{:.1f}/s", v);
  return fmt::format("{:g}", v);
}

std::string change_text(const MetricResult& m) {
  return m.change ? fmt::format("{:+.1f}%", *m.change * 100) : std::string("from 0");
}

std::string p_text(const MetricResult& m) { return m.p_value ? fmt::format("{:.4f}", *m.p_value) : std::string("-"); }

std::string verdict_text(const MetricResult& m) {
  std::string text = m.verdict == Verdict::regression ? "REGRESSION" : to_string(m.verdict);
  if (m.rose_from_zero) return text + " (rose from 0)";
  if (!m.reliable) text += " (unreliable)";
  return text;
}

std::string run_title(const CellComparison& cell) {
  std::string values;
  for (const auto& [key, value] : cell.values.items()) {
    values += (values.empty() ? "" : " ") + key + "=" + report::value_text(value);
  }
  return fmt::format("{} ({} vs {} runs)", values.empty() ? "run" : values, cell.base_runs, cell.new_runs);
}

// How the verdicts were reached, in one sentence.
std::string method_text(const Comparison& c) {
  const std::size_t reps = c.min_repetitions();
  const std::string threshold = fmt::format("{:g}%", c.options.threshold * 100);
  if (reps < 2) {
    return "single runs: only the " + threshold +
           " threshold applies, so verdicts are UNRELIABLE (repeat runs on both sides for a U test)";
  }
  std::string text = fmt::format("two-sided Mann-Whitney U test at alpha {:g} and a {} threshold", c.options.alpha, threshold);
  // The U test's floor: with few repetitions no difference can reach alpha.
  const CellComparison* weakest = nullptr;
  for (const auto& cell : c.cells) {
    if (weakest == nullptr || smallest_p_value(cell.base_runs, cell.new_runs) >
                                  smallest_p_value(weakest->base_runs, weakest->new_runs)) {
      weakest = &cell;
    }
  }
  const double floor = smallest_p_value(weakest->base_runs, weakest->new_runs);
  if (floor >= c.options.alpha) {
    text += fmt::format("; with {} vs {} repetitions the smallest possible p-value is {:.3f}, so no change can be "
                        "significant: repeat more", weakest->base_runs, weakest->new_runs, floor);
  } else if (reps < k_optimal_repetitions) {
    text += fmt::format("; only {} repetitions on a side, {}+ recommended", reps, k_optimal_repetitions);
  }
  return text;
}

std::string regression_summary(const Comparison& c) {
  std::string list;
  for (const auto& cell : c.cells) {
    for (const auto& m : cell.metrics) {
      if (m.verdict != Verdict::regression) continue;
      std::string where = c.cells.size() > 1 || !cell.values.empty() ? " [" + run_title(cell) + "]" : "";
      list += (list.empty() ? "" : ", ") + std::string(m.spec->path) + " " +
              (m.rose_from_zero ? std::string("rose from 0") : change_text(m)) + where;
    }
  }
  return list;
}

std::vector<std::string> header_lines(const Comparison& c) {
  std::vector<std::string> lines;
  lines.push_back("base: " + c.base_label + " (scenario " + c.base_scenario + ")");
  lines.push_back("new:  " + c.new_label + " (scenario " + c.new_scenario + ")");
  if (c.differences.empty()) {
    lines.push_back("differences: none in config or environment");
  } else {
    std::string joined;
    for (const auto& d : c.differences) joined += (joined.empty() ? "" : "; ") + d;
    lines.push_back("differences: " + joined);
  }
  lines.push_back("method: " + method_text(c));
  for (const auto& note : c.notes) lines.push_back("note: " + note);
  auto values_list = [](const std::vector<nlohmann::json>& all) {
    std::string text;
    for (const auto& v : all) text += (text.empty() ? "" : ", ") + v.dump();
    return text;
  };
  if (!c.only_in_base.empty()) lines.push_back("only in base (not compared): " + values_list(c.only_in_base));
  if (!c.only_in_new.empty()) lines.push_back("only in new (not compared): " + values_list(c.only_in_new));
  return lines;
}

}  // namespace

std::string to_text(const Comparison& c) {
  std::string out = "cachestress compare\n";
  // Appended piece by piece: `"\n" + s + "\n"` trips GCC 12's -Wrestrict false positive at -O3.
  for (const auto& line : header_lines(c)) out.append("  ").append(line).append("\n");
  for (const auto& cell : c.cells) {
    out.append("\n").append(run_title(cell)).append("\n");
    out += fmt::format("  {:<24} {:>12} {:>12} {:>9} {:>8}  {}\n", "metric", "base", "new", "change", "p-value", "verdict");
    for (const auto& m : cell.metrics) {
      out += fmt::format("  {:<24} {:>12} {:>12} {:>9} {:>8}  {}\n", m.spec->path, value_text(*m.spec, m.base_value),
                         value_text(*m.spec, m.new_value), change_text(m), p_text(m), verdict_text(m));
    }
  }
  out += "\n";
  out += c.regression() ? "result: REGRESSION: " + regression_summary(c) + "\n" : "result: no regression\n";
  return out;
}

std::string to_markdown(const Comparison& c) {
  std::string out = std::string("### cachestress compare: ") + (c.regression() ? "**regression**" : "no regression") + "\n\n";
  for (const auto& line : header_lines(c)) out += "- " + line + "\n";
  for (const auto& cell : c.cells) {
    out += "\n**" + run_title(cell) + "**\n\n";
    out += "| metric | base | new | change | p-value | verdict |\n|---|---:|---:|---:|---:|---|\n";
    for (const auto& m : cell.metrics) {
      const std::string verdict = m.verdict == Verdict::regression ? "**" + verdict_text(m) + "**" : verdict_text(m);
      out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", m.spec->path, value_text(*m.spec, m.base_value),
                         value_text(*m.spec, m.new_value), change_text(m), p_text(m), verdict);
    }
  }
  if (c.regression()) out += "\nRegressions: " + regression_summary(c) + "\n";
  return out;
}

nlohmann::json to_json(const Comparison& c) {
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& cell : c.cells) {
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& m : cell.metrics) {
      metrics.push_back({{"metric", m.spec->path},
                         {"unit", m.spec->unit},
                         {"better", m.spec->better == Better::higher ? "higher" : "lower"},
                         {"base", m.base_value},
                         {"new", m.new_value},
                         {"base_values", m.base},
                         {"new_values", m.fresh},
                         {"change", m.change ? nlohmann::json(*m.change) : nlohmann::json(nullptr)},
                         {"p_value", m.p_value ? nlohmann::json(*m.p_value) : nlohmann::json(nullptr)},
                         {"verdict", to_string(m.verdict)},
                         {"reliable", m.reliable},
                         {"rose_from_zero", m.rose_from_zero}});
    }
    cells.push_back({{"values", cell.values}, {"base_runs", cell.base_runs}, {"new_runs", cell.new_runs}, {"metrics", metrics}});
  }
  return {{"base", {{"file", c.base_label}, {"scenario", c.base_scenario}}},
          {"new", {{"file", c.new_label}, {"scenario", c.new_scenario}}},
          {"alpha", c.options.alpha},
          {"threshold", c.options.threshold},
          {"method", method_text(c)},
          {"differences", c.differences},
          {"notes", c.notes},
          {"cells", cells},
          {"only_in_base", c.only_in_base},
          {"only_in_new", c.only_in_new},
          {"regression", c.regression()}};
}

}  // namespace cachestress::compare
