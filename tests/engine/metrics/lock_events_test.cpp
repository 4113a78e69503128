#include "engine/metrics/lock_events.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace cachestress::metrics {

TEST_CASE("a lock acquisition is followed from wait to release", "[unit][metrics]") {
  LockEventSample sample;
  sample.waiting("roots/shared", "cache/a", 1, 0, 100);
  sample.waiting("roots/shared", "cache/a", 2, 1, 150);
  sample.waiting("roots/shared", "cache/b", 1, 0, 160);  // another cache, same build
  sample.granted("roots/shared", "cache/a", 1, 120);
  sample.released("roots/shared", "cache/a", 1, 400);
  sample.granted("roots/shared", "cache/a", 2, 400);
  REQUIRE(sample.events().size() == 3);
  const auto& first = sample.events()[0];
  CHECK(first.key == "roots/shared/cache/a");
  CHECK(first.build == 1);
  CHECK(first.wait_start_us == 100);
  CHECK(first.granted_us == 120u);
  CHECK(first.released_us == 400u);
  const auto& second = sample.events()[1];
  CHECK(second.kind == 1);
  CHECK(second.granted_us == 400u);
  CHECK_FALSE(second.released_us);  // still holding when the run ended
  CHECK_FALSE(sample.events()[2].granted_us);  // still waiting
  // The same build on the same cache in its next step is a new acquisition.
  sample.waiting("roots/shared", "cache/a", 1, 0, 500);
  sample.granted("roots/shared", "cache/a", 1, 510);
  REQUIRE(sample.events().size() == 4);
  CHECK(sample.events()[3].granted_us == 510u);
  CHECK(sample.events()[0].granted_us == 120u);
}

TEST_CASE("the lock event sample keeps the first acquisitions and finishes them", "[unit][metrics]") {
  LockEventSample sample;
  for (std::uint64_t build = 0; build < LockEventSample::k_capacity + 500; ++build) {
    sample.waiting("r", "k", build, 0, build * 10);
  }
  CHECK(sample.events().size() == LockEventSample::k_capacity);
  CHECK(sample.events().back().build == LockEventSample::k_capacity - 1);
  // A sampled acquisition still gets its grant and release after the sample is full.
  sample.granted("r", "k", 7, 90'000);
  sample.released("r", "k", 7, 95'000);
  CHECK(sample.events()[7].granted_us == 90'000u);
  CHECK(sample.events()[7].released_us == 95'000u);
  // One that was not sampled changes nothing.
  sample.granted("r", "k", LockEventSample::k_capacity + 1, 1);
  sample.released("r", "k", LockEventSample::k_capacity + 1, 2);
  CHECK(sample.events().size() == LockEventSample::k_capacity);
}

}  // namespace cachestress::metrics
