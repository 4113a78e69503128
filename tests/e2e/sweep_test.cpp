// Sweeps, repetitions and JUnit output as CI jobs consume them.
#include <catch2/catch.hpp>
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

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
  // Expecting waits under sharing=locked without the concurrency>=2 that convoy says: with one
  // build in flight nobody waits.
  write_text(tmp / "waits.toml", "description = \"waits at any concurrency\"\n[run]\nsemantics = \"buildah\"\nisolation = \"shared\"\n"
                                 "[[build]]\nname = \"b\"\n[[build.step]]\nmount = { target = \"/c\", sharing = \"locked\" }\n"
                                 "ops = [{ op = \"hold\", ms = 1 }]\n[expect]\n\"collisions.lock_overlap\" = 0\n\"builds.failed\" = 0\n"
                                 "[expect.\"sharing=locked\"]\n\"locks.waited\" = \">0\"\n");
  spec.args = {"--scenario", tmp / "waits.toml", "--builds", "4", "--concurrency", "1", "--junit", tmp / "junit.xml", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("locks.waited"));
  const std::string xml = read_text(tmp / "junit.xml");
  CHECK_THAT(xml, Catch::StartsWith("<?xml"));
  CHECK_THAT(xml, Catch::Contains("<testcase") && Catch::Contains("name=\"locks.waited &gt; 0 [sharing=locked]\""));
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
  // A cell that cannot run on its backend, after one that can: nothing runs, the earlier
  // report stays (it was replaced by cell 1's before the error).
  TempDir out;
  write_text(out / "r.json", "earlier\n");
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "4", "--sweep", "backend=inproc,command", "--out", out / "r.json"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("has no [command] section"));
  CHECK(read_text(out / "r.json") == "earlier\n");
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("one report shape: cells[0].summary for a single run, a repeat and a sweep, aggregates per combination", "[e2e][sweep]") {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs{
      {"single", {}}, {"repeat", {"--repeat", "3"}}, {"sweep", {"--sweep", "concurrency=1,2", "--warmup", "1"}}};
  for (const auto& [name, extra] : runs) {
    RunSpec spec;
    spec.args = {"--scenario", "locked", "--builds", "8", "--out", tmp / (name + ".json"), "-q"};
    spec.args.insert(spec.args.end(), extra.begin(), extra.end());
    spec.env["TMPDIR"] = tmp.path();
    auto result = run_binary(spec);
    INFO(name << ": " << result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(result.out.empty());  // -q on a passing run prints nothing
    const auto doc = read_json_file(tmp / (name + ".json"));
    CHECK(doc["schema_version"] == 2);
    CHECK_FALSE(doc.contains("summary"));
    CHECK(doc["cells"][0]["summary"]["builds"]["completed"] == 8);
    const auto& aggregates = doc["aggregates"];
    if (name == "repeat") {
      REQUIRE(aggregates.size() == 1);
      CHECK(aggregates[0]["runs"] == 3);
      std::vector<double> rates;
      for (const auto& cell : doc["cells"]) rates.push_back(cell["summary"]["builds_per_s"].get<double>());
      std::sort(rates.begin(), rates.end());
      const auto& figure = aggregates[0]["metrics"]["builds_per_s"];
      CHECK(figure["median"].get<double>() == Approx(rates[1]));
      CHECK(figure["min"].get<double>() == Approx(rates[0]));
      CHECK(figure["max"].get<double>() == Approx(rates[2]));
    } else if (name == "sweep") {
      CHECK(doc["sweep"]["warmup"] == 1);
      CHECK(doc["cells"].size() == 2);  // the warm-up runs are not kept
      REQUIRE(aggregates.size() == 2);
      CHECK(aggregates[1]["values"] == nlohmann::json{{"concurrency", "2"}});
    } else {
      CHECK(doc["sweep"]["keys"].empty());
      CHECK(aggregates.size() == 1);
    }
  }
}

TEST_CASE("locked swept over concurrency 1, 2, 4, 8 passes: waiting is expected only from 2 builds on", "[e2e][sweep]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "16", "--sweep", "concurrency=1,2,4,8", "--out", tmp / "r.json", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  const auto doc = read_json_file(tmp / "r.json");
  REQUIRE(doc["cells"].size() == 4);
  bool judged_waiting = false;
  for (const auto& e : doc["cells"][0]["expectations"]) judged_waiting = judged_waiting || e["field"] == "locks.waited";
  CHECK_FALSE(judged_waiting);  // concurrency 1: the condition concurrency>=2 does not hold
  bool said_not_judged = false;  // ... and the report says it was not judged, and why
  for (const auto& e : doc["cells"][0]["expectations_skipped"]) {
    said_not_judged = said_not_judged || (e["field"] == "locks.waited" &&
                                          e["reason"] == "not judged: this run does not meet concurrency>=2 && builds!=1");
  }
  CHECK(said_not_judged);
  bool judged_at_8 = false;
  for (const auto& e : doc["cells"][3]["expectations"]) {
    if (e["field"] != "locks.waited") continue;
    judged_at_8 = true;
    CHECK(e["when"] == "concurrency>=2 && builds!=1");
  }
  CHECK(judged_at_8);
}

}  // namespace cachestress::e2e
