#include "engine/metrics/cdf.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

namespace cachestress::metrics {

TEST_CASE("the cdf of a histogram is exact at its points and ends at (max, 1)", "[unit][metrics]") {
  Histogram h;
  CHECK(cdf_points(h).empty());
  // 60 uncontended acquisitions (0 us), 30 at 100 us, 10 at 5000 us.
  h.record_n(0, 60);
  h.record_n(100, 30);
  h.record_n(5000, 10);
  const auto points = cdf_points(h);
  REQUIRE(points.size() == 3);
  CHECK(points[0].value_us == 0);
  CHECK(points[0].fraction == Approx(0.6));
  CHECK(points[1].value_us == 100);  // below 128 buckets are single values
  CHECK(points[1].fraction == Approx(0.9));
  CHECK(points[2].value_us == 5000);  // the top bucket is capped at the exact max
  CHECK(points[2].fraction == 1.0);
}

TEST_CASE("the cdf stays short and close however the samples spread", "[unit][metrics]") {
  Histogram h;
  // One sample in every bucket from 0 to the largest value: the worst case for thinning.
  for (std::size_t i = 0; i < Histogram::k_bucket_count; ++i) h.record(Histogram::bucket_lowest(i));
  const auto points = cdf_points(h);
  CHECK(points.size() <= k_cdf_max_points);
  CHECK(points.size() > 100);
  for (std::size_t i = 1; i < points.size(); ++i) {
    CHECK(points[i].value_us > points[i - 1].value_us);
    CHECK(points[i].fraction >= points[i - 1].fraction);
    // Between two points the fraction rises by little, or the value jumps by little (or
    // both points are single adjacent buckets).
    const bool small_rise = points[i].fraction - points[i - 1].fraction <= k_cdf_fraction_step + 1.0 / h.count();
    const bool small_jump = static_cast<double>(points[i].value_us) <=
                            k_cdf_value_factor * static_cast<double>(points[i - 1].value_us) * 1.02 + 1;
    CHECK((small_rise || small_jump));
  }
  CHECK(points.back().fraction == 1.0);
  CHECK(points.back().value_us == h.max());
}

}  // namespace cachestress::metrics
