// Expectations on a finished run: what a backend does not measure is skipped, never judged
// as 0; lock fairness agrees with "waited" (results/README.md "Lock waits").
#include <catch2/catch.hpp>

#include "engine/metrics/collector.hpp"
#include "engine/metrics/expectations.hpp"
#include "engine/metrics/summary_fields.hpp"

namespace cachestress::metrics {
namespace {

model::Expectation expect(std::string field, model::Comparison comparison, double value) {
  model::Expectation e;
  e.field = std::move(field);
  e.comparison = comparison;
  e.value = value;
  return e;
}

}  // namespace

TEST_CASE("an expectation on a field the backend does not measure is skipped, neither passed nor failed", "[unit][metrics]") {
  RunMetrics m;
  m.not_measured = {"cache.mounts_overlapped", "lock_wait_us"};
  const auto verdicts = judge({expect("cache.mounts_overlapped", model::Comparison::gt, 0),
                               expect("lock_wait_us.p99", model::Comparison::lt, 5),
                               expect("builds.failed", model::Comparison::eq, 0)},
                              m, "process");
  REQUIRE(verdicts.size() == 3);
  CHECK(verdicts[0].skipped == "not measured by the process backend");
  CHECK_FALSE(verdicts[0].failed());
  CHECK_FALSE(verdicts[0].passed);
  CHECK(verdicts[1].skipped == "not measured by the process backend");  // a group covers its statistics
  CHECK(verdicts[2].skipped.empty());
  CHECK(verdicts[2].passed);
  CHECK(all_passed(verdicts));
  // Measured fields are still judged: a 0 that is measured fails "> 0".
  const auto measured = judge({expect("cache.instances_created", model::Comparison::gt, 0)}, m, "process");
  CHECK(measured[0].failed());
  CHECK_FALSE(all_passed(measured));
}

TEST_CASE("measured() matches full paths and whole groups, not prefixes of other names", "[unit][metrics]") {
  RunMetrics m;
  m.not_measured = {"lock_wait_us", "races.rename"};
  CHECK_FALSE(m.measured("lock_wait_us.p50"));
  CHECK_FALSE(m.measured("summary.races.rename"));
  CHECK(m.measured("lock_wait_us_other"));
  CHECK(m.measured("races"));
  CHECK(m.measured("lock_hold_us.p50"));
}

TEST_CASE("a field the backend does not measure reads 0, even one that computes 1 from no data", "[unit][metrics]") {
  RunMetrics m;
  CHECK(summary_value(m, "lock_fairness.jain_index") == 1.0);  // measured, nobody waited: fair
  m.not_measured = {"lock_fairness", "lock_wait_us"};
  CHECK(summary_value(m, "lock_fairness.jain_index") == 0);
  CHECK(summary_value(m, "lock_wait_us.count") == 0);
}

TEST_CASE("nobody waited: fairness index 1 and longest wait 0, whatever taking a free lock cost", "[unit][metrics]") {
  Collector c;
  for (std::uint64_t build = 0; build < 50; ++build) c.record_lock_wait(150 + build * 90, false, build, 0);
  const RunMetrics& m = c.metrics();
  CHECK(summary_value(m, "lock_wait_us.waited") == 0);
  CHECK(summary_value(m, "lock_wait_us.count") == 50);
  CHECK(summary_value(m, "lock_wait_us.p99") > 0);  // the acquisition cost is still reported
  CHECK(summary_value(m, "lock_fairness.jain_index") == 1.0);
  CHECK(summary_value(m, "lock_fairness.longest_wait_us") == 0);
}

TEST_CASE("under contention fairness and the longest wait count only acquisitions that waited", "[unit][metrics]") {
  Collector c;
  c.record_lock_wait(900, false, 1, 0);     // free lock, slow hop: not a wait
  c.record_lock_wait(20'000, true, 2, 0);
  c.record_lock_wait(20'000, true, 3, 0);
  c.record_lock_wait(100, false, 4, 0);
  const RunMetrics& m = c.metrics();
  CHECK(summary_value(m, "lock_wait_us.waited") == 2);
  // Two of four waited alike, two did not wait: (2w)^2 / (4 * 2w^2) = 0.5.
  CHECK(summary_value(m, "lock_fairness.jain_index") == Approx(0.5));
  CHECK(summary_value(m, "lock_fairness.longest_wait_us") == 20'000);
  CHECK((summary_value(m, "lock_fairness.longest_wait_build") == 2 || summary_value(m, "lock_fairness.longest_wait_build") == 3));
  c.record_lock_wait(60'000, true, 5, 0);
  CHECK(summary_value(c.metrics(), "lock_fairness.longest_wait_us") == 60'000);
  CHECK(summary_value(c.metrics(), "lock_fairness.longest_wait_build") == 5);
}

}  // namespace cachestress::metrics

namespace cachestress::metrics {

TEST_CASE("a statistic of a distribution without samples is skipped, never judged as 0", "[unit][metrics]") {
  // No lock taken (sharing shared), every build rejected: "lock_wait_us.p99 < 1000" passed
  // on the placeholder 0, so a latency gate passed a run that measured nothing.
  Collector c;
  const auto verdicts = judge({expect("lock_wait_us.p99", model::Comparison::lt, 1000),
                               expect("build_latency_us.max", model::Comparison::lt, 1000),
                               expect("lock_wait_us.count", model::Comparison::eq, 0),
                               expect("lock_wait_us.waited", model::Comparison::eq, 0)},
                              c.metrics());
  REQUIRE(verdicts.size() == 4);
  CHECK(verdicts[0].skipped == "no samples (lock_wait_us.count = 0)");
  CHECK(verdicts[1].skipped == "no samples (build_latency_us.count = 0)");
  CHECK(verdicts[2].passed);  // how many is a measurement, 0 included
  CHECK(verdicts[3].passed);
  // With one sample the statistic is judged.
  c.record_lock_wait(5000, true, 1, 0);
  const auto judged = judge({expect("lock_wait_us.p99", model::Comparison::lt, 1000)}, c.metrics());
  CHECK(judged[0].skipped.empty());
  CHECK(judged[0].failed());
}

}  // namespace cachestress::metrics
