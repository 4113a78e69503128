// cachestress-mpi's per-rank lines: a rank that took no lock shows no wait percentiles.
#include <catch2/catch.hpp>

#include "engine/report/hosts_text.hpp"

namespace cachestress::report {

TEST_CASE("a rank that took no lock shows 'none' for its lock waits, not 0 us", "[unit][report]") {
  run::MultiHost multi;
  multi.ranks = 2;
  multi.concurrency_per_rank = 2;
  multi.rank_hosts = {"a", "a"};
  run::RankFigures locked;
  locked.rank = 0;
  locked.host = "a";
  locked.builds_completed = 10;
  locked.duration_s = 1;
  locked.lock_acquisitions = 10;
  locked.lock_wait_p50_us = 1500;
  locked.lock_wait_p99_us = 9000;
  run::RankFigures shared = locked;
  shared.rank = 1;
  shared.lock_acquisitions = 0;
  shared.lock_wait_p50_us = 0;
  shared.lock_wait_p99_us = 0;
  multi.per_rank = {locked, shared};
  const metrics::RunMetrics merged;
  const std::string text = hosts_text(multi, merged);
  const auto rank1 = text.substr(text.find("rank 1"));
  CHECK_THAT(rank1, Catch::Contains("wait p50      none") && Catch::Contains("p99      none"));
  CHECK_THAT(text.substr(text.find("rank 0"), text.find("rank 1") - text.find("rank 0")), !Catch::Contains("none"));
}

}  // namespace cachestress::report
