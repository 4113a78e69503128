// report::aggregates: a combination's repetitions folded once, for the JSON "aggregates" and
// the terminal's repeat lines; a repetition a signal cut short is not one of them.
#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <string>

#include "engine/report/report.hpp"

namespace cachestress::report {
namespace {

// Runs of the "concurrency" axis, completed builds and duration as given: the figures the
// aggregates read, nothing else.
struct Runs {
  model::Scenario scenario;
  std::deque<run::RunOutcome> outcomes;  // stable addresses for the cells' pointers
  std::vector<CellReport> cells;

  Runs() { scenario.name = "locked"; }
  void add(std::size_t index, std::uint32_t repeat, std::uint64_t completed, bool interrupted) {
    auto& outcome = outcomes.emplace_back();
    outcome.metrics = std::make_unique<metrics::RunMetrics>();
    outcome.metrics->counters[static_cast<std::size_t>(metrics::Counter::builds_completed)] = completed;
    outcome.metrics->duration_s = 1;
    outcome.interrupted = interrupted;
    outcome.signal = interrupted ? 2 : 0;
    CellReport cell;
    cell.run.scenario = &scenario;
    cell.run.outcome = &outcome;
    cell.values = {{"concurrency", std::to_string(index + 1)}};
    cell.repeat = repeat;
    cell.index = index;
    cells.push_back(std::move(cell));
  }
};

}  // namespace

TEST_CASE("an interrupted repetition is left out of the aggregates and counted as left out", "[unit][report]") {
  // The probe's sweep: concurrency=1,2 x --repeat 2, SIGINT during the 3rd of 4 runs.
  Runs runs;
  runs.add(0, 0, 10, false);
  runs.add(1, 0, 30, false);
  runs.add(0, 1, 20, false);
  runs.add(1, 1, 3, true);
  const auto list = aggregates(runs.cells);
  REQUIRE(list.size() == 2);
  CHECK(list[0].runs.size() == 2);
  CHECK(list[0].interrupted_left_out == 0);
  CHECK(list[1].runs.size() == 1);
  CHECK(list[1].interrupted_left_out == 1);
  CHECK_FALSE(list[1].partial);
  REQUIRE(list[1].figure("builds.completed") != nullptr);
  CHECK(list[1].figure("builds.completed")->median == 30);
  CHECK(list[1].figure("builds.completed")->min == 30);

  const auto doc = sweep_to_json(runs.cells, {{"concurrency"}, 2, 0, 4, "cachestress run", 0});
  const auto& second = doc["aggregates"][1];
  CHECK(second["runs"] == 1);
  CHECK(second["interrupted_left_out"] == 1);
  CHECK(second["partial"] == false);
  CHECK(second["metrics"]["builds.completed"]["median"] == 30.0);
  CHECK(second["metrics"]["duration_s"]["max"] == 1.0);
  CHECK(doc["aggregates"][0]["interrupted_left_out"] == 0);

  const std::string text = sweep_to_text(runs.cells, {{"concurrency"}, 2, 0, 4, "cachestress run", 0});
  CHECK_THAT(text, Catch::Contains("  concurrency=1, 2 reps:  builds/s 15.0 ±5.0 [10.0..20.0]"));
  CHECK_THAT(text, Catch::Contains("  concurrency=2, 1 rep (1 interrupted left out):  builds/s 30.0 ±0.0 [30.0..30.0]"));
}

TEST_CASE("when every repetition was interrupted the aggregate keeps them, marked partial", "[unit][report]") {
  Runs runs;
  runs.add(0, 0, 4, true);
  runs.add(0, 1, 6, true);
  const auto list = aggregates(runs.cells);
  REQUIRE(list.size() == 1);
  CHECK(list[0].runs.size() == 2);
  CHECK(list[0].partial);
  CHECK(list[0].interrupted_left_out == 0);
  CHECK(list[0].figure("builds.completed")->median == 5);
  const auto doc = sweep_to_json(runs.cells, {{"concurrency"}, 2, 0, 2, "cachestress run", 0});
  CHECK(doc["aggregates"][0]["partial"] == true);
  CHECK(doc["aggregates"][0]["runs"] == 2);
  CHECK_THAT(sweep_to_text(runs.cells, {{"concurrency"}, 2, 0, 2, "cachestress run", 0}),
             Catch::Contains("  concurrency=1, 2 reps, every one interrupted (partial):"));
}

}  // namespace cachestress::report
