// Verdicts of `cachestress compare`: direction per metric, the three-way verdict (regression,
// no change, inconclusive), the statistics behind it, and collisions rising from 0.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/compare/compare.hpp"
#include "engine/compare/compare_format.hpp"
#include "engine/compare/effect.hpp"
#include "engine/compare/mann_whitney.hpp"
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

// Five runs a side, every new run beyond every base run: p = 2/252 for both tests.
const std::vector<double> k_base5{100, 101, 102, 103, 104};

TEST_CASE("direction is known per metric: throughput down and wait up are regressions", "[unit][compare]") {
  const Options options;
  auto slower = judge_metric(spec("builds_per_s"), k_base5, {80, 81, 82, 83, 84}, options);
  CHECK(slower.verdict == Verdict::regression);
  CHECK(*slower.change == Approx(-20.0 / 102));
  CHECK(judge_metric(spec("builds_per_s"), k_base5, {150, 151, 152, 153, 154}, options).verdict == Verdict::improvement);
  CHECK(judge_metric(spec("lock_wait_us.p99"), k_base5, {150, 151, 152, 153, 154}, options).verdict == Verdict::regression);
  CHECK(judge_metric(spec("lock_wait_us.p99"), k_base5, {50, 51, 52, 53, 54}, options).verdict == Verdict::improvement);
}

TEST_CASE("single runs that differ are inconclusive, never a regression on noise alone", "[unit][compare]") {
  const Options options;
  auto one = judge_metric(spec("lock_wait_us.p99"), {1000}, {1109}, options);
  CHECK(one.verdict == Verdict::inconclusive);
  CHECK_FALSE(one.p_value);
  REQUIRE(one.repetitions_needed);
  CHECK(*one.repetitions_needed >= 4);  // below 4 a side no exact test reaches p < 0.05
  auto same = judge_metric(spec("lock_wait_us.p99"), {1000}, {1000}, options);
  CHECK(same.verdict == Verdict::no_change);
  CHECK(same.constant);

  const auto c = compare_reports(repeated({run("locked", 100, 1000)}), repeated({run("locked", 100, 5000)}), Options{}, false);
  CHECK_FALSE(c.regression());
  CHECK(c.inconclusive());
  CHECK(metric(c, "builds_per_s").verdict == Verdict::no_change);
  const std::string text = to_text(c);
  CHECK_THAT(text, Catch::Contains("INCONCLUSIVE") && Catch::Contains("repetitions:") && Catch::Contains("single runs"));
  CHECK_THAT(to_markdown(c), Catch::Contains("**inconclusive**"));
  CHECK(to_json(c)["inconclusive"] == true);
}

TEST_CASE("two repetitions a side with +300% lock wait are inconclusive, not a pass", "[unit][compare]") {
  const Options options;
  auto r = judge_metric(spec("lock_wait_us.p50"), {13000, 14000}, {58000, 61000}, options);
  REQUIRE(r.p_value);
  CHECK(*r.p_value == Approx(1.0 / 3));  // the smallest p 2 vs 2 can give
  CHECK_FALSE(r.effect_low);             // no interval reaches 95% with 4 differences
  CHECK(r.effect > 3);
  CHECK(r.verdict == Verdict::inconclusive);
  REQUIRE(r.repetitions_needed);
  CHECK(*r.repetitions_needed > 2);
}

TEST_CASE("repetitions: significance, effect size and its interval decide", "[unit][compare]") {
  const Options options;
  auto worse = judge_metric(spec("lock_wait_us.p99"), k_base5, {150, 151, 152, 153, 154}, options);
  REQUIRE(worse.p_value);
  CHECK(*worse.p_mann_whitney == Approx(2.0 / 252));
  CHECK(*worse.p_kolmogorov_smirnov == Approx(2.0 / 252));
  CHECK(worse.effect == Approx(50.0 / 102));
  CHECK(worse.verdict == Verdict::regression);
  // Overlapping samples far apart in the median: too noisy to decide either way.
  auto noisy = judge_metric(spec("lock_wait_us.p99"), {100, 300, 120, 400, 90}, {150, 80, 350, 160, 500}, options);
  CHECK(noisy.verdict == Verdict::inconclusive);
  // A significant shift of 5% with an interval inside +-10%: no change (--min-effect).
  auto tiny = judge_metric(spec("lock_wait_us.p99"), k_base5, {105, 106, 107, 108, 109}, options);
  CHECK(*tiny.p_value < 0.05);
  REQUIRE(tiny.effect_low);
  CHECK(*tiny.effect_low == Approx(2.0 / 102));
  CHECK(*tiny.effect_high == Approx(8.0 / 102));
  CHECK(tiny.verdict == Verdict::no_change);
  Options strict;
  strict.min_effect = 0.01;
  CHECK(judge_metric(spec("lock_wait_us.p99"), k_base5, {105, 106, 107, 108, 109}, strict).verdict == Verdict::regression);
}

TEST_CASE("a change of spread with the same median is caught by Kolmogorov-Smirnov", "[unit][compare]") {
  // 20 runs a side around 100: half of `wide` below every `tight` run, half above (D = 0.5).
  std::vector<double> tight, wide;
  for (int i = 0; i < 20; ++i) {
    tight.push_back(99 + i % 3);
    wide.push_back(i % 2 == 0 ? 50.0 + i : 150.0 - i);
  }
  const KsTest ks = kolmogorov_smirnov(tight, wide);
  const double u = mann_whitney_u(tight, wide).p_value;
  CHECK(ks.p_value < 0.05);
  CHECK(u > 0.5);
  auto r = judge_metric(spec("lock_wait_us.p99"), tight, wide, Options{});
  CHECK(*r.p_value == Approx(ks.p_value));
}

TEST_CASE("the statistics: exact KS, Hodges-Lehmann interval, Holm, repetitions needed", "[unit][compare]") {
  CHECK(kolmogorov_smirnov(std::vector<double>{1, 2, 3}, std::vector<double>{4, 5, 6}).p_value == Approx(0.1));  // 2/C(6,3)
  CHECK(kolmogorov_smirnov(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 3}).p_value == Approx(1.0));
  CHECK(u_lower_tail(5, 5, 2) == Approx(4.0 / 252));
  CHECK(u_lower_tail(2, 2, 0) == Approx(1.0 / 6));
  const Shift shift = hodges_lehmann(std::vector<double>{100, 101, 102, 103, 104}, std::vector<double>{105, 106, 107, 108, 109}, 0.05);
  CHECK(shift.estimate == 5);
  CHECK(*shift.low == 2);
  CHECK(*shift.high == 8);
  CHECK(shift.confidence == Approx(1 - 2 * 4.0 / 252));
  CHECK_FALSE(hodges_lehmann(std::vector<double>{1, 2}, std::vector<double>{3, 4}, 0.05).low);
  const auto holm = holm_adjust({0.01, 0.04, 0.03});
  CHECK(holm[0] == Approx(0.03));
  CHECK(holm[1] == Approx(0.06));
  CHECK(holm[2] == Approx(0.06));
  CHECK(repetitions_needed(0, 10, 0.05) == 4);
  CHECK(repetitions_needed(10, 10, 0.05) == 17);  // 2 (1.96 + 0.84)^2 / 0.955 = 16.4
  // Holm over 6 tests multiplies the best p of 4 vs 4 (2/70) to 0.17: 5 a side (6 * 2/252 < 0.05).
  CHECK(repetitions_needed(0, 10, 0.05, 6) == 5);
  // Runs that already failed to decide are never the advice: more than 6.
  CHECK(repetitions_needed(1, 1000, 0.05, 1, 6) == 7);
}

TEST_CASE("runs that never overlap but are too few for Holm's correction are 'too few runs', and the advice can decide",
          "[unit][compare]") {
  // Every base run below every new one, 4 a side, 6 tested metrics: the best p is 2/70, times
  // 6 is 0.17. The reason used to be "too noisy to decide" and the advice "about 4 runs a
  // side", the runs already there.
  std::vector<nlohmann::json> base, fresh;
  for (int i = 0; i < 4; ++i) {
    base.push_back(run("s", 100 + i, 1000 + i, 0));
    fresh.push_back(run("s", 50 + i, 5000 + i, 0));
  }
  for (auto* side : {&base, &fresh}) {
    for (std::size_t i = 0; i < side->size(); ++i) {
      (*side)[i]["summary"]["build_latency_us"] = {{"p50", 1000.0 * (side == &base ? 1 : 3) + i}, {"p99", 2000.0 * (side == &base ? 1 : 3) + i}};
    }
  }
  const Comparison c = compare_reports(repeated(base), repeated(fresh), Options{}, false, "a", "b");
  REQUIRE(c.tested() == 6);
  const MetricResult& wait = metric(c, "lock_wait_us.p99");
  CHECK(wait.verdict == Verdict::inconclusive);
  CHECK(wait.reason == "too few runs: 4 vs 4 cannot reach p < 0.05 over 6 tests");
  REQUIRE(wait.repetitions_needed);
  CHECK(*wait.repetitions_needed >= 5);
  // Five a side of the same runs decide.
  base.push_back(run("s", 104, 1004, 0));
  fresh.push_back(run("s", 54, 5004, 0));
  base.back()["summary"]["build_latency_us"] = {{"p50", 1004}, {"p99", 2004}};
  fresh.back()["summary"]["build_latency_us"] = {{"p50", 3004}, {"p99", 6004}};
  const Comparison five = compare_reports(repeated(base), repeated(fresh), Options{}, false, "a", "b");
  CHECK(metric(five, "lock_wait_us.p99").verdict == Verdict::regression);
}

TEST_CASE("percentiles of runs with no samples are not compared, an interrupted repetition is left out", "[unit][compare]") {
  // Every build failed on both sides: latency "0 us -> 0 us" read "no change".
  auto empty = run("s", 0, 0, 0);
  empty["summary"]["lock_wait_us"]["count"] = 0;
  empty["summary"]["build_latency_us"]["count"] = 0;
  const Comparison c = compare_reports(repeated({empty, empty}), repeated({empty, empty}), Options{}, false, "a", "b");
  for (const auto& m : c.cells.front().metrics) CHECK_THAT(m.spec->path, !Catch::StartsWith("lock_wait_us") && !Catch::StartsWith("build_latency_us"));
  CHECK(std::count_if(c.notes.begin(), c.notes.end(), [](const std::string& n) { return n.find("no samples on either side") != std::string::npos; }) == 5);
  // Six runs a side; the new side's 4th was interrupted with a tiny partial figure. It is
  // left out (5 vs 6), and the note says which one.
  std::vector<nlohmann::json> base, fresh;
  for (int i = 0; i < 6; ++i) {
    base.push_back(run("s", 100 + i, 1000 + i));
    fresh.push_back(run("s", 100 + i, 1000 + i));
  }
  fresh[3]["summary"]["builds_per_s"] = 1;
  fresh[3]["interrupted"] = true;
  const Comparison partial = compare_reports(repeated(base), repeated(fresh), Options{}, false, "a", "b");
  CHECK(partial.cells.front().new_runs == 5);
  CHECK(metric(partial, "builds_per_s").fresh.size() == 5);
  CHECK(std::find(partial.notes.begin(), partial.notes.end(), "b: run repetition 4 of 6 was interrupted: left out of the test") != partial.notes.end());
}

TEST_CASE("collisions rising from 0 are always a regression", "[unit][compare]") {
  const Options options;
  auto rose = judge_metric(spec("collisions.total"), {0, 0, 0}, {0, 1, 0}, options);
  CHECK(rose.rose_from_zero);
  CHECK(rose.verdict == Verdict::regression);  // though the tests could not tell
  CHECK(rose.new_value == 0);                 // the median hides it; the rule does not
  CHECK(rose.reason == "rose from 0 in 1 of 3 runs");  // nor does the reason
  auto single = judge_metric(spec("collisions.total"), {0}, {3}, options);
  CHECK(single.verdict == Verdict::regression);
  CHECK(single.rose_from_zero);
  CHECK_FALSE(single.change);  // no finite relative change from 0
  CHECK(single.reason == "rose from 0");
  CHECK(judge_metric(spec("builds.failed"), {0}, {1}, options).verdict == Verdict::regression);
  CHECK(judge_metric(spec("collisions.total"), {0}, {0}, options).verdict == Verdict::no_change);
  // Falling to 0 is not a regression.
  CHECK(judge_metric(spec("collisions.total"), {4, 5, 4, 6, 5}, {0, 0, 0, 0, 0}, options).verdict == Verdict::improvement);
}

TEST_CASE("a report compared with itself has no regression, Holm counts every tested metric", "[unit][compare]") {
  std::vector<nlohmann::json> runs;
  for (int i = 0; i < 9; ++i) runs.push_back(run("locked", 100 + i, 1000 + 10 * i));
  const auto doc = repeated(runs);
  const auto c = compare_reports(doc, doc, Options{}, false);
  CHECK_FALSE(c.regression());
  CHECK_FALSE(c.inconclusive());  // 9 a side bound a zero shift inside +-10%
  for (const auto& m : c.cells.front().metrics) CHECK(m.verdict == Verdict::no_change);
  CHECK(c.tested() == 4);  // builds_per_s and lock wait p50/p99/max vary; the rest is constant
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

TEST_CASE("a run without a compared summary field is an input error naming the cell and the field", "[unit][compare]") {
  // The third run of six lacks it: the message said only "report has no number at ...".
  auto broken = run("locked", 100, 1000);
  broken["summary"].erase("builds_per_s");
  const auto good = run("locked", 100, 1000);
  try {
    compare_reports(repeated({good, good}), repeated({good, good, broken}), Options{}, false, "a.json", "b.json");
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()) == "b.json: cells[2]: report has no number at summary.builds_per_s");
  }
}

TEST_CASE("sweep cells are matched by their values, config differences are listed", "[unit][compare]") {
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
  CHECK(metric(c, "lock_wait_us.p99").verdict == Verdict::inconclusive);  // 1000 -> 3000 once: no test
  CHECK(c.cells[1].metrics[2].verdict == Verdict::inconclusive);           // 4000 -> 4100 once
  CHECK(c.cells[1].metrics[0].verdict == Verdict::no_change);              // builds/s the same
  REQUIRE(c.only_in_new.size() == 1);
  CHECK(c.only_in_new[0] == nlohmann::json{{"concurrency", "16"}});
  CHECK_THAT(to_text(c), Catch::Contains("concurrency=2") && Catch::Contains("only in new"));
}

TEST_CASE("a run across MPI ranks against a single process is a listed difference", "[unit][compare]") {
  // Only environment.cpus was listed, and a doubled lock wait read like a code regression.
  auto ranked = [](int ranks) {
    auto r = run("locked", 100, 1000);
    r["mpi"] = {{"ranks", ranks}, {"lost_ranks", nlohmann::json::array()}};
    return r;
  };
  const auto single = repeated({run("locked", 100, 1000)});
  const auto c = compare_reports(single, repeated({ranked(2)}), Options{}, false);
  CHECK(std::find(c.differences.begin(), c.differences.end(), "mpi.ranks: 1 -> 2") != c.differences.end());
  CHECK(compare_reports(repeated({ranked(2)}), repeated({ranked(2)}), Options{}, false).differences.empty());
  CHECK(compare_reports(single, single, Options{}, false).differences.empty());
}

TEST_CASE("a scenario whose builds changed between the runs is a listed difference", "[unit][compare]") {
  // Two copies of one scenario, a hold of 2 ms against 6 ms: only config.source differed.
  auto with_digest = [](const char* digest) {
    auto r = run("lk", 100, 1000);
    r["config"]["workload_sha256"] = digest;
    return r;
  };
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  const auto c = compare_reports(repeated({with_digest(a.c_str())}), repeated({with_digest(b.c_str())}), Options{}, false);
  REQUIRE(c.differences.size() == 1);
  CHECK_THAT(c.differences[0], Catch::StartsWith("config.workload_sha256: aaaaaaaaaaaa -> bbbbbbbbbbbb (what the builds do differs"));
  CHECK(compare_reports(repeated({with_digest(a.c_str())}), repeated({with_digest(a.c_str())}), Options{}, false).differences.empty());
}

TEST_CASE("a metric a backend does not measure is left out, naming the side that does not", "[unit][compare]") {
  auto unmeasured = [] {
    auto r = run("spawn", 100, 1000);
    r["not_measured"] = {"lock_wait_us"};
    return r;
  };
  const auto command = repeated({unmeasured()});
  const auto inproc = repeated({run("spawn", 100, 1000)});
  auto note_for = [](const Comparison& c) {
    for (const auto& note : c.notes) {
      if (note.starts_with("lock_wait_us.p99: ")) return note;
    }
    return std::string();
  };
  CHECK(note_for(compare_reports(command, command, Options{}, false, "a.json", "b.json")) ==
        "lock_wait_us.p99: not measured by the backend of either side, not compared");
  CHECK(note_for(compare_reports(inproc, command, Options{}, false, "a.json", "b.json")) ==
        "lock_wait_us.p99: not measured by the backend of b.json, not compared");
}

TEST_CASE("compare's markdown keeps file and scenario names inert", "[unit][compare]") {
  const auto doc = repeated({run("a|b<img src=x>", 100, 1000)});
  const std::string md = to_markdown(compare_reports(doc, doc, Options{}, false, "r<script>.json", "r.json"));
  for (std::size_t at = md.find_first_of("<>"); at != std::string::npos; at = md.find_first_of("<>", at + 1)) {
    CHECK(md[at - 1] == '\\');  // every angle bracket escaped: no tag opens
  }
  CHECK_THAT(md, Catch::Contains("scenario a\\|b\\<img src=x\\>") && Catch::Contains("r\\<script\\>.json"));
}

TEST_CASE("compare's text stays readable for extreme values", "[unit][compare]") {
  // A hand-edited 1e308 builds/s printed 309 digits; a base near 0 printed +inf% columns.
  const auto base = repeated({run("s", 1e-300, 1000), run("s", 2e-300, 1000)});
  const auto fresh = repeated({run("s", 1e308, 1000), run("s", 1e308, 1000)});
  const std::string text = to_text(compare_reports(base, fresh, Options{}, false, "a", "b"));
  CHECK_THAT(text, Catch::Contains("1e+308/s") && Catch::Contains("from ~0") && !Catch::Contains("inf"));
}

}  // namespace cachestress::compare
