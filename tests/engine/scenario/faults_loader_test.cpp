// [faults] in scenario files: parsed with file:line field errors, printed back by show.
#include <catch2/catch.hpp>

#include <string>

#include "engine/core/error.hpp"
#include "engine/scenario/loader.hpp"

namespace cachestress::scenario {
namespace {

const std::string k_body = "[[build]]\nname = \"b\"\n[[build.step]]\nmount = { target = \"/c\", sharing = \"locked\" }\n"
                           "ops = [ { op = \"write\", file = \"f\" } ]\n";

model::Scenario parse(const std::string& faults) {
  return parse_scenario("description = \"d\"\n" + faults + k_body, "f.toml", "f");
}

}  // namespace

TEST_CASE("faults default to none and parse when given", "[scenario][faults]") {
  const auto none = parse("");
  CHECK_FALSE(none.faults.stale_lock);
  CHECK(none.faults.enospc_tmpfs_kb == 0);
  const auto both = parse("[faults]\nstale_lock = true\nenospc_tmpfs_kb = 512\n");
  CHECK(both.faults.stale_lock);
  CHECK(both.faults.enospc_tmpfs_kb == 512);
  CHECK(parse("[faults]\nenospc_tmpfs_kb = 0\n").faults.enospc_tmpfs_kb == 0);
}

TEST_CASE("bad faults name the file line and field", "[scenario][faults]") {
  CHECK_THROWS_WITH(parse("[faults]\nstale_lock = \"yes\"\n"), "f.toml:3:14: faults.stale_lock: expected true or false (got string)");
  CHECK_THROWS_WITH(parse("[faults]\nenospc_tmpfs_kb = 5\n"),
                    "f.toml:3:19: faults.enospc_tmpfs_kb: expected 0 (off) or KiB in 64..4194304 (got 5)");
  CHECK_THROWS_WITH(parse("[faults]\nenospc_tmpfs_kb = 1.5\n"),
                    Catch::StartsWith("f.toml:3:19: faults.enospc_tmpfs_kb: expected 0 (off) or KiB in 64..4194304 (got float)"));
  CHECK_THROWS_WITH(parse("[faults]\nkill = 1\n"), Catch::StartsWith("f.toml:3:1: faults.kill: unknown key (expected one of: stale_lock"));
  CHECK_THROWS_AS(parse("faults = 1\n"), InputError);
}

TEST_CASE("faults round-trip through show", "[scenario][faults]") {
  const auto s = parse("[faults]\nstale_lock = true\nenospc_tmpfs_kb = 1024\n");
  const std::string shown = to_toml(s);
  CHECK_THAT(shown, Catch::Contains("[faults]\nstale_lock = true\nenospc_tmpfs_kb = 1024\n"));
  const auto back = parse_scenario(shown, "shown.toml", "f");
  CHECK(same_scenario(s, back));
  CHECK_FALSE(same_scenario(s, parse("")));
}

}  // namespace cachestress::scenario
