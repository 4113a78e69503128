// JUnit XML, the format CI systems render natively: one <testcase> per expectation.
#include <fmt/format.h>

#include "engine/metrics/summary_fields.hpp"
#include "engine/report/markup.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {
namespace {

std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

std::string to_junit(const std::vector<CellReport>& cells) {
  std::size_t tests = 0, failures = 0;
  std::string suites;
  for (const auto& cell : cells) {
    const auto& scenario = *cell.run.scenario;
    std::string suite_name = "cachestress." + scenario.name;
    for (const auto& [key, value] : cell.values) suite_name += "." + key + "=" + value;
    if (cells.size() > 1 && cell.repeat > 0) suite_name += ".repeat" + std::to_string(cell.repeat + 1);
    std::size_t suite_failures = 0;
    std::string cases;
    for (const auto& v : cell.run.verdicts) {
      const auto& e = v.expectation;
      std::string name = e.field + " " + model::to_string(e.comparison) + " " + number(e.value);
      if (!e.when.empty()) name += " [" + model::condition_text(e) + "]";
      cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"0\">\n", markup_escape(suite_name), markup_escape(name));
      if (!v.skipped.empty()) {
        cases += fmt::format("      <skipped message=\"{}\"/>\n", markup_escape(v.skipped));
      } else {
        cases += fmt::format("      <system-out>value {}</system-out>\n", number(v.value));
      }
      if (v.failed()) {
        ++suite_failures;
        cases += fmt::format("      <failure message=\"{}\" type=\"expectation\">expected {} {} {}, got {}</failure>\n",
                             markup_escape(e.field + " = " + number(v.value)), markup_escape(e.field),
                             markup_escape(model::to_string(e.comparison)), number(e.value), number(v.value));
      }
      cases += "    </testcase>\n";
    }
    if (cell.run.outcome->interrupted) {
      ++suite_failures;
      cases += fmt::format("    <testcase classname=\"{}\" name=\"run finished\" time=\"0\">\n"
                           "      <failure message=\"interrupted\" type=\"interrupted\">interrupted by signal {}</failure>\n"
                           "    </testcase>\n",
                           markup_escape(suite_name), cell.run.outcome->signal);
    }
    const std::size_t suite_tests = cell.run.verdicts.size() + (cell.run.outcome->interrupted ? 1 : 0);
    const double seconds = metrics::summary_value(*cell.run.outcome->metrics, "duration_s");
    suites += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n{}  </testsuite>\n",
                          markup_escape(suite_name), suite_tests, suite_failures, seconds, cases);
    tests += suite_tests;
    failures += suite_failures;
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cachestress\" tests=\"{}\" failures=\"{}\">\n{}</testsuites>\n",
                     tests, failures, suites);
}

}  // namespace cachestress::report
