#include "engine/scenario/loader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/core/error.hpp"
#include "engine/scenario/embedded.hpp"
#include "engine/scenario/run_settings.hpp"

namespace cachestress::scenario {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// The message of the InputError parse_scenario() throws, or a marker that none was thrown.
std::string error_of(std::string_view text, std::string_view source = "t.toml") {
  try {
    parse_scenario(text, source, "t");
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string load_error_of(const std::string& name_or_path) {
  try {
    load_scenario(name_or_path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

// A valid scenario tail: appended after header lines under test.
constexpr std::string_view k_build = R"(
[[build]]
name = "w"
[[build.step]]
mount = { target = "/test" }
ops = [ { op = "write", file = "f" } ]
)";

std::string with_build(std::string_view head) { return std::string(head) + std::string(k_build); }

// One step whose body is `step_body`, for mount/op tests; the step header is on line 4.
std::string with_step(std::string_view step_body) {
  return "description = \"x\"\n[[build]]\nname = \"w\"\n[[build.step]]\n" + std::string(step_body) + "\n";
}

constexpr std::string_view k_rich = R"(description = "Rich: \"quoted\", back\\slash and unicode ✓"
[run]
builds = 0
duration = 2.5
concurrency = 16
seed = 42
semantics = "buildah-1.28"
isolation = "per-group:4"
backend = "fake"
arrival = "poisson"
rate = 125.5
ramp = 0.25
lock_kind = "flock"
interval_ms = 250

[[build]]
name = "writer"
weight = 3

[[build.step]]
gap_ms = 5
mount = [ { target = "/cache", id = "go-mod", uid = 1000, gid = 4294967295, sharing = "locked" },
          { target = "/tmp/x", sharing = "private" } ]
ops = [
  { op = "write", file = "dir/world", value = "hello", size = 4096, chunk = 512, mount = 1 },
  { op = "append", file = "log", value = "x" },
  { op = "read", file = "dir/world", expect = "own", mount = 1 },
  { op = "delete", file = "log" },
  { op = "list" },
  { op = "list", file = "dir" },
  { op = "hold", ms = 50, jitter_ms = 10 },
]

[[build.step]]
ops = [ { op = "hold", ms = 1 } ]

[[build]]
name = "reader.v2"

[[build.step]]
[build.step.mount]
target = "/cache"
id = "go-mod"
sharing = "shared"
[[build.step.op]]
op = "read"
file = "dir/world"
expect = "absent"

[expect]
"collisions.lock_overlap" = 0
"collisions.foreign" = ">0"
"lock_wait_us.p99" = "<50000"
"summary.builds.failed" = 0
"builds_per_s" = 2.5
"collisions.total" = "!= 3"
"bytes.written" = ">= 1e3"
)";

}  // namespace

TEST_CASE("a minimal scenario gets the model defaults", "[scenario][loader]") {
  auto s = parse_scenario(with_build("description = \"minimal\""), "dir/min.toml", "min");
  CHECK(s.name == "min");
  CHECK(s.source == "dir/min.toml");
  CHECK(s.description == "minimal");
  CHECK(s.run.builds == 100);
  CHECK(s.run.concurrency == 8);
  CHECK(s.run.isolation.kind == model::IsolationKind::per_build);
  CHECK(s.run.interval_ms == 100);
  REQUIRE(s.kinds.size() == 1);
  CHECK(s.kinds[0].name == "w");
  CHECK(s.kinds[0].weight == 1);
  REQUIRE(s.kinds[0].steps.size() == 1);
  REQUIRE(s.kinds[0].steps[0].mounts.size() == 1);
  CHECK(s.kinds[0].steps[0].mounts[0].target == "/test");
  CHECK(s.kinds[0].steps[0].mounts[0].sharing == model::Sharing::shared);
  REQUIRE(s.kinds[0].steps[0].ops.size() == 1);
  CHECK(s.kinds[0].steps[0].ops[0].kind == model::OpKind::write);
  CHECK(s.kinds[0].steps[0].ops[0].file == "f");
  CHECK(s.expectations.empty());
}

TEST_CASE("a rich scenario reads every field", "[scenario][loader]") {
  auto s = parse_scenario(k_rich, "rich.toml", "rich");
  CHECK(s.description == "Rich: \"quoted\", back\\slash and unicode \xE2\x9C\x93");
  CHECK(s.run.builds == 0);
  CHECK(s.run.duration_s == 2.5);
  CHECK(s.run.concurrency == 16);
  CHECK(s.run.seed == 42);
  CHECK(s.run.semantics == model::Semantics::buildah_1_28);
  CHECK(s.run.isolation.kind == model::IsolationKind::per_group);
  CHECK(s.run.isolation.groups == 4);
  CHECK(s.run.backend == model::Backend::fake);
  CHECK(s.run.arrival == model::Arrival::poisson);
  CHECK(s.run.rate_per_s == 125.5);
  CHECK(s.run.ramp_s == 0.25);
  CHECK(s.run.lock_kind == model::LockKind::flock);
  CHECK(s.run.interval_ms == 250);
  REQUIRE(s.kinds.size() == 2);
  const auto& writer = s.kinds[0];
  CHECK(writer.weight == 3);
  REQUIRE(writer.steps.size() == 2);
  CHECK(writer.steps[0].gap_ms == 5);
  REQUIRE(writer.steps[0].mounts.size() == 2);
  CHECK(writer.steps[0].mounts[0].id == "go-mod");
  CHECK(writer.steps[0].mounts[0].uid == 1000);
  CHECK(writer.steps[0].mounts[0].gid == 4294967295u);
  CHECK(writer.steps[0].mounts[0].sharing == model::Sharing::locked);
  CHECK(writer.steps[0].mounts[1].sharing == model::Sharing::private_);
  const auto& ops = writer.steps[0].ops;
  REQUIRE(ops.size() == 7);
  CHECK(ops[0].kind == model::OpKind::write);
  CHECK(ops[0].value == "hello");
  CHECK(ops[0].size == 4096);
  CHECK(ops[0].chunk == 512);
  CHECK(ops[0].mount == 1);
  CHECK(ops[1].kind == model::OpKind::append);
  CHECK(ops[2].expect == model::ReadExpect::own);
  CHECK(ops[3].kind == model::OpKind::remove);
  CHECK(ops[4].kind == model::OpKind::list);
  CHECK(ops[4].file.empty());
  CHECK(ops[5].file == "dir");
  CHECK(ops[6].kind == model::OpKind::hold);
  CHECK(ops[6].hold_ms == 50);
  CHECK(ops[6].jitter_ms == 10);
  CHECK(writer.steps[1].mounts.empty());  // hold-only steps may have no mounts
  const auto& reader = s.kinds[1];
  CHECK(reader.name == "reader.v2");
  REQUIRE(reader.steps.size() == 1);
  REQUIRE(reader.steps[0].mounts.size() == 1);
  CHECK(reader.steps[0].mounts[0].id == "go-mod");
  REQUIRE(reader.steps[0].ops.size() == 1);
  CHECK(reader.steps[0].ops[0].expect == model::ReadExpect::absent);
}

TEST_CASE("expectations: numbers, comparison strings, canonical field names", "[scenario][loader]") {
  auto s = parse_scenario(k_rich, "rich.toml", "rich");
  REQUIRE(s.expectations.size() == 7);
  // Sorted by canonical field; "summary." stripped.
  const auto& e = s.expectations;
  CHECK(e[0].field == "builds.failed");
  CHECK(e[0].comparison == model::Comparison::eq);
  CHECK(e[0].value == 0);
  CHECK(e[0].text == "0");
  CHECK(e[1].field == "builds_per_s");
  CHECK(e[1].value == 2.5);
  CHECK(e[1].text == "2.5");
  CHECK(e[2].field == "bytes.written");
  CHECK(e[2].comparison == model::Comparison::ge);
  CHECK(e[2].value == 1000);
  CHECK(e[2].text == ">= 1e3");
  CHECK(e[3].field == "collisions.foreign");
  CHECK(e[3].comparison == model::Comparison::gt);
  CHECK(e[3].value == 0);
  CHECK(e[4].field == "collisions.lock_overlap");
  CHECK(e[4].comparison == model::Comparison::eq);
  CHECK(e[5].field == "collisions.total");
  CHECK(e[5].comparison == model::Comparison::ne);
  CHECK(e[5].value == 3);
  CHECK(e[6].field == "lock_wait_us.p99");
  CHECK(e[6].comparison == model::Comparison::lt);
  CHECK(e[6].value == 50000);
  CHECK(e[6].text == "<50000");

  auto one = [](std::string_view rhs) {
    auto parsed = parse_scenario(with_build("description = \"x\"\n[expect]\n\"collisions.total\" = " + std::string(rhs)), "t.toml", "t");
    REQUIRE(parsed.expectations.size() == 1);
    return parsed.expectations[0];
  };
  CHECK(one("\"7\"").comparison == model::Comparison::eq);
  CHECK(one("\"7\"").value == 7);
  CHECK(one("\"=7\"").comparison == model::Comparison::eq);
  CHECK(one("\"==7\"").comparison == model::Comparison::eq);
  CHECK(one("\"<=7\"").comparison == model::Comparison::le);
  CHECK(one("\">=-1.5\"").value == -1.5);
  CHECK(one("\"<7\"").comparison == model::Comparison::lt);

  auto bad = [](std::string_view lines) { return error_of(with_build("description = \"x\"\n[expect]\n" + std::string(lines))); };
  CHECK(bad("\"collisions.nope\" = 0") == "t.toml:3:1: expect.\"collisions.nope\": unknown summary field (expected e.g. "
                                         "\"collisions.total\", \"builds.failed\", \"lock_wait_us.p99\"; dotted names must be quoted)");
  CHECK_THAT(bad("collisions.total = 0"), StartsWith("t.toml:3:1: expect.collisions: unknown summary field"));
  CHECK_THAT(bad("\"collisions.total\" = \"about 3\""),
             StartsWith("t.toml:3:22: expect.\"collisions.total\": expected a number, or an operator"));
  CHECK_THAT(bad("\"collisions.total\" = \"<\""), StartsWith("t.toml:3:22: expect.\"collisions.total\": expected a number"));
  CHECK_THAT(bad("\"collisions.total\" = \"inf\""), StartsWith("t.toml:3:22: expect.\"collisions.total\": expected a number"));
  CHECK_THAT(bad("\"collisions.total\" = nan"), StartsWith("t.toml:3:22: expect.\"collisions.total\": expected a finite number"));
  CHECK_THAT(bad("\"collisions.total\" = true"), Contains("(got boolean)"));
  CHECK(bad("\"collisions.total\" = 1\n\"summary.collisions.total\" = 2") ==
        "t.toml:4:1: expect.\"summary.collisions.total\": duplicate expectation on collisions.total (also expect.\"collisions.total\")");
  CHECK_THAT(error_of(with_build("description = \"x\"\nexpect = 3")), StartsWith("t.toml:2:10: expect: expected a table (got integer)"));
}

TEST_CASE("unknown keys are reported at their position with the field path", "[scenario][loader]") {
  CHECK(error_of(with_build("description = \"x\"\ncolour = \"red\"")) ==
        "t.toml:2:1: colour: unknown key (expected one of: description, run, faults, build, expect, sweep, command)");
  CHECK_THAT(error_of(with_build("description = \"x\"\n[run]\nbuilds = 5\nspeed = 3")),
             StartsWith("t.toml:4:1: run.speed: unknown key (expected one of: builds, duration, concurrency,"));
  CHECK(error_of("description = \"x\"\n[[build]]\nname = \"w\"\nwieght = 2\n[[build.step]]\nops = [ { op = \"hold\" } ]\n") ==
        "t.toml:4:1: build[0].wieght: unknown key (expected one of: name, weight, step)");
  CHECK(error_of(with_step("gap = 5\nops = [ { op = \"hold\" } ]")) ==
        "t.toml:5:1: build[0].step[0].gap: unknown key (expected one of: gap_ms, mount, ops, op, command)");
  // Inline table: the key's own column.
  CHECK(error_of(with_step("mount = { target = \"/t\", shared = true }\nops = [ { op = \"list\" } ]")) ==
        "t.toml:5:26: build[0].step[0].mount.shared: unknown key (expected one of: target, id, uid, gid, sharing)");
  CHECK_THAT(error_of(with_step("ops = [ { op = \"list\" } ]\n[[build.step.mount]]\ntarget = \"/a\"\n[[build.step.mount]]\ntarget = \"/b\"\nuidd = 1")),
             StartsWith("t.toml:10:1: build[0].step[0].mount[1].uidd: unknown key"));
  CHECK(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"write\", file = \"f\", colour = 1 } ]")) ==
        "t.toml:6:37: build[0].step[0].ops[0].colour: unknown key (write takes: op, file, value, size, chunk, mount)");
  // A key of another op kind: a clearer message, same position rules.
  CHECK(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"write\", file = \"f\", expect = \"own\" } ]")) ==
        "t.toml:6:37: build[0].step[0].ops[0].expect: does not apply to op = \"write\" (write takes: op, file, value, size, chunk, mount)");
  CHECK_THAT(error_of(with_step("[[build.step.op]]\nop = \"hold\"\nfile = \"x\"")),
             StartsWith("t.toml:7:1: build[0].step[0].op[0].file: does not apply to op = \"hold\""));
  // The first unknown key in document order, not in key order.
  CHECK_THAT(error_of(with_build("description = \"x\"\nzebra = 1\napple = 2")), StartsWith("t.toml:2:1: zebra: unknown key"));
}

TEST_CASE("wrong types name what was expected and what was found", "[scenario][loader]") {
  CHECK(error_of(with_build("description = \"x\"\n[run]\nconcurrency = \"16\"")) ==
        "t.toml:3:15: run.concurrency: expected an integer in 1..100000 (got string)");
  CHECK(error_of(with_build("description = 5")) == "t.toml:1:15: description: expected a string (got integer)");
  CHECK(error_of(with_build("description = \"x\"\n[run]\nconcurrency = 4.0")) ==
        "t.toml:3:15: run.concurrency: expected an integer in 1..100000 (got float)");
  CHECK_THAT(error_of(with_build("description = \"x\"\nrun = 3")), StartsWith("t.toml:2:7: run: expected a table (got integer)"));
  CHECK_THAT(error_of("description = \"x\"\n[build]\nname = \"w\"\n"),
             StartsWith("t.toml:2:1: build: expected an array of tables, written [[build]] (got table)"));
  CHECK_THAT(error_of("description = \"x\"\n[[build]]\nname = \"w\"\n[build.step]\nops = []\n"),
             StartsWith("t.toml:4:1: build[0].step: expected an array of tables, written [[build.step]] (got table)"));
  CHECK_THAT(error_of(with_step("mount = \"/test\"\nops = [ { op = \"list\" } ]")),
             StartsWith("t.toml:5:9: build[0].step[0].mount: expected a table or an array of tables (got string)"));
  CHECK_THAT(error_of(with_step("ops = { op = \"hold\" }")),
             StartsWith("t.toml:5:7: build[0].step[0].ops: expected an array of tables"));
  CHECK_THAT(error_of(with_step("ops = [ 1 ]")), StartsWith("t.toml:5:9: build[0].step[0].ops[0]: expected a table (got integer)"));
  CHECK_THAT(error_of(with_build("description = \"x\"\n[run]\nduration = \"10s\"")), StartsWith("t.toml:3:12: run.duration: expected a number"));
  CHECK(error_of(with_build("description = \"x\"\n[run]\nsemantics = \"podman\"")) ==
        "t.toml:3:13: run.semantics: expected one of buildah, buildah-1.28, buildkit (got \"podman\")");
  CHECK_THAT(error_of(with_build("description = \"x\"\n[run]\nisolation = \"per-group:0\"")),
             StartsWith("t.toml:3:13: run.isolation: expected one of per-build, shared, per-group:K (K in 1..100000)"));
}

TEST_CASE("out-of-range values are input errors", "[scenario][loader]") {
  auto run = [](std::string_view line) { return error_of(with_build("description = \"x\"\n[run]\n" + std::string(line))); };
  CHECK(run("concurrency = 0") == "t.toml:3:15: run.concurrency: expected an integer in 1..100000 (got 0)");
  CHECK(run("concurrency = 10000000") == "t.toml:3:15: run.concurrency: expected an integer in 1..100000 (got 10000000)");
  CHECK(run("builds = 1000000000") == "t.toml:3:10: run.builds: expected an integer in 0..100000000 (got 1000000000)");
  CHECK(run("builds = 100000000") == "<no error>");  // the limit itself is fine
  CHECK_THAT(run("duration = -1.0"), StartsWith("t.toml:3:12: run.duration: expected a number in 0.."));
  CHECK_THAT(run("duration = inf"), StartsWith("t.toml:3:12: run.duration: expected a number in 0.."));
  CHECK_THAT(run("seed = -1"), StartsWith("t.toml:3:8: run.seed: expected an integer in 0.."));
  CHECK_THAT(run("interval_ms = 5"), StartsWith("t.toml:3:15: run.interval_ms: expected an integer in 10..3600000 (got 5)"));
  CHECK_THAT(error_of(with_step("gap_ms = 3600001\nops = [ { op = \"hold\" } ]")),
             StartsWith("t.toml:5:10: build[0].step[0].gap_ms: expected an integer in 0..3600000"));
  CHECK_THAT(error_of(with_step("mount = { target = \"/t\", uid = -1 }\nops = [ { op = \"list\" } ]")),
             StartsWith("t.toml:5:32: build[0].step[0].mount.uid: expected an integer in 0..4294967295 (got -1)"));
  CHECK_THAT(error_of(with_step("mount = { target = \"/t\", gid = 4294967296 }\nops = [ { op = \"list\" } ]")),
             Contains("mount.gid: expected an integer in 0..4294967295"));
  CHECK_THAT(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"write\", file = \"f\", size = 67108865 } ]")),
             Contains("build[0].step[0].ops[0].size: expected an integer in 0..67108864"));
  CHECK_THAT(error_of(with_step("ops = [ { op = \"hold\", jitter_ms = 3600001 } ]")), Contains("ops[0].jitter_ms: expected an integer in 0..3600000"));
  CHECK_THAT(error_of("description = \"x\"\n[[build]]\nname = \"w\"\nweight = 0\n[[build.step]]\nops = [ { op = \"hold\" } ]\n"),
             StartsWith("t.toml:4:10: build[0].weight: expected an integer in 1..1000000 (got 0)"));
}

TEST_CASE("cross-field rules", "[scenario][loader]") {
  auto run = [](std::string_view lines) { return error_of(with_build("description = \"x\"\n[run]\n" + std::string(lines))); };
  CHECK(run("builds = 0") == "t.toml:3:10: run.duration: expected > 0 when run.builds = 0 (run until the duration ends)");
  CHECK(run("builds = 0\nduration = 0") == "t.toml:4:12: run.duration: expected > 0 when run.builds = 0 (run until the duration ends)");
  CHECK(run("builds = 0\nduration = 1") == "<no error>");
  CHECK(run("arrival = \"poisson\"") == "t.toml:3:11: run.rate: expected > 0 arrivals/s when run.arrival = \"poisson\"");
  CHECK(run("arrival = \"poisson\"\nrate = 2") == "<no error>");
  CHECK(run("arrival = \"ramp\"\nramp = 0.0") == "t.toml:4:8: run.ramp: expected > 0 seconds when run.arrival = \"ramp\"");
  CHECK(run("arrival = \"ramp\"\nramp = 3") == "<no error>");
}

TEST_CASE("missing required fields point at the enclosing table", "[scenario][loader]") {
  CHECK(error_of(std::string(k_build)) == "t.toml:1:1: description: missing (required: a one-line string)");
  CHECK(error_of("description = \"x\"\n") == "t.toml:1:1: build: missing (required: at least one [[build]])");
  CHECK_THAT(error_of(with_build("description = \"\"")), StartsWith("t.toml:1:15: description: expected a non-empty one-line string"));
  CHECK_THAT(error_of(with_build("description = \"two\\nlines\"")), StartsWith("t.toml:1:15: description: expected a non-empty one-line string"));
  CHECK_THAT(error_of("description = \"x\"\n[[build]]\nweight = 2\n[[build.step]]\nops = [ { op = \"hold\" } ]\n"),
             StartsWith("t.toml:2:1: build[0].name: missing (required: a build name"));
  CHECK(error_of("description = \"x\"\n[[build]]\nname = \"w\"\n") ==
        "t.toml:2:1: build[0].step: missing (required: at least one [[build.step]])");
  CHECK(error_of(with_step("gap_ms = 1")) == "t.toml:4:1: build[0].step[0].ops: missing (required: at least one operation)");
  CHECK(error_of(with_step("ops = []")) == "t.toml:5:7: build[0].step[0].ops: expected at least one operation");
  CHECK(error_of(with_step("mount = { id = \"x\" }\nops = [ { op = \"list\" } ]")) ==
        "t.toml:5:9: build[0].step[0].mount.target: missing (required: an absolute path such as \"/cache\")");
  CHECK_THAT(error_of(with_step("ops = [ { file = \"f\" } ]")), StartsWith("t.toml:5:9: build[0].step[0].ops[0].op: missing (required:"));
  CHECK_THAT(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"read\" } ]")),
             StartsWith("t.toml:6:9: build[0].step[0].ops[0].file: missing (required:"));
  CHECK_THAT(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"jump\" } ]")),
             StartsWith("t.toml:6:16: build[0].step[0].ops[0].op: expected one of write, read, append, delete, list, hold, prune, reset, trylock, extract (got \"jump\")"));
  // Mounts: required unless every op is a hold; indexes must exist.
  CHECK_THAT(error_of(with_step("ops = [ { op = \"hold\" }, { op = \"read\", file = \"f\" } ]")),
             StartsWith("t.toml:4:1: build[0].step[0].mount: expected at least one mount (operation 1 is a read;"));
  CHECK_THAT(error_of(with_step("mount = []\nops = [ { op = \"list\" } ]")), StartsWith("t.toml:5:9: build[0].step[0].mount: expected at least one mount"));
  CHECK(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"read\", file = \"f\", mount = 1 } ]")) ==
        "t.toml:6:44: build[0].step[0].ops[0].mount: expected an index into this step's 1 mount(s), 0..0 (got 1)");
  CHECK(error_of(with_step("ops = [ { op = \"hold\" } ]")) == "<no error>");
  CHECK_THAT(error_of(with_step("ops = [ { op = \"hold\" } ]\n[[build.step.op]]\nop = \"hold\"")),
             StartsWith("t.toml:6:1: build[0].step[0].op: use either ops = [...] or [[build.step.op]], not both"));
  CHECK_THAT(error_of("description = \"x\"\nbuild = []\n"), StartsWith("t.toml:2:9: build: expected at least one [[build]]"));
}

TEST_CASE("build names are validated and unique", "[scenario][loader]") {
  auto named = [](std::string_view name) {
    return error_of("description = \"x\"\n[[build]]\nname = " + std::string(name) + "\n[[build.step]]\nops = [ { op = \"hold\" } ]\n");
  };
  CHECK(named("\"a-B_9.z\"") == "<no error>");
  CHECK_THAT(named("\"has space\""), StartsWith("t.toml:3:8: build[0].name: expected 1-64 characters"));
  CHECK_THAT(named("\"\""), StartsWith("t.toml:3:8: build[0].name: expected 1-64 characters"));
  CHECK(named("\"" + std::string(64, 'a') + "\"") == "<no error>");
  CHECK_THAT(named("\"" + std::string(65, 'a') + "\""), StartsWith("t.toml:3:8: build[0].name: expected 1-64 characters"));
  CHECK(error_of("description = \"x\"\n[[build]]\nname = \"a\"\nstep = [ { ops = [ { op = \"hold\" } ] } ]\n"
                 "[[build]]\nname = \"a\"\nstep = [ { ops = [ { op = \"hold\" } ] } ]\n") ==
        "t.toml:6:8: build[1].name: duplicate build name \"a\" (also build[0])");
}

TEST_CASE("sharing = \"sometimes\" on line 12 is reported at line 12", "[scenario][loader]") {
  constexpr std::string_view text = R"(description = "x"
[[build]]
name = "a"
step = [ { ops = [ { op = "hold" } ] } ]
[[build]]
name = "b"
step = [ { ops = [ { op = "hold" } ] } ]
[[build]]
name = "c"
[[build.step]]
[build.step.mount]
sharing = "sometimes"
target = "/t"
[[build.step.op]]
op = "list"
)";
  const auto message = error_of(text, "my.toml");
  CHECK_THAT(message, Contains(":12:"));
  CHECK_THAT(message, Contains("sharing"));
  CHECK(message == "my.toml:12:11: build[2].step[0].mount.sharing: expected one of shared, private, locked (got \"sometimes\")");
  // The same mistake in an inline mount list: indexed path, column of the value.
  CHECK(error_of(with_step("mount = [ { target = \"/a\" },\n  { target = \"/b\", sharing = \"sometimes\" } ]\nops = [ { op = \"list\" } ]")) ==
        "t.toml:6:30: build[0].step[0].mount[1].sharing: expected one of shared, private, locked (got \"sometimes\")");
}

TEST_CASE("unsafe ids, targets and file names are rejected naming the field", "[scenario][loader]") {
  auto mount = [](std::string_view fields) {
    return error_of(with_step("mount = { " + std::string(fields) + " }\nops = [ { op = \"list\" } ]"));
  };
  CHECK(mount("target = \"/t\", id = \"../..\"") ==
        "t.toml:5:31: build[0].step[0].mount.id: expected a safe id: contains a \"..\" component (got \"../..\")");
  CHECK_THAT(mount("target = \"/t\", id = \"a/../b\""), Contains("mount.id: expected a safe id: contains a \"..\" component"));
  CHECK_THAT(mount("target = \"/t\", id = \"a/..\""), Contains("mount.id: expected a safe id: contains a \"..\" component"));
  CHECK(mount("target = \"/t\", id = \"a/..b/c..\"") == "<no error>");  // only whole ".." components
  CHECK_THAT(mount("target = \"/t\", id = \"/abs\""), Contains("mount.id: expected a relative id, not starting with \"/\""));
  CHECK_THAT(mount("target = \"/t\", id = \"a\\u0000b\""), Contains("mount.id: expected a safe id: contains a NUL byte (got \"a\\x00b\")"));
  CHECK_THAT(mount("target = \"/t\", id = \"ok/" + std::string(256, 'x') + "\""),
             Contains("mount.id: expected a safe id: has a component longer than 255 bytes"));
  CHECK(mount("target = \"/t\", id = \"ok/" + std::string(255, 'x') + "\"") == "<no error>");
  std::string long_id;
  while (long_id.size() <= 4000) long_id += "abc/";
  CHECK_THAT(mount("target = \"/t\", id = \"" + long_id + "\""), Contains("mount.id: expected a safe id: longer than 4000 bytes"));

  CHECK(mount("target = \"/cache/../../etc\"") ==
        "t.toml:5:20: build[0].step[0].mount.target: expected a safe path: contains a \"..\" component (got \"/cache/../../etc\")");
  CHECK_THAT(mount("target = \"/..\""), Contains("mount.target: expected a safe path: contains a \"..\" component"));
  CHECK_THAT(mount("target = \"/a\\u0000\""), Contains("mount.target: expected a safe path: contains a NUL byte"));
  CHECK_THAT(mount("target = \"/" + std::string(256, 'y') + "\""), Contains("mount.target: expected a safe path: has a component longer than 255"));
  for (const char* root : {"\"/\"", "\"//\"", "\"/./\"", "\"/.\""}) {
    INFO(root);
    CHECK_THAT(mount(std::string("target = ") + root), Contains("mount.target: expected an absolute path below \"/\""));
  }
  CHECK_THAT(mount("target = \"/t\", id = \"./\""), Contains("mount.id: expected an id that names a cache"));
  CHECK(mount("target = \"/t\", id = \"\"") == "<no error>");  // empty: keyed by the target
  CHECK_THAT(mount("target = \"test\""), Contains("mount.target: expected an absolute path below \"/\""));

  auto file = [](std::string_view name) {
    return error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"write\", file = " + std::string(name) + " } ]"));
  };
  CHECK(file("\"../x\"") == "t.toml:6:32: build[0].step[0].ops[0].file: expected a safe file name: contains a \"..\" component (got \"../x\")");
  CHECK_THAT(file("\"/etc/passwd\""), Contains("ops[0].file: expected a relative file name"));
  // Names that are the mount's directory, or a directory: every build would fail at run time.
  for (const char* dir : {"\"\"", "\".\"", "\"./\"", "\"a/.\"", "\"a/\"", "\".//.\""}) {
    INFO(dir);
    CHECK_THAT(file(dir), Contains("ops[0].file: expected a file name relative to the mount, not a directory"));
  }
  // Accepted, these failed every build with EINVAL at run time.
  for (const char* odd : {"\"./f\"", "\"a/./b\"", "\"a//b\""}) {
    INFO(odd);
    CHECK_THAT(file(odd), Contains("ops[0].file: expected a file name without empty or \".\" components"));
  }
  CHECK_THAT(file("\"a\\u0000\""), Contains("ops[0].file: expected a safe file name: contains a NUL byte"));
  CHECK(file("\"sub/dir/f\"") == "<no error>");
  CHECK_THAT(error_of(with_step("mount = { target = \"/t\" }\nops = [ { op = \"write\", file = \"f\", value = \"a\\nb\" } ]")),
             Contains("ops[0].value: expected at most 255 bytes without control characters"));
}

TEST_CASE("messages are one line even for hostile input", "[scenario][loader]") {
  const auto message = error_of(with_step("mount = { target = \"/t\", id = \"x\\n/../\\r\" }\nops = [ { op = \"list\" } ]"), "evil\nname.toml");
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.find('\r') == std::string::npos);
  CHECK_THAT(message, StartsWith("evil\\nname.toml:5:"));
}

TEST_CASE("empty, binary, huge and deeply nested input are clean errors", "[scenario][loader]") {
  CHECK_THAT(error_of(""), StartsWith("t.toml:1:1: file: empty"));
  CHECK_THAT(error_of(" \n\t\n"), StartsWith("t.toml:1:1: file: empty"));
  CHECK(error_of(std::string("description = \"x\"\n\0\x01", 20)) == "t.toml:2:1: file: NUL byte (expected UTF-8 text)");
  CHECK(error_of("description = \"\xff\"") == "t.toml:1:16: file: invalid UTF-8 byte (expected UTF-8 text)");
  CHECK_THAT(error_of("description = \"\xC0\xAF\""), StartsWith("t.toml:1:16: file: invalid UTF-8 sequence"));      // overlong '/'
  CHECK_THAT(error_of("description = \"\xED\xA0\x80\""), StartsWith("t.toml:1:16: file: invalid UTF-8 sequence"));  // surrogate
  CHECK_THAT(error_of("description = \"\xE2\x9C\""), StartsWith("t.toml:1:16: file: invalid UTF-8 sequence"));
  CHECK_THAT(error_of("d = \"\xE2\x9C\x93\"\n\xE2\x9C"), StartsWith("t.toml:2:1: file: truncated UTF-8 sequence"));
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) & 0xFF);
  CHECK_THAT(error_of(garbage), StartsWith("t.toml:1:2: file: invalid UTF-8 byte"));  // "\r", then 0xFC
  CHECK(error_of("description = \"x\" # \x01\x02" + std::string(1, '\0') + "\xfe") == "t.toml:1:23: file: NUL byte (expected UTF-8 text)");

  std::string big = with_build("description = \"x\"");
  while (big.size() < 2 * 1024 * 1024) big += "# padding padding padding padding padding padding padding padding\n";
  CHECK(error_of(big) == "t.toml:1:1: file: larger than 1 MiB (scenario files are limited to 1048576 bytes)");

  const std::string arrays = "a = " + std::string(1000, '[') + std::string(1000, ']') + "\n";
  CHECK(error_of(arrays) == "t.toml:1:69: file: nested deeper than 64 levels");
  std::string inline_tables = "a = ";
  for (int i = 0; i < 1000; ++i) inline_tables += "{ b = ";
  inline_tables += "1" + std::string(1000, '}') + "\n";
  CHECK_THAT(error_of(inline_tables), StartsWith("t.toml:1:"));
  CHECK_THAT(error_of(inline_tables), Contains("file: nested deeper than 64 levels"));
  std::string headers = "[a";
  for (int i = 0; i < 1000; ++i) headers += ".a";
  CHECK_THAT(error_of(headers + "]\n"), Contains("file: key nested deeper than 16 levels"));
  // Deep enough to overflow the stack inside toml++ if it ever got there.
  std::string dotted = "a";
  for (int i = 0; i < 400'000; ++i) dotted += ".a";
  CHECK_THAT(error_of(dotted + " = 1\n"), StartsWith("t.toml:1:34: file: key nested deeper than 16 levels"));
  // Dots inside strings and comments are not key levels.
  CHECK(error_of(with_build("description = \"" + std::string(100, '.') + "\" # " + std::string(100, '.'))) == "<no error>");
  // Quoted key segments still count.
  std::string quoted_dotted = "\"a\"";
  for (int i = 0; i < 20; ++i) quoted_dotted += ".\"a\"";
  CHECK_THAT(error_of(quoted_dotted + " = 1\n"), Contains("file: key nested deeper than 16 levels"));
}

TEST_CASE("TOML syntax errors carry toml++'s position", "[scenario][loader]") {
  const auto message = error_of("description = \"x\"\n[run\nbuilds = 3\n");
  CHECK_THAT(message, StartsWith("t.toml:2:"));
  CHECK_THAT(message, Contains(": syntax: "));
  CHECK_THAT(error_of("description = \"x\"\ndescription = \"y\"\n"), StartsWith("t.toml:2:"));
}

TEST_CASE("workload_sha256 changes with what the builds do, not with settings, name or sweep", "[scenario][loader]") {
  const std::string base = "description = \"d\"\n[run]\nbuilds = 5\n[[build]]\nname = \"b\"\n[[build.step]]\n"
                           "mount = { target = \"/c\", sharing = \"locked\" }\nops = [ { op = \"hold\", ms = 2 } ]\n";
  const auto digest = [](const std::string& toml, const char* name = "t") { return workload_sha256(parse_scenario(toml, "t.toml", name)); };
  const std::string same = digest(base);
  CHECK(same.size() == 64);
  CHECK(digest(base, "other-name") == same);
  std::string settings = base;
  settings.replace(settings.find("builds = 5"), 10, "builds = 9\nconcurrency = 3\nseed = 7");
  CHECK(digest(settings) == same);
  CHECK(digest("description = \"another\"" + base.substr(base.find('\n'))) == same);
  CHECK(digest(base + "[sweep]\nconcurrency = [1, 2]\n") == same);
  std::string held = base;
  held.replace(held.find("ms = 2"), 6, "ms = 6");
  CHECK(digest(held) != same);
  CHECK(digest(base + "[expect]\n\"locks.waited\" = \">0\"\n") != same);
  std::string shared = base;
  shared.replace(shared.find("\"locked\""), 8, "\"shared\"");
  CHECK(digest(shared) != same);
}

TEST_CASE("to_toml round-trips to an equal scenario", "[scenario][loader]") {
  const auto rich = parse_scenario(k_rich, "rich.toml", "rich");
  const std::string text = to_toml(rich);
  INFO(text);
  const auto again = parse_scenario(text, "again.toml", "again");
  CHECK(same_scenario(rich, again));
  CHECK(to_toml(again).substr(to_toml(again).find('\n')) == text.substr(text.find('\n')));  // stable after the comment line
  // Defaults are written explicitly.
  const auto minimal = parse_scenario(with_build("description = \"m\""), "m.toml", "m");
  const std::string minimal_text = to_toml(minimal);
  CHECK_THAT(minimal_text, Contains("interval_ms = 100\n"));
  CHECK_THAT(minimal_text, Contains("isolation = \"per-build\"\n"));
  CHECK_THAT(minimal_text, Contains("sharing = \"shared\""));
  CHECK_THAT(minimal_text, Contains("weight = 1\n"));
  CHECK(same_scenario(minimal, parse_scenario(minimal_text, "m2.toml", "m2")));

  // same_scenario is not a tautology: each kind of difference is seen.
  auto changed = [&](auto&& edit) {
    auto copy = rich;
    edit(copy);
    return same_scenario(rich, copy);
  };
  CHECK_FALSE(same_scenario(rich, minimal));
  CHECK_FALSE(changed([](model::Scenario& s) { s.description += "!"; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.run.seed += 1; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.run.isolation.groups = 5; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.run.ramp_s = 0.5; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.kinds[1].name = "other"; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.kinds[0].steps[0].mounts[1].gid = 7; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.kinds[0].steps[0].ops[6].jitter_ms = 11; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.kinds[0].steps.pop_back(); }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.expectations[2].value = 999; }));
  CHECK_FALSE(changed([](model::Scenario& s) { s.expectations.pop_back(); }));
  CHECK(changed([](model::Scenario& s) { s.name = "renamed"; }));  // where it came from is not content
}

TEST_CASE("to_toml escapes strings and keeps programmatic scenarios loadable", "[scenario][loader]") {
  model::Scenario s;
  s.name = "made";
  s.source = "cli";
  s.description = "quote \" backslash \\ unicode \xC3\xA9";
  s.run.builds = 7;
  s.run.duration_s = 1e-3;
  s.run.rate_per_s = 3;
  s.run.arrival = model::Arrival::ramp;
  s.run.ramp_s = 1;
  s.run.isolation = {model::IsolationKind::shared, 1};
  model::BuildKind kind;
  kind.name = "k";
  model::Step step;
  step.mounts.push_back({"/odd \"dir\"", "id\twith\ttabs", 1, 2, model::Sharing::locked});
  model::Operation op;
  op.kind = model::OpKind::append;
  op.file = "new\nline";
  op.value = "v\"q";
  op.size = 12;
  step.ops.push_back(op);
  kind.steps.push_back(step);
  s.kinds.push_back(kind);
  s.expectations.push_back({"lock_wait_us.p99", model::Comparison::le, 5, "<= 5", {}});
  s.expectations.push_back({"collisions.total", model::Comparison::gt, 0.5, "", {}});  // text not set: written from the value
  const auto text = to_toml(s);
  INFO(text);
  const auto back = parse_scenario(text, "back.toml", "back");
  CHECK(back.kinds.at(0).steps.at(0).mounts.at(0).id == "id\twith\ttabs");
  CHECK(back.kinds.at(0).steps.at(0).ops.at(0).file == "new\nline");
  REQUIRE(back.expectations.size() == 2);
  CHECK(back.expectations[0].field == "collisions.total");
  CHECK(back.expectations[0].comparison == model::Comparison::gt);
  CHECK(back.expectations[0].value == 0.5);
  s.expectations[1].text = back.expectations[0].text;  // the only field that may be filled in
  CHECK(same_scenario(s, back));
}

TEST_CASE("load_scenario reads built-ins and files", "[scenario][loader]") {
  CHECK(load_error_of("no-such-scenario") == "unknown scenario 'no-such-scenario' (try: cachestress list)");
  const auto entries = catalogue();
  REQUIRE(entries.size() == embedded_scenarios().size());
  for (const auto& entry : entries) {
    INFO(entry.name);
    const auto s = load_scenario(entry.name);
    CHECK(s.name == entry.name);
    CHECK(s.source == "builtin:" + entry.name);
    CHECK_FALSE(entry.description.empty());
    CHECK(entry.description == s.description);
    CHECK(same_scenario(s, parse_scenario(to_toml(s), "x", "x")));
  }

  char dir_template[] = "/tmp/cachestress-loader-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  REQUIRE(dir != nullptr);
  const std::string path = std::string(dir) + "/my-scn.toml";
  std::ofstream(path) << with_build("description = \"from a file\"");
  const auto s = load_scenario(path);
  CHECK(s.name == "my-scn");
  CHECK(s.source == path);
  CHECK(s.description == "from a file");

  const std::string missing = std::string(dir) + "/missing.toml";
  CHECK(load_error_of(missing) == "cannot read scenario \"" + missing + "\": ENOENT: no such file or directory");
  CHECK_THAT(load_error_of(dir + std::string("/")), Contains("EISDIR"));
  CHECK_THAT(load_error_of("relative-missing.toml"), Contains("ENOENT"));

  const std::string big = std::string(dir) + "/big.toml";
  std::ofstream(big) << std::string(2 * 1024 * 1024, '#');
  CHECK(load_error_of(big) == big + ":1:1: file: larger than 1 MiB (scenario files are limited to 1048576 bytes)");
  const std::string empty = std::string(dir) + "/empty.toml";
  std::ofstream(empty).flush();
  CHECK_THAT(load_error_of(empty), StartsWith(empty + ":1:1: file: empty"));

  // /dev/stdin is a stream with no size: point fd 0 at a pipe for the duration.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string piped = with_build("description = \"from stdin\"");
  REQUIRE(::write(fds[1], piped.data(), piped.size()) == static_cast<ssize_t>(piped.size()));
  ::close(fds[1]);
  const int saved = ::dup(0);
  REQUIRE(saved >= 0);
  REQUIRE(::dup2(fds[0], 0) == 0);
  std::string stdin_description;
  std::string stdin_source;
  try {
    auto from_stdin = load_scenario("/dev/stdin");
    stdin_description = from_stdin.description;
    stdin_source = from_stdin.source;
  } catch (const InputError& e) {
    stdin_description = e.what();
  }
  ::dup2(saved, 0);
  ::close(saved);
  ::close(fds[0]);
  CHECK(stdin_description == "from stdin");
  CHECK(stdin_source == "/dev/stdin");

  for (const auto* file : {"my-scn.toml", "big.toml", "empty.toml"}) std::remove((std::string(dir) + "/" + file).c_str());
  ::rmdir(dir);
}

}  // namespace cachestress::scenario

namespace cachestress::scenario {

TEST_CASE("expectation conditions: any numeric setting with a comparison, != on choices", "[scenario][loader]") {
  const std::string text = R"(description = "c"
[[build]]
name = "b"
[[build.step]]
mount = [{ target = "/c", id = "c", sharing = "locked" }]
ops = [{ op = "write", file = "f" }]
[expect."concurrency>=2"]
"locks.waited" = ">0"
[expect."backend!=process"]
"cache.mounts_overlapped" = 0
)";
  auto s = parse_scenario(text, "c.toml", "c");
  REQUIRE(s.expectations.size() == 2);
  const auto waited = *std::find_if(s.expectations.begin(), s.expectations.end(),
                                    [](const model::Expectation& e) { return e.field == "locks.waited"; });
  REQUIRE(waited.when.size() == 1);
  CHECK(waited.when[0].key == "concurrency");
  CHECK(waited.when[0].comparison == model::Comparison::ge);
  CHECK(model::condition_text(waited) == "concurrency>=2");
  s.run.concurrency = 1;
  CHECK_FALSE(condition_holds(waited, s));
  s.run.concurrency = 2;
  CHECK(condition_holds(waited, s));
  const auto overlapped = *std::find_if(s.expectations.begin(), s.expectations.end(),
                                        [](const model::Expectation& e) { return e.field == "cache.mounts_overlapped"; });
  s.run.backend = model::Backend::process;
  CHECK_FALSE(condition_holds(overlapped, s));
  s.run.backend = model::Backend::inproc;
  CHECK(condition_holds(overlapped, s));
  // `show` writes it back and reads the same scenario.
  CHECK(same_scenario(parse_scenario(to_toml(s), "again.toml", "c"), s));
}

TEST_CASE("expectation conditions: bad ones name the file position and what is accepted", "[scenario][loader]") {
  const std::string head = "description = \"c\"\n[[build]]\nname = \"b\"\n[[build.step]]\nops = [{ op = \"hold\", ms = 1 }]\n";
  CHECK_THAT(error_of(head + "[expect.\"concurrency>=two\"]\n\"builds.failed\" = 0\n"),
             Contains("t.toml:6") && Contains("concurrency>=2"));
  CHECK_THAT(error_of(head + "[expect.\"isolation>shared\"]\n\"builds.failed\" = 0\n"), Contains("= or !="));
  CHECK_THAT(error_of(head + "[expect.\"colour=red\"]\n\"builds.failed\" = 0\n"), Contains("concurrency>=2"));
}

}  // namespace cachestress::scenario

namespace cachestress::scenario {

TEST_CASE("expectation conditions joined by && must all hold, and show writes them back", "[scenario][loader]") {
  const std::string text = R"(description = "c"
[[build]]
name = "b"
[[build.step]]
mount = [{ target = "/c", id = "c", sharing = "locked" }]
ops = [{ op = "write", file = "f" }]
[expect."concurrency>=2 && lock_kind=fcntl"]
"locks.waited" = ">0"
)";
  auto s = parse_scenario(text, "c.toml", "c");
  REQUIRE(s.expectations.size() == 1);
  const auto& e = s.expectations[0];
  REQUIRE(e.when.size() == 2);
  CHECK(model::condition_text(e) == "concurrency>=2 && lock_kind=fcntl");
  s.run.concurrency = 4;
  s.run.lock_kind = model::LockKind::fcntl;
  CHECK(condition_holds(e, s));
  s.run.lock_kind = model::LockKind::flock;
  CHECK_FALSE(condition_holds(e, s));
  s.run.lock_kind = model::LockKind::fcntl;
  s.run.concurrency = 1;
  CHECK_FALSE(condition_holds(e, s));
  // The round trip through `show` keeps both conditions.
  const auto again = parse_scenario(to_toml(s), "again.toml", "c");
  REQUIRE(again.expectations.size() == 1);
  CHECK(again.expectations[0].when == e.when);

  const std::string head = "description = \"c\"\n[[build]]\nname = \"b\"\n[[build.step]]\nops = [{ op = \"hold\", ms = 1 }]\n";
  CHECK_THAT(error_of(head + "[expect.\"concurrency>=2 && \"]\n\"builds.failed\" = 0\n"), Contains("joined by &&"));
  CHECK_THAT(error_of(head + "[expect.\"concurrency>=2 && colour=red\"]\n\"builds.failed\" = 0\n"), Contains("concurrency>=2"));
}

}  // namespace cachestress::scenario

namespace cachestress::scenario {

TEST_CASE("[command] teardown is read, validated like setup, and written back by show", "[scenario][loader]") {
  const std::string head = R"(description = "t"
[run]
backend = "command"
[command]
per = "build"
run = "true"
setup = ["sh", "-c", "echo up > {workdir}/d", "setup"]
)";
  const std::string tail = "[[build]]\nname = \"b\"\n";
  auto s = parse_scenario(head + "teardown = \"sh -c 'rm {realworkdir}/d'\"\n" + tail, "t.toml", "t");
  REQUIRE(s.command);
  CHECK(s.command->teardown == std::vector<std::string>{"sh", "-c", "rm {realworkdir}/d"});
  const std::string text = to_toml(s);
  CHECK_THAT(text, Contains("teardown = [\"sh\", \"-c\", \"rm {realworkdir}/d\"]\n"));
  CHECK(same_scenario(parse_scenario(text, "again.toml", "t"), s));
  auto changed = s;
  changed.command->teardown.back() += " ";
  CHECK_FALSE(same_scenario(s, changed));
  changed.command->teardown.clear();
  CHECK_FALSE(same_scenario(s, changed));
  CHECK_THAT(to_toml(changed), !Contains("teardown"));
  // Errors name file, line, column and field, as setup's do.
  CHECK_THAT(error_of(head + "teardown = \"echo {biuld}\"\n" + tail),
             StartsWith("t.toml:8:12: command.teardown: unknown placeholder {biuld}"));
  CHECK_THAT(error_of(head + "teardown = \"echo 'open\"\n" + tail), StartsWith("t.toml:8:12: command.teardown: cannot split into words"));
  CHECK_THAT(error_of(head + "teardown = 3\n" + tail), StartsWith("t.toml:8:12: command.teardown:"));
}

}  // namespace cachestress::scenario
