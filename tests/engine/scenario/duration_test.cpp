// Durations of --build-timeout and run.build_timeout: "30", "30s", "500ms", "2m".
#include <catch2/catch.hpp>

#include "engine/core/error.hpp"
#include "engine/scenario/loader.hpp"
#include "engine/scenario/run_settings.hpp"

namespace cachestress::scenario {

TEST_CASE("durations: seconds by default, ms and m suffixes, bounds", "[scenario][settings]") {
  CHECK(parse_duration_ms("30", 86400) == 30000u);
  CHECK(parse_duration_ms("30s", 86400) == 30000u);
  CHECK(parse_duration_ms("1.5s", 86400) == 1500u);
  CHECK(parse_duration_ms("500ms", 86400) == 500u);
  CHECK(parse_duration_ms("2m", 86400) == 120000u);
  CHECK(parse_duration_ms("0", 86400) == 0u);
  CHECK(parse_duration_ms("86400s", 86400) == 86400000u);
  for (const char* bad : {"", "s", "ms", "-1", "-1s", "1h", "1 s", "nan", "inf", "86401", "1e9ms", "x"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration_ms(bad, 86400));
  }
}

TEST_CASE("env_policy and build_timeout are sweepable settings", "[scenario][settings]") {
  model::Scenario s;
  apply_setting(s, "env_policy", "drop");
  CHECK(s.run.env_policy == model::EnvPolicy::drop);
  apply_setting(s, "build_timeout", "250ms");
  CHECK(s.run.build_timeout_ms == 250u);
  apply_setting(s, "backend", "process");
  CHECK(s.run.backend == model::Backend::process);
  CHECK_THROWS_AS(apply_setting(s, "env_policy", "maybe"), InputError);
  CHECK_THROWS_AS(apply_setting(s, "build_timeout", "soon"), InputError);
}

TEST_CASE("run.build_timeout takes seconds or a duration string and round-trips", "[scenario][loader]") {
  const std::string head = "description = \"d\"\n[run]\nbackend = \"process\"\nenv_policy = \"drop\"\n";
  const std::string tail = "[[build]]\nname = \"a\"\n[[build.step]]\nops = [ { op = \"hold\", ms = 1 } ]\n";
  for (const auto& [value, ms] : std::vector<std::pair<std::string, std::uint32_t>>{{"2", 2000}, {"0.25", 250}, {"\"750ms\"", 750}}) {
    INFO(value);
    auto s = parse_scenario(head + "build_timeout = " + value + "\n" + tail, "t.toml", "t");
    CHECK(s.run.build_timeout_ms == ms);
    CHECK(s.run.env_policy == model::EnvPolicy::drop);
    auto again = parse_scenario(to_toml(s), "again.toml", "t");
    CHECK(again.run.build_timeout_ms == ms);
    CHECK(again.run.env_policy == model::EnvPolicy::drop);
    CHECK(again.run.backend == model::Backend::process);
  }
  CHECK_THROWS_AS(parse_scenario(head + "build_timeout = \"soon\"\n" + tail, "t.toml", "t"), InputError);
  CHECK_THROWS_AS(parse_scenario(head + "build_timeout = -1\n" + tail, "t.toml", "t"), InputError);
}

TEST_CASE("a timeout below its 1 ms resolution is refused, never rounded to 0 (off)", "[scenario][settings]") {
  // --lock-timeout 0.0004 was kept as 0 ms: "wait forever", and abba hung on its deadlock.
  CHECK_FALSE(parse_duration_ms("0.4ms", 86400));
  CHECK_FALSE(parse_duration_ms("0.0004", 86400));
  CHECK(parse_duration_ms("1ms", 86400) == 1u);
  model::Scenario s;
  for (const char* key : {"lock_timeout", "build_timeout"}) {
    INFO(key);
    CHECK_THROWS_WITH(apply_setting(s, key, "0.0004"), Catch::Contains("0 or 0.001..86400"));
    apply_setting(s, key, "0.001");
    apply_setting(s, key, "0");
  }
  const std::string head = "description = \"d\"\n[run]\nbackend = \"command\"\n";
  const std::string tail = "[command]\nrun = \"true\"\n[[build]]\nname = \"a\"\n";
  CHECK_THROWS_WITH(parse_scenario(head + "lock_timeout = 0.0004\n" + tail, "t.toml", "t"),
                    Catch::Contains("t.toml:4:16: run.lock_timeout:") && Catch::Contains("0 or 0.001..86400"));
  const std::string slow = "[command]\nrun = \"true\"\ntimeout = 0.0004\n[[build]]\nname = \"a\"\n";
  CHECK_THROWS_WITH(parse_scenario(head + slow, "t.toml", "t"), Catch::Contains("command.timeout") && Catch::Contains("0 or 0.001..86400"));
  CHECK(parse_scenario(head + "lock_timeout = 0.002\n" + tail, "t.toml", "t").run.lock_timeout_ms == 2u);
}

}  // namespace cachestress::scenario
