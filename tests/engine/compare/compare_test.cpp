// Verdicts of `cachestress compare`: direction per metric, the threshold, the U test with
// repetitions, "unreliable" single runs, and collisions rising from 0.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/compare/compare.hpp"
#include "engine/compare/compare_format.hpp"
#include "engine/core/error.hpp"

namespace cachestress::compare {
namespace {

const MetricSpec& spec(const char* path) {
  const auto& all = compared_metrics();
  auto found = std::find_if(all.begin(), all.end(), [&](const MetricSpec& s) { return std::strcmp(s.path, path) == 0; });
  REQUIRE(found != all.end());
  return *found;
}

// A run as compare reads it: config.scenario and the summary fields it judges.
nlohmann::json run(const std::string& scenario, double builds_per_s, double wait_p99, double collisions = 0) {
  nlohmann::json summary;
  summary["builds_per_s"] = builds_per_s;
  summary["lock_wait_us"] = {{"p50", wait_p99 / 2}, {"p99", wait_p99}, {"max", wait_p99}};
  summary["build_latency_us"] = {{"p50", 1000}, {"p99", 2000}};
  summary["collisions"] = {{"total", collisions}, {"foreign", collisions}, {"missing", 0}, {"torn", 0}, {"lock_overlap", 0}};
  summary["builds"] = {{"failed", 0}};
  return {{"config", {{"scenario", scenario}, {"concurrency", 4}}}, {"summary", summary}};
}

nlohmann::json repeated(std::vector<nlohmann::json> runs) {
  nlohmann::json cells = nlohmann::json::array();
  for (auto& r : runs) {
    r["values"] = nlohmann::json::object();
    cells.push_back(r);
  }
  return {{"schema_version", 1}, {"cells", cells}};
}

const MetricResult& metric(const Comparison& c, const char* path) {
  const auto& metrics = c.cells.front().metrics;
  auto found = std::find_if(metrics.begin(), metrics.end(), [&](const MetricResult& m) { return std::strcmp(m.spec->path, path) == 0; });
  REQUIRE(found != metrics.end());
  return *found;
}

}  // namespace

TEST_CASE("direction is known per metric: throughput down and wait up are regressions", "[unit][compare]") {
  const Options options;
  auto slower = judge_metric(spec("builds_per_s"), {100}, {80}, options);
  CHECK(slower.verdict == Verdict::regression);
  CHECK(*slower.change == Approx(-0.2));
  CHECK(judge_metric(spec("builds_per_s"), {100}, {120}, options).verdict == Verdict::improvement);
  CHECK(judge_metric(spec("lock_wait_us.p99"), {1000}, {1500}, options).verdict == Verdict::regression);
  CHECK(judge_metric(spec("lock_wait_us.p99"), {1000}, {500}, options).verdict == Verdict::improvement);
}

TEST_CASE("single runs: only the threshold applies and the verdict is marked unreliable", "[unit][compare]") {
  Options options;
  auto small = judge_metric(spec("lock_wait_us.p99"), {1000}, {1090}, options);
  CHECK(small.verdict == Verdict::unchanged);
  CHECK_FALSE(small.reliable);
  CHECK_FALSE(small.p_value);
  options.threshold = 0.05;
  CHECK(judge_metric(spec("lock_wait_us.p99"), {1000}, {1090}, options).verdict == Verdict::regression);

  const auto c = compare_reports(repeated({run("locked", 100, 1000)}), repeated({run("locked", 100, 5000)}), Options{}, false);
  CHECK(c.regression());
  const std::string text = to_text(c);
  CHECK_THAT(text, Catch::Contains("UNRELIABLE") && Catch::Contains("REGRESSION (unreliable)"));
  CHECK_THAT(to_markdown(c), Catch::Contains("unreliable"));
  CHECK(to_json(c)["cells"][0]["metrics"][1]["reliable"] == false);
}

TEST_CASE("repetitions: the U test must reject at alpha as well as the threshold be exceeded", "[unit][compare]") {
  const Options options;
  // Separated 5 vs 5: p = 2/252 < 0.05, and +50%.
  auto worse = judge_metric(spec("lock_wait_us.p99"), {100, 101, 102, 103, 104}, {150, 151, 152, 153, 154}, options);
  CHECK(worse.reliable);
  REQUIRE(worse.p_value);
  CHECK(*worse.p_value == Approx(2.0 / 252));
  CHECK(worse.verdict == Verdict::regression);
  // Same medians apart but overlapping samples: beyond the threshold, not significant.
  auto noisy = judge_metric(spec("lock_wait_us.p99"), {100, 300, 120, 400, 90}, {150, 80, 350, 160, 500}, options);
  CHECK(noisy.verdict == Verdict::not_significant);
  // Significant but below the threshold: unchanged.
  auto tiny = judge_metric(spec("lock_wait_us.p99"), {100, 101, 102, 103, 104}, {105, 106, 107, 108, 109}, options);
  CHECK(*tiny.p_value < 0.05);
  CHECK(tiny.verdict == Verdict::unchanged);
}

TEST_CASE("collisions rising from 0 are always a regression", "[unit][compare]") {
  const Options options;
  auto rose = judge_metric(spec("collisions.total"), {0, 0, 0}, {0, 1, 0}, options);
  CHECK(rose.rose_from_zero);
  CHECK(rose.verdict == Verdict::regression);  // though the U test could not tell
  CHECK(rose.new_value == 0);                 // the median hides it; the rule does not
  auto single = judge_metric(spec("collisions.total"), {0}, {3}, options);
  CHECK(single.verdict == Verdict::regression);
  CHECK(single.rose_from_zero);
  CHECK_FALSE(single.change);  // no finite relative change from 0
  CHECK(judge_metric(spec("builds.failed"), {0}, {1}, options).verdict == Verdict::regression);
  CHECK(judge_metric(spec("collisions.total"), {0}, {0}, options).verdict == Verdict::unchanged);
  // Falling to 0 is an improvement, not a regression.
  CHECK(judge_metric(spec("collisions.total"), {4}, {0}, options).verdict == Verdict::improvement);
}

TEST_CASE("a report compared with itself has no regression", "[unit][compare]") {
  const auto doc = repeated({run("locked", 100, 1000), run("locked", 110, 1100), run("locked", 90, 900)});
  const auto c = compare_reports(doc, doc, Options{}, false);
  CHECK_FALSE(c.regression());
  for (const auto& m : c.cells.front().metrics) CHECK(m.verdict == Verdict::unchanged);
  CHECK(c.differences.empty());
}

TEST_CASE("different scenarios are an input error unless forced", "[unit][compare]") {
  const auto a = repeated({run("locked", 100, 1000)});
  const auto b = repeated({run("shared", 100, 1000)});
  CHECK_THROWS_AS(compare_reports(a, b, Options{}, false), InputError);
  const auto forced = compare_reports(a, b, Options{}, true);
  CHECK(forced.base_scenario == "locked");
  CHECK(forced.new_scenario == "shared");
}

TEST_CASE("a run without a compared summary field is an input error naming the field", "[unit][compare]") {
  auto broken = run("locked", 100, 1000);
  broken["summary"].erase("builds_per_s");
  try {
    compare_reports(repeated({run("locked", 100, 1000)}), repeated({broken}), Options{}, false, "a.json", "b.json");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("b.json") && Catch::Contains("builds_per_s"));
  }
}

TEST_CASE("sweep cells are matched by their values; config differences are listed", "[unit][compare]") {
  auto cell = [](const char* concurrency, double wait) {
    auto r = run("convoy", 100, wait);
    r["values"] = {{"concurrency", concurrency}};
    r["config"]["concurrency"] = std::stoi(concurrency);
    return r;
  };
  nlohmann::json base = {{"schema_version", 1}, {"cells", {cell("2", 1000), cell("8", 4000)}}};
  nlohmann::json fresh = {{"schema_version", 1}, {"cells", {cell("8", 4100), cell("2", 3000), cell("16", 9000)}}};
  const auto c = compare_reports(base, fresh, Options{}, false);
  REQUIRE(c.cells.size() == 2);
  CHECK(c.cells[0].values == nlohmann::json{{"concurrency", "2"}});
  CHECK(metric(c, "lock_wait_us.p99").verdict == Verdict::regression);  // 1000 -> 3000 at concurrency 2
  CHECK(c.cells[1].metrics[2].verdict == Verdict::unchanged);            // 4000 -> 4100 at concurrency 8
  REQUIRE(c.only_in_new.size() == 1);
  CHECK(c.only_in_new[0] == nlohmann::json{{"concurrency", "16"}});
  CHECK_THAT(to_text(c), Catch::Contains("concurrency=2") && Catch::Contains("only in new"));
}

}  // namespace cachestress::compare
