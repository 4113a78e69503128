// The run settings table: one range and one meaning per setting, whichever way it is given.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

#include "engine/core/error.hpp"
#include "engine/scenario/loader.hpp"
#include "engine/scenario/run_settings.hpp"

namespace cachestress::scenario {
namespace {

std::string file_with(const std::string& run_lines) {
  return "description = \"d\"\n[run]\n" + run_lines +
         "\n[[build]]\nname = \"a\"\n[[build.step]]\nmount = { target = \"/c\", sharing = \"locked\" }\n"
         "ops = [ { op = \"write\", file = \"x\" } ]\n";
}

std::string error_of(auto&& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

// A value of the row other than the default, as flag text and as a TOML value.
std::pair<std::string, std::string> other_value(const RunSetting& s) {
  switch (s.type) {
    case SettingType::integer: {
      const std::string v = std::to_string(s.max);
      return {v, v};
    }
    case SettingType::number: return {"0.125", "0.125"};
    case SettingType::duration: return {"1500ms", "1.5"};
    case SettingType::choice: break;
  }
  if (s.key == "semantics") return {"buildkit", "\"buildkit\""};
  if (s.key == "sharing") return {"private", ""};
  if (s.key == "isolation") return {"per-group:3", "\"per-group:3\""};
  if (s.key == "backend") return {"fake", "\"fake\""};
  if (s.key == "arrival") return {"ramp", "\"ramp\""};
  if (s.key == "lock_kind") return {"flock", "\"flock\""};
  if (s.key == "env_policy") return {"drop", "\"drop\""};
  FAIL("no test value for " << s.key);
  return {};
}

// Lines that keep cross-field rules satisfied whatever one setting is set to.
std::string companions(const RunSetting& s) {
  if (s.key == "arrival") return "ramp = 1\n";
  if (s.key == "builds") return "duration = 1\n";
  return "";
}

}  // namespace

TEST_CASE("every run setting is read the same from a flag, a sweep value and a file key", "[scenario][settings]") {
  for (const auto& setting : run_settings()) {
    const auto [text, toml] = other_value(setting);
    INFO(setting.key << " = " << text);
    const model::Scenario base = parse_scenario(file_with(companions(setting)), "t.toml", "t");

    model::Scenario by_flag = base;
    apply_text(by_flag, setting, text, Origin::flag);
    CHECK_FALSE(setting.get(by_flag) == setting.get(base));  // the value is not the default
    if (setting.sweepable) {
      model::Scenario by_sweep = base;
      apply_setting(by_sweep, setting.key, text);
      CHECK(same_scenario(by_sweep, by_flag));
    }
    if (setting.in_run_section) {
      const auto by_file = parse_scenario(file_with(companions(setting) + std::string(setting.key) + " = " + toml), "t.toml", "t");
      CHECK(same_scenario(by_file, by_flag));
      // `show` writes it, and the file it writes reads back the same.
      CHECK(same_scenario(parse_scenario(to_toml(by_flag), "again.toml", "t"), by_flag));
      // Equality sees the difference.
      CHECK_FALSE(same_scenario(by_flag, base));
    }
    // Its canonical text reads back to the same value.
    model::Scenario again = base;
    apply_text(again, setting, value_text(setting, *setting.get(by_flag)), Origin::flag);
    CHECK(setting.get(again) == setting.get(by_flag));
  }
}

TEST_CASE("a numeric setting's limits are the same as a flag and as a file key", "[scenario][settings]") {
  for (const auto& setting : run_settings()) {
    if (setting.type == SettingType::choice) continue;
    const bool integer = setting.type == SettingType::integer;
    const std::string key(setting.key);
    const std::string max = integer ? std::to_string(setting.max) : format_double(setting.max_number);
    const std::string over = integer ? std::to_string(setting.max + 1) : format_double(setting.max_number * 2);
    INFO(key << ": max " << max << ", over " << over);
    const auto flag = [&](const std::string& text) {
      return error_of([&] {
        model::Scenario s = parse_scenario(file_with(companions(setting)), "t.toml", "t");
        apply_text(s, setting, text, Origin::flag);
      });
    };
    const auto file = [&](const std::string& value) {
      return error_of([&] { parse_scenario(file_with(companions(setting) + key + " = " + value), "t.toml", "t"); });
    };
    const auto toml_number = [](const std::string& v) { return v.find_first_of(".e") == std::string::npos ? v + ".0" : v; };
    CHECK(flag(max) == "<no error>");
    CHECK(file(integer ? max : toml_number(max)) == "<no error>");
    CHECK_THAT(flag(over), Catch::StartsWith(std::string(setting.flag) + ": ") && Catch::Contains(max));
    for (const char* special : {"nan", "inf", "-1"}) {
      CHECK_THAT(flag(special), Catch::StartsWith(std::string(setting.flag) + ": "));
      CHECK_THAT(file(special == std::string("-1") ? "-1" : special), Catch::StartsWith("t.toml:") && Catch::Contains(": run." + key + ": expected"));
    }
    if (integer && setting.max >= static_cast<std::uint64_t>(INT64_MAX)) continue;  // TOML has no larger integer
    CHECK_THAT(file(integer ? over : toml_number(over)), Catch::Contains(": run." + key + ": expected") && Catch::Contains(".." + max + " "));
    if (integer && setting.min > 0) {
      CHECK_THAT(flag(std::to_string(setting.min - 1)), Catch::Contains("must be between " + std::to_string(setting.min)));
      CHECK_THAT(file(std::to_string(setting.min - 1)), Catch::Contains(std::to_string(setting.min) + ".." + max));
    }
  }
}

TEST_CASE("reproduce_args names every setting once and the sweep as a sweep", "[scenario][settings]") {
  model::Scenario s = parse_scenario(file_with("builds = 3\n[sweep]\nrepeat = 2\nconcurrency = [1, 2]"), "/abs/x.toml", "x");
  apply_text(s, *find_setting("env_policy"), "drop", Origin::flag);
  const auto args = reproduce_args(s, "/abs/x.toml", s.repeat);
  std::vector<std::string> expected_start{"--scenario", "/abs/x.toml", "--builds", "3"};
  REQUIRE(args.size() > 4);
  CHECK(std::vector<std::string>(args.begin(), args.begin() + 4) == expected_start);
  for (const auto& setting : run_settings()) {
    CHECK(std::count(args.begin(), args.end(), std::string(setting.flag)) == 1);
  }
  CHECK(std::find(args.begin(), args.end(), "concurrency=1,2") != args.end());
  CHECK(args[args.size() - 2] == "--repeat");
  CHECK(args.back() == "2");
  // Applied over the file's own scenario, the arguments give back the same scenario.
  model::Scenario back = parse_scenario(file_with("builds = 3\n[sweep]\nrepeat = 2\nconcurrency = [1, 2]"), "/abs/x.toml", "x");
  for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
    if (const auto* setting = [&]() -> const RunSetting* {
          for (const auto& row : run_settings()) {
            if (row.flag == args[i]) return &row;
          }
          return nullptr;
        }()) {
      apply_text(back, *setting, args[i + 1], Origin::flag);
    }
  }
  CHECK(same_scenario(back, s));
}

TEST_CASE("a [sweep] value is typed as its [run] key is: concurrency = [\"2\"] is refused in both", "[scenario][settings]") {
  // The sweep used to take any string and read it as flag text, so ["2"] ran where [run]
  // refused "2". Each sweepable key gets a value of a type its [run] key refuses; both say
  // the same after the field's name.
  for (const auto key : sweep_keys()) {
    const RunSetting& setting = *find_setting(key);
    const std::string wrong = setting.type == SettingType::choice     ? "2"
                              : setting.type == SettingType::duration ? "true"
                                                                      : "\"2\"";
    INFO(key << " = " << wrong);
    const std::string in_sweep =
        error_of([&] { parse_scenario(file_with("seed = 1\n[sweep]\n" + std::string(key) + " = [" + wrong + "]"), "t.toml", "t"); });
    const std::string sweep_field = "sweep." + std::string(key) + "[0]: ";
    REQUIRE(in_sweep.find(sweep_field) != std::string::npos);
    CHECK_THAT(in_sweep, Catch::Contains("(got "));
    if (!setting.in_run_section) continue;  // sharing is a mount's, not a [run] key
    const std::string in_run = error_of([&] { parse_scenario(file_with(std::string(key) + " = " + wrong), "t.toml", "t"); });
    const std::string run_field = "run." + std::string(key) + ": ";
    REQUIRE(in_run.find(run_field) != std::string::npos);
    CHECK(in_sweep.substr(in_sweep.find(sweep_field) + sweep_field.size()) == in_run.substr(in_run.find(run_field) + run_field.size()));
    CHECK(in_sweep.starts_with("t.toml:5:"));
  }
}

TEST_CASE("sweep values are kept as canonical text: 08 and 8 are one cell to compare", "[scenario][settings]") {
  // compare matches cells by their values' text: concurrency=08 against a base's 8 was "only
  // in new", and silently not compared.
  const model::Scenario base = parse_scenario(file_with("builds = 3"), "t.toml", "t");
  CHECK(parse_sweep_flag("concurrency=08,2", base).values == std::vector<std::string>{"8", "2"});
  CHECK(parse_sweep_flag("build_timeout=500ms,2", base).values == std::vector<std::string>{"0.5", "2"});
  CHECK(parse_sweep_flag("ramp=1.50", base).values == std::vector<std::string>{"1.5"});
  CHECK(parse_sweep_flag("sharing=locked,shared", base).values == std::vector<std::string>{"locked", "shared"});
  const auto file = parse_scenario(file_with("builds = 3\n[sweep]\nbuild_timeout = [\"1500ms\", 3.0]"), "t.toml", "t");
  REQUIRE(file.sweep.size() == 1);
  CHECK(file.sweep[0].values == std::vector<std::string>{"1.5", "3"});
}

TEST_CASE("a sweep value that repeats an earlier one is an input error, as a flag and in a file", "[scenario][settings]") {
  const model::Scenario base = parse_scenario(file_with("builds = 3"), "t.toml", "t");
  CHECK(error_of([&] { parse_sweep_flag("concurrency=1,2,1", base); }) ==
        "--sweep concurrency: 1 repeats an earlier value (each cell runs once; use --repeat for more)");
  CHECK(error_of([&] { parse_sweep_flag("ramp=1,1.0", base); }) ==
        "--sweep ramp: 1.0 repeats an earlier value (each cell runs once; use --repeat for more)");
  CHECK(error_of([&] { parse_sweep_flag("concurrency=1,2", base); }) == "<no error>");
  CHECK(error_of([&] { parse_scenario(file_with("builds = 3\n[sweep]\nconcurrency = [4, 2, 4]"), "t.toml", "t"); }) ==
        "t.toml:5:22: sweep.concurrency[2]: repeats an earlier value (each cell runs once; use repeat = K for more)");
}

}  // namespace cachestress::scenario
