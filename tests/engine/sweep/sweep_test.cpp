// The sweep driver's plan: cells in axis order, every cell checked before anything runs.
#include <catch2/catch.hpp>

#include "engine/core/error.hpp"
#include "engine/scenario/loader.hpp"
#include "engine/sweep/sweep.hpp"

namespace cachestress::sweep {

TEST_CASE("sweep cells are the product of the axes, the last axis varying fastest", "[sweep]") {
  const auto cells = sweep_cells({{"concurrency", {"1", "2"}}, {"sharing", {"shared", "locked", "private"}}});
  REQUIRE(cells.size() == 6);
  CHECK(cells[0] == Cell{{"concurrency", "1"}, {"sharing", "shared"}});
  CHECK(cells[1] == Cell{{"concurrency", "1"}, {"sharing", "locked"}});
  CHECK(cells[3] == Cell{{"concurrency", "2"}, {"sharing", "shared"}});
  CHECK(sweep_cells({}).size() == 1);  // no axes: one run
}

TEST_CASE("plan_cells refuses a bad repeat, too many runs and cells whose settings clash", "[sweep]") {
  auto s = scenario::load_scenario("locked");
  s.sweep = {{"concurrency", {"1", "4"}}};
  s.repeat = 3;
  CHECK(plan_cells(s).size() == 2);
  CHECK(cell_scenario(s, plan_cells(s)[1]).run.concurrency == 4);

  s.repeat = 0;
  CHECK_THROWS_WITH(plan_cells(s), Catch::Contains("--repeat"));
  s.repeat = model::k_max_repeat;
  s.sweep.push_back({"seed", std::vector<std::string>(20, "1")});
  CHECK_THROWS_WITH(plan_cells(s), Catch::Contains("--sweep") && Catch::Contains("runs"));

  s.repeat = 1;
  s.sweep = {{"arrival", {"together", "poisson"}}};  // poisson needs a rate: found before any run
  CHECK_THROWS_WITH(plan_cells(s), Catch::Contains("sweep cell arrival=poisson: arrival poisson needs a rate > 0 (--rate)"));
  // A rule joining two settings is checked once the cell's values apply: each of these cells
  // is valid, though the settings before the sweep are not (they were refused, exit 2).
  s.run.builds = 0;
  s.run.duration_s = 0;
  s.sweep = {{"duration", {"0.5", "1"}}};
  CHECK(plan_cells(s).size() == 2);
  s.run.builds = 10;
  s.run.arrival = model::Arrival::poisson;
  s.sweep = {{"rate", {"200", "400"}}};
  CHECK(plan_cells(s).size() == 2);
}

}  // namespace cachestress::sweep
