#include "engine/compare/compare_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/report/markup.hpp"
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
  // Past a billion a rate is read as a magnitude (a hand-edited 1e308 printed 309 digits).
  if (std::strcmp(spec.unit, "builds/s") == 0) return v < 1e9 ? fmt::format("{:.1f}/s", v) : fmt::format("{:.3g}/s", v);
  return fmt::format("{:g}", v);
}

// A relative change in percent; one past +-100000% as a magnitude, and one too large for a
// double (a base of ~0) as "from ~0".
std::string percent_text(double fraction, const char* fixed) {
  const double percent = fraction * 100;
  if (!std::isfinite(percent)) return "from ~0";
  return std::fabs(percent) < 1e5 ? fmt::format(fmt::runtime(fixed), percent) : fmt::format("{:+.2g}%", percent);
}

std::string change_text(const MetricResult& m) {
  return m.change ? percent_text(*m.change, "{:+.1f}%") : std::string("from 0");
}

std::string p_text(const MetricResult& m) { return m.p_adjusted ? fmt::format("{:.4f}", *m.p_adjusted) : std::string("-"); }

// "+312% [+250%, +380%]": the Hodges-Lehmann shift and its interval, relative to the base.
std::string effect_text(const MetricResult& m) {
  if (m.rose_from_zero) return "from 0";
  std::string text = percent_text(m.effect, "{:+.1f}%");
  if (m.effect_low && m.effect_high) text += " [" + percent_text(*m.effect_low, "{:+.0f}%") + ", " + percent_text(*m.effect_high, "{:+.0f}%") + "]";
  return text;
}

std::string verdict_text(const MetricResult& m) {
  switch (m.verdict) {
    case Verdict::regression: return m.rose_from_zero ? "REGRESSION (" + m.reason + ")" : "REGRESSION";
    case Verdict::inconclusive: return "INCONCLUSIVE (" + m.reason + ")";
    default: return to_string(m.verdict);
  }
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
  std::string text = fmt::format(
      "per metric the smaller p of two-sided Mann-Whitney U and Kolmogorov-Smirnov, Holm-corrected over {} tested "
      "metrics, at alpha {:g}; Hodges-Lehmann shift with its {:g}% interval against a minimum effect of {:g}%",
      c.tested(), c.options.alpha, (1 - c.options.alpha) * 100, c.options.min_effect * 100);
  const std::size_t reps = c.min_repetitions();
  if (reps < 2) {
    text += "; single runs cannot be tested: anything that varied is inconclusive";
  } else if (reps < k_optimal_repetitions) {
    text += fmt::format("; {} repetitions on a side, {}+ recommended", reps, k_optimal_repetitions);
  }
  return text;
}

// One line per inconclusive cell: the most repetitions any of its metrics would need.
std::vector<std::string> repetitions_lines(const Comparison& c) {
  std::vector<std::string> lines;
  for (const auto& cell : c.cells) {
    const MetricResult* worst = nullptr;
    for (const auto& m : cell.metrics) {
      if (m.repetitions_needed && (worst == nullptr || *m.repetitions_needed > *worst->repetitions_needed)) worst = &m;
    }
    if (worst == nullptr) continue;
    const bool spread_known = cell.base_runs >= 2 || cell.new_runs >= 2;
    lines.push_back(fmt::format("{}: {} about {} runs a side would decide every metric (now {} vs {}; {} needs the most){}",
                                run_title(cell), spread_known ? "with this noise," : "at least", *worst->repetitions_needed,
                                cell.base_runs, cell.new_runs, worst->spec->path,
                                spread_known ? "" : ": the noise is unknown from single runs"));
  }
  return lines;
}

std::string list_of(const Comparison& c, Verdict verdict) {
  std::string list;
  for (const auto& cell : c.cells) {
    for (const auto& m : cell.metrics) {
      if (m.verdict != verdict) continue;
      std::string where = c.cells.size() > 1 || !cell.values.empty() ? " [" + run_title(cell) + "]" : "";
      list += (list.empty() ? "" : ", ") + std::string(m.spec->path) + " " +
              (m.rose_from_zero ? m.reason : change_text(m)) + where;
    }
  }
  return list;
}

std::string regression_summary(const Comparison& c) { return list_of(c, Verdict::regression); }

// The last line: what the exit code will say.
std::string result_text(const Comparison& c) {
  if (c.regression()) return "REGRESSION: " + regression_summary(c);
  if (c.inconclusive()) return "INCONCLUSIVE (cannot decide: repeat runs, see above): " + list_of(c, Verdict::inconclusive);
  return "no regression";
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
    out += fmt::format("  {:<24} {:>12} {:>12} {:>9} {:>24} {:>8}  {}\n", "metric", "base", "new", "change",
                       "effect [interval]", "p (Holm)", "verdict");
    for (const auto& m : cell.metrics) {
      out += fmt::format("  {:<24} {:>12} {:>12} {:>9} {:>24} {:>8}  {}\n", m.spec->path, value_text(*m.spec, m.base_value),
                         value_text(*m.spec, m.new_value), change_text(m), effect_text(m), p_text(m), verdict_text(m));
    }
  }
  out += "\n";
  for (const auto& line : repetitions_lines(c)) out += "repetitions: " + line + "\n";
  out += "result: " + result_text(c) + "\n";
  return out;
}

std::string to_markdown(const Comparison& c) {
  std::string out = std::string("### cachestress compare: ") +
                    (c.regression() ? "**regression**" : c.inconclusive() ? "**inconclusive**" : "no regression") + "\n\n";
  // Labels, scenario names and notes come from report files: inert text, not Markdown.
  for (const auto& line : header_lines(c)) out += "- " + report::markdown_escape(line) + "\n";
  for (const auto& cell : c.cells) {
    out += "\n**" + report::markdown_escape(run_title(cell)) + "**\n\n";
    out += "| metric | base | new | change | effect [interval] | p (Holm) | verdict |\n|---|---:|---:|---:|---:|---:|---|\n";
    for (const auto& m : cell.metrics) {
      const std::string verdict = m.verdict == Verdict::regression ? "**" + verdict_text(m) + "**" : verdict_text(m);
      out += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} |\n", m.spec->path, value_text(*m.spec, m.base_value),
                         value_text(*m.spec, m.new_value), change_text(m), effect_text(m), p_text(m), verdict);
    }
  }
  out += "\n";
  for (const auto& line : repetitions_lines(c)) out += "- repetitions: " + report::markdown_escape(line) + "\n";
  out += "\nResult: " + report::markdown_escape(result_text(c)) + "\n";
  return out;
}

namespace {
nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
}  // namespace

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
                         {"effect", m.effect},
                         {"effect_low", optional_json(m.effect_low)},
                         {"effect_high", optional_json(m.effect_high)},
                         {"p_mann_whitney", optional_json(m.p_mann_whitney)},
                         {"p_kolmogorov_smirnov", optional_json(m.p_kolmogorov_smirnov)},
                         {"p_value", optional_json(m.p_value)},
                         {"p_adjusted", optional_json(m.p_adjusted)},
                         {"verdict", to_string(m.verdict)},
                         {"reason", m.reason},
                         {"repetitions_needed", m.repetitions_needed ? nlohmann::json(*m.repetitions_needed) : nlohmann::json(nullptr)},
                         {"rose_from_zero", m.rose_from_zero}});
    }
    cells.push_back({{"values", cell.values}, {"base_runs", cell.base_runs}, {"new_runs", cell.new_runs}, {"metrics", metrics}});
  }
  return {{"base", {{"file", c.base_label}, {"scenario", c.base_scenario}}},
          {"new", {{"file", c.new_label}, {"scenario", c.new_scenario}}},
          {"alpha", c.options.alpha},
          {"min_effect", c.options.min_effect},
          {"method", method_text(c)},
          {"differences", c.differences},
          {"notes", c.notes},
          {"cells", cells},
          {"only_in_base", c.only_in_base},
          {"only_in_new", c.only_in_new},
          {"repetitions", repetitions_lines(c)},
          {"regression", c.regression()},
          {"inconclusive", c.inconclusive()}};
}

}  // namespace cachestress::compare
