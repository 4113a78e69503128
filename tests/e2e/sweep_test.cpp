// Sweeps, repetitions and JUnit output as CI jobs consume them.
#include <catch2/catch.hpp>
#include <set>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {

TEST_CASE("a sweep runs the cartesian product, interleaves repeats, and holds every cell in one report", "[e2e][sweep]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "convoy", "--builds", "8", "--sweep", "concurrency=2,4", "--sweep", "sharing=shared,locked",
               "--repeat", "2", "--out", tmp / "sweep.json"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  // The terminal shows one row per cell with the sweep keys as columns.
  CHECK_THAT(result.out, Catch::Contains("concurrency") && Catch::Contains("sharing") && Catch::Contains("builds/s"));
  auto doc = read_json_file(tmp / "sweep.json");
  CHECK(doc["sweep"]["keys"] == nlohmann::json({"concurrency", "sharing"}));
  CHECK(doc["sweep"]["repeat"] == 2);
  const auto& cells = doc["cells"];
  REQUIRE(cells.size() == 8);
  // Interleaved: all four cells once, then all four again.
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(cells[i]["repeat"] == (i < 4 ? 0 : 1));
    CHECK(cells[i]["index"] == i % 4);
  }
  std::set<std::string> seen;
  for (const auto& cell : cells) {
    seen.insert(cell["values"]["concurrency"].get<std::string>() + "/" + cell["values"]["sharing"].get<std::string>());
    CHECK(cell["config"]["concurrency"].get<int>() == std::stoi(cell["values"]["concurrency"].get<std::string>()));
    CHECK(cell["config"]["sharing"] == cell["values"]["sharing"]);
    CHECK(cell["summary"]["builds"]["completed"] == 8);
  }
  CHECK(seen.size() == 4);
}

TEST_CASE("a failing expectation exits 1 and the JUnit file marks that case failed", "[e2e][sweep]") {
  TempDir tmp;
  RunSpec spec;
  // locked's own expectations include locks.waited > 0: with one build in flight nobody waits.
  spec.args = {"--scenario", "locked", "--builds", "4", "--concurrency", "1", "--junit", tmp / "junit.xml", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("locks.waited"));
  const std::string xml = read_text(tmp / "junit.xml");
  CHECK_THAT(xml, Catch::StartsWith("<?xml"));
  CHECK_THAT(xml, Catch::Contains("<testcase") && Catch::Contains("name=\"locks.waited &gt; 0\""));
  CHECK_THAT(xml, Catch::Contains("<failure"));
  CHECK_THAT(xml, Catch::Contains("failures=\"1\""));
  // Passing expectations are test cases too, without a failure.
  CHECK_THAT(xml, Catch::Contains("name=\"collisions.lock_overlap == 0\""));
}

TEST_CASE("bad sweeps are input errors before anything runs", "[e2e][sweep]") {
  TempDir tmp;
  for (const auto& sweep : {"concurrency=0,4", "colour=red", "sharing=", "concurrency"}) {
    INFO(sweep);
    RunSpec spec;
    spec.args = {"--scenario", "locked", "--sweep", sweep};
    spec.env["TMPDIR"] = tmp.path();
    auto result = run_binary(spec);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains("--sweep") || Catch::Contains("setting"));
    CHECK(list_dir(tmp.path()).empty());
  }
}

}  // namespace cachestress::e2e
