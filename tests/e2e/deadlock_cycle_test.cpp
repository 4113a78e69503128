// A deadlock of three caches with no pair taken in opposite orders (a->b, b->c, c->a): the
// failure must name the whole cycle, never a pair that no build took that way.
#include <sys/prctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

const char* k_cycle_of_three = R"(description = "three caches, each kind takes one and then the next"
[run]
builds = 9
concurrency = 9
semantics = "buildah"
isolation = "shared"
lock_timeout = 1.0

[[build]]
name = "a-b"
[[build.step]]
mount = [{ target = "/a", id = "cache-a", sharing = "locked" }, { target = "/b", id = "cache-b", sharing = "locked" }]
ops = [{ op = "hold", ms = 150 }, { op = "write", file = "x", value = "a-b", mount = 1 }]

[[build]]
name = "b-c"
[[build.step]]
mount = [{ target = "/b", id = "cache-b", sharing = "locked" }, { target = "/c", id = "cache-c", sharing = "locked" }]
ops = [{ op = "hold", ms = 150 }, { op = "write", file = "x", value = "b-c", mount = 1 }]

[[build]]
name = "c-a"
[[build.step]]
mount = [{ target = "/c", id = "cache-c", sharing = "locked" }, { target = "/a", id = "cache-a", sharing = "locked" }]
ops = [{ op = "hold", ms = 150 }, { op = "write", file = "x", value = "c-a", mount = 1 }]

[expect]
"collisions.lock_overlap" = 0
"failures.deadlock" = ">0"
)";

}  // namespace

TEST_CASE("a cycle of three locked caches is named whole, in order, by every backend that takes locks", "[e2e][deadlock]") {
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  const std::string cycle = "deadlock: cycle id=cache-a -> id=cache-b -> id=cache-c -> id=cache-a";
  struct Case {
    std::string backend, lock_kind;
  };
  for (const Case& c : {Case{"inproc", "ofd"}, Case{"inproc", "fcntl"}, Case{"process", "ofd"}, Case{"process", "fcntl"}}) {
    INFO("backend " << c.backend << ", lock kind " << c.lock_kind);
    TempDir tmp;
    write_text(tmp / "cycle.toml", k_cycle_of_three);
    RunSpec spec;
    spec.env["TMPDIR"] = tmp.path();
    spec.env["ASAN_OPTIONS"] = "detect_leaks=0";  // killed workers cannot run LeakSanitizer
    spec.timeout = std::chrono::seconds(60);
    // A cycle needs one build of each kind holding its first cache at once: the seed picks
    // the kinds, and real processes may start too far apart; a few seeds are tried.
    nlohmann::json doc;
    RunResult result;
    for (int seed = 1; seed <= 6; ++seed) {
      spec.args = {"run", "--scenario", tmp / "cycle.toml", "--backend", c.backend, "--lock-kind", c.lock_kind,
                   "--seed", std::to_string(seed), "--format", "json", "--out", tmp / "r.json"};
      result = run_binary(spec);
      INFO(result.err);
      REQUIRE((result.exit_code == 0 || result.exit_code == 1));  // 1: no cycle formed this time
      doc = read_json_file(tmp / "r.json");
      if (result.exit_code == 0) break;
    }
    CHECK(result.exit_code == 0);
    REQUIRE(doc["cells"][0]["summary"]["failures"]["deadlock"].get<int>() > 0);
    for (const auto& failure : doc["cells"][0]["failures"]) {
      const std::string reason = failure["reason"];
      INFO(reason);
      CHECK(reason.find("opposite orders") == std::string::npos);
      if (failure["category"] == "deadlock") CHECK(reason == cycle);
    }
    CHECK(doc["cells"][0]["summary"]["collisions"]["lock_overlap"].get<int>() == 0);
  }
}

}  // namespace cachestress::e2e
