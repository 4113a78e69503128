// The merge of a cachestress-mpi run's ranks: sums and bucket adds, never averages; and the
// wire format that carries one rank's metrics to rank 0 without losing anything.
#include <catch2/catch.hpp>

#include <memory>

#include "engine/mpi/merge.hpp"
#include "engine/mpi/metrics_wire.hpp"

using namespace cachestress;
using metrics::Counter;
using metrics::Hist;

namespace {

std::unique_ptr<metrics::RunMetrics> rank_metrics(std::uint64_t completed, std::initializer_list<std::uint64_t> waits,
                                                  std::uint64_t first_build) {
  auto m = std::make_unique<metrics::RunMetrics>();
  m->counters[static_cast<std::size_t>(Counter::builds_completed)] = completed;
  for (auto w : waits) m->histograms[static_cast<std::size_t>(Hist::lock_wait_us)].record(w);
  m->interference.push_back({0, 0, metrics::CollisionKind::foreign, 2, {metrics::CollisionKind::foreign, 0, first_build, 0, first_build + 1, "roots/shared/x", 1}});
  m->failures.push_back({"io: write failed", 1, first_build, 0, "", {}});
  m->lock_events.adopt({"roots/shared/c", first_build, 0, 100, 150, 400});
  m->intervals.push_back({1.0, completed, 0, 2, 900, 3, 10, 4, 1000});
  m->duration_s = static_cast<double>(completed) / 10;
  return m;
}

}  // namespace

TEST_CASE("merging ranks adds counters, histogram buckets and matrix cells, and gathers examples") {
  auto total = rank_metrics(10, {5, 50, 5000}, 0);
  auto part = rank_metrics(30, {7, 70000}, 1);
  total->fault_killed_builds = {4};
  part->fault_killed_builds = {9};
  mpi::merge_metrics(*total, *part, 1000);
  CHECK(total->fault_killed_builds == std::vector<std::uint64_t>{4, 9});  // each rank's kill

  CHECK(total->counter(Counter::builds_completed) == 40);
  const auto& wait = total->histogram(Hist::lock_wait_us);
  CHECK(wait.count() == 5);                         // 3 + 2: every acquisition of every rank
  CHECK(wait.min() == 5);
  CHECK(wait.max() == 70000);                       // extremes: the extreme, not a mean
  CHECK(wait.sum() == 5 + 50 + 5000 + 7 + 70000);
  REQUIRE(total->interference.size() == 1);         // same (polluter, victim, kind) cell
  CHECK(total->interference[0].count == 4);
  CHECK(total->interference[0].example.polluter_build == 0);  // the first rank's example stays
  REQUIRE(total->failures.size() == 1);
  CHECK(total->failures[0].count == 2);
  CHECK(total->duration_s == 3.0);                  // the longest rank
  REQUIRE(total->intervals.size() == 1);
  CHECK(total->intervals[0].builds_completed == 40);
  CHECK(total->intervals[0].lock_wait_p99_us == 900);  // the worst rank's p99, not an average

  // Lock events of the second rank move onto the first rank's timeline.
  const auto& events = total->lock_events.events();
  REQUIRE(events.size() == 2);
  CHECK(events[1].build == 1);
  CHECK(events[1].wait_start_us == 1100);
  CHECK(events[1].granted_us == 1150u);
  CHECK(events[1].released_us == 1400u);
}

TEST_CASE("a rank that started before rank 0 is clamped to the start of the timeline") {
  auto total = rank_metrics(1, {}, 0);
  auto part = rank_metrics(1, {}, 1);
  mpi::merge_metrics(*total, *part, -120);
  CHECK(total->lock_events.events()[1].wait_start_us == 0);
  CHECK(total->lock_events.events()[1].granted_us == 30u);
}

TEST_CASE("one rank's metrics cross the wire unchanged") {
  auto sent = rank_metrics(12, {1, 2, 3, 400000}, 7);
  sent->signatures["oom"] = 3;
  sent->holder_deaths.push_back({7, 0, "signal: killed by SIGKILL", "roots/shared /cache", std::uint64_t{9}, 0, 1234, "roots/shared/c"});
  sent->double_holders.push_back({metrics::CollisionKind::lock_overlap, 0, 7, 0, 9, "roots/shared/c", 0});
  sent->fault_killed_builds = {7};
  const std::string bytes = mpi::encode_metrics(*sent);
  auto got = mpi::decode_metrics(bytes);

  CHECK(got->counters == sent->counters);
  const auto& a = sent->histogram(Hist::lock_wait_us);
  const auto& b = got->histogram(Hist::lock_wait_us);
  CHECK(b.count() == a.count());
  CHECK(b.percentile(99) == a.percentile(99));
  CHECK(b.max() == 400000);
  CHECK(got->interference[0].example.file == "roots/shared/x");
  CHECK(got->signatures.at("oom") == 3);
  REQUIRE(got->holder_deaths.size() == 1);
  CHECK(got->holder_deaths[0].next_build == std::uint64_t{9});
  CHECK(got->holder_deaths[0].key == "roots/shared/c");
  CHECK(got->double_holders[0].victim_build == 9);
  CHECK(got->fault_killed_builds == std::vector<std::uint64_t>{7});
  CHECK(got->lock_events.events()[0].released_us == 400u);
  CHECK(got->duration_s == sent->duration_s);

  CHECK_THROWS(mpi::decode_metrics(bytes.substr(0, 100)));
  CHECK_THROWS(mpi::decode_metrics(bytes.substr(0, bytes.size() - 5)));
}
