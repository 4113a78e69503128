#include "engine/scenario/run_settings.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

#include "engine/core/error.hpp"

namespace cachestress::scenario {
namespace {

using model::RunConfig;
using model::Scenario;

// Accessors the rows point at: a RunConfig field read and written as the row's type.
template <auto Field>
std::optional<SettingValue> get_integer(const Scenario& s) {
  return SettingValue{.integer = static_cast<std::uint64_t>(s.run.*Field)};
}
template <auto Field>
bool set_integer(Scenario& s, const SettingValue& v) {
  s.run.*Field = static_cast<std::remove_cvref_t<decltype(s.run.*Field)>>(v.integer);
  return true;
}
template <auto Field>
std::optional<SettingValue> get_number(const Scenario& s) {
  return SettingValue{.number = s.run.*Field};
}
template <auto Field>
bool set_number(Scenario& s, const SettingValue& v) {
  s.run.*Field = v.number;
  return true;
}
// Seconds in the table, whole milliseconds in the model.
template <auto Field>
std::optional<SettingValue> get_ms(const Scenario& s) {
  return SettingValue{.number = s.run.*Field / 1000.0};
}
template <auto Field>
bool set_ms(Scenario& s, const SettingValue& v) {
  s.run.*Field = static_cast<std::uint32_t>(std::llround(v.number * 1000));
  return true;
}
template <auto Field>
std::optional<SettingValue> get_choice(const Scenario& s) {
  return SettingValue{.text = std::string(model::to_string(s.run.*Field))};
}
template <auto Field, auto Parse>
bool set_choice(Scenario& s, const SettingValue& v) {
  auto parsed = Parse(v.text);
  if (!parsed) return false;
  s.run.*Field = *parsed;
  return true;
}
// --sharing overrides every mount's sharing; a scenario has one value only when they agree.
std::optional<SettingValue> get_sharing(const Scenario& s) {
  const std::string common = model::common_sharing(s);
  if (!model::parse_sharing(common)) return std::nullopt;  // "mixed" or "none"
  return SettingValue{.text = common};
}
bool set_sharing(Scenario& s, const SettingValue& v) {
  auto sharing = model::parse_sharing(v.text);
  if (!sharing) return false;
  for (auto& kind : s.kinds) {
    for (auto& step : kind.steps) {
      for (auto& mount : step.mounts) mount.sharing = *sharing;
    }
  }
  return true;
}

constexpr double k_max_run_seconds = 7 * 24 * 3600.0;  // duration, ramp: a week
constexpr double k_max_timeout_s = 86400;              // lock_timeout, build_timeout: a day
constexpr double k_timeout_resolution_s = 0.001;        // kept in whole ms

// The run settings. Defaults are model::RunConfig's initializers.
const std::array k_settings{
    RunSetting{.key = "builds", .flag = "--builds", .type = SettingType::integer, .unit = "builds",
               .min = 0, .max = model::k_max_builds, .help = "number of builds to run (0: until --duration)",
               .get = get_integer<&RunConfig::builds>, .set = set_integer<&RunConfig::builds>},
    RunSetting{.key = "duration", .flag = "--duration", .type = SettingType::number, .unit = "s",
               .max_number = k_max_run_seconds, .help = "stop admitting builds after SECONDS (0: no limit)",
               .get = get_number<&RunConfig::duration_s>, .set = set_number<&RunConfig::duration_s>},
    RunSetting{.key = "concurrency", .flag = "--concurrency", .type = SettingType::integer, .unit = "builds",
               .min = 1, .max = model::k_max_concurrency, .help = "builds in flight at most",
               .get = get_integer<&RunConfig::concurrency>, .set = set_integer<&RunConfig::concurrency>},
    RunSetting{.key = "seed", .flag = "--seed", .type = SettingType::integer, .min = 0,
               .max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
               .help = "seed for build order, kinds and operation choices",
               .get = get_integer<&RunConfig::seed>, .set = set_integer<&RunConfig::seed>},
    RunSetting{.key = "semantics", .flag = "--semantics", .type = SettingType::choice,
               .choices = "buildah, buildah-1.28, buildkit", .help = "semantics profile",
               .get = get_choice<&RunConfig::semantics>, .set = set_choice<&RunConfig::semantics, &model::parse_semantics>},
    RunSetting{.key = "sharing", .flag = "--sharing", .type = SettingType::choice, .choices = "shared, private, locked",
               .help = "override every mount's sharing", .in_run_section = false, .get = get_sharing, .set = set_sharing},
    RunSetting{.key = "isolation", .flag = "--isolation", .type = SettingType::choice,
               .choices = "per-build, shared, per-group:K (K in 1..100000), per-host",
               .help = "cache roots (per-host: one root per host, the local-cache baseline of cachestress-mpi)",
               .get = get_choice<&RunConfig::isolation>, .set = set_choice<&RunConfig::isolation, &model::parse_isolation>},
    RunSetting{.key = "backend", .flag = "--backend", .type = SettingType::choice, .choices = "inproc, fake, process, command",
               .help = "how builds run: inproc (real files and locks) | process (a worker process per build) "
                       "| command (the scenario's [command], one process per build or step) | fake (no I/O, for tests)",
               .get = get_choice<&RunConfig::backend>, .set = set_choice<&RunConfig::backend, &model::parse_backend>},
    RunSetting{.key = "arrival", .flag = "--arrival", .type = SettingType::choice, .choices = "together, ramp, poisson",
               .help = "when builds arrive", .get = get_choice<&RunConfig::arrival>,
               .set = set_choice<&RunConfig::arrival, &model::parse_arrival>},
    RunSetting{.key = "rate", .flag = "--rate", .type = SettingType::number, .unit = "/s", .max_number = 1e6,
               .help = "poisson arrivals per second", .get = get_number<&RunConfig::rate_per_s>,
               .set = set_number<&RunConfig::rate_per_s>},
    RunSetting{.key = "ramp", .flag = "--ramp", .type = SettingType::number, .unit = "s", .max_number = k_max_run_seconds,
               .help = "ramp: spread the first wave over SECONDS", .get = get_number<&RunConfig::ramp_s>,
               .set = set_number<&RunConfig::ramp_s>},
    RunSetting{.key = "lock_kind", .flag = "--lock-kind", .type = SettingType::choice, .choices = "ofd, fcntl, flock",
               .help = "kernel lock for Buildah locked mounts", .get = get_choice<&RunConfig::lock_kind>,
               .set = set_choice<&RunConfig::lock_kind, &model::parse_lock_kind>},
    RunSetting{.key = "interval_ms", .flag = "--interval-ms", .type = SettingType::integer, .unit = "ms", .min = 10,
               .max = 3'600'000, .help = "per-interval sample period", .sweepable = false,
               .get = get_integer<&RunConfig::interval_ms>, .set = set_integer<&RunConfig::interval_ms>},
    RunSetting{.key = "lock_timeout", .flag = "--lock-timeout", .type = SettingType::number, .unit = "s",
               .max_number = k_max_timeout_s, .min_positive = k_timeout_resolution_s,
               .help = "a lock wait longer than SECONDS fails the build (deadlock or lock-timeout; 0: wait forever)",
               .get = get_ms<&RunConfig::lock_timeout_ms>, .set = set_ms<&RunConfig::lock_timeout_ms>},
    RunSetting{.key = "env_policy", .flag = "--env-policy", .type = SettingType::choice, .choices = "propagate, drop",
               .help = "propagate (each build's TMPDIR, its isolation's cache root, reaches the builder) "
                       "| drop (TMPDIR lost, as under podman --remote: every build uses one server root)",
               .get = get_choice<&RunConfig::env_policy>, .set = set_choice<&RunConfig::env_policy, &model::parse_env_policy>},
    RunSetting{.key = "build_timeout", .flag = "--build-timeout", .type = SettingType::duration, .unit = "s",
               .max_number = k_max_timeout_s, .min_positive = k_timeout_resolution_s,
               .help = "process and command backends: TERM, then KILL, a build running longer "
                       "(0: never; command: overrides [command] timeout)",
               .get = get_ms<&RunConfig::build_timeout_ms>, .set = set_ms<&RunConfig::build_timeout_ms>},
};

std::string quoted_text(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string number_range(const RunSetting& s) {
  return (s.min_positive > 0 ? "0 or " + format_double(s.min_positive) : std::string("0")) + ".." + format_double(s.max_number);
}

std::string duration_help(const RunSetting& s) {
  return "a duration in " + number_range(s) + " s such as 30, 30s, 500ms or 2m";
}

// What a value must be, as messages say it: "an integer in 1..100000".
std::string expected(const RunSetting& s) {
  switch (s.type) {
    case SettingType::integer: return "an integer in " + range_text(s);
    case SettingType::number: return std::string("a number") + (s.unit == "s" ? " of seconds" : "") + " in " + range_text(s);
    case SettingType::duration: return duration_help(s);
    case SettingType::choice: return "one of " + std::string(s.choices);
  }
  return "";
}

[[noreturn]] void bad_text(const RunSetting& s, Origin origin, const std::string& what) {
  const std::string name = origin == Origin::flag ? std::string(s.flag) : std::string(s.key);
  throw InputError(name + ": " + what);
}

// A parsed value outside the range: a flag says "must be", a sweep value "expected".
[[noreturn]] void out_of_range(const RunSetting& s, Origin origin, std::string_view text, const std::string& got) {
  if (origin == Origin::sweep) {
    bad_text(s, origin, "expected " + (s.type == SettingType::integer ? expected(s) : "a number in " + range_text(s)) +
                            " (got " + quoted_text(text) + ")");
  }
  const std::string lo = s.type == SettingType::integer ? std::to_string(s.min) : "0";
  const std::string hi = s.type == SettingType::integer ? std::to_string(s.max) : format_double(s.max_number);
  const std::string unit = s.unit == "s" ? " seconds" : s.unit == "ms" ? " ms" : "";
  if (s.type == SettingType::integer && s.min == 0) bad_text(s, origin, "must be at most " + hi + unit + " (got " + got + ")");
  if (s.min_positive > 0) {
    bad_text(s, origin, "must be 0 or between " + format_double(s.min_positive) + " and " + hi + unit + " (got " + got +
                            "; kept in whole ms, less would read as 0)");
  }
  bad_text(s, origin, "must be between " + lo + " and " + hi + unit + " (got " + got + ")");
}

bool in_number_range(const RunSetting& s, double x) {
  return std::isfinite(x) && (x == 0 || x >= s.min_positive) && x >= 0 && x <= s.max_number;
}

}  // namespace

std::span<const RunSetting> run_settings() { return k_settings; }

const RunSetting* find_setting(std::string_view key) {
  for (const auto& s : k_settings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

const std::vector<std::string_view>& sweep_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out;
    for (const auto& s : k_settings) {
      if (s.sweepable) out.push_back(s.key);
    }
    return out;
  }();
  return keys;
}

std::string format_double(double value) {
  std::array<char, 64> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (ec != std::errc{}) return "?";
  return std::string(buffer.data(), end);
}

std::string range_text(const RunSetting& s) {
  if (s.type == SettingType::integer) return std::to_string(s.min) + ".." + std::to_string(s.max);
  if (s.type == SettingType::choice) return std::string(s.choices);
  return number_range(s);
}

std::string flag_help(const RunSetting& s) {
  std::string text(s.help);
  if (s.type == SettingType::choice) {
    // Help that already spells out each choice ("a | b") needs no list after it.
    return text.find('|') != std::string::npos ? text : text + ": " + std::string(s.choices);
  }
  text += " (" + range_text(s);
  if (!s.unit.empty() && s.unit != "builds") text += s.unit == "/s" ? " per second" : " " + std::string(s.unit);
  if (s.type == SettingType::duration) text += "; 30s, 500ms, 2m";
  return text + ")";
}

std::optional<std::uint32_t> parse_duration_ms(std::string_view text, double max_s) {
  // "30" and "30s" are seconds, "500ms" milliseconds, "2m" minutes; fractions allowed.
  double scale = 1000;
  if (text.ends_with("ms")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60'000;
    text.remove_suffix(1);
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  const double ms = v * scale;
  if (ms > max_s * 1000 || (ms > 0 && ms < 1)) return std::nullopt;
  return static_cast<std::uint32_t>(std::llround(ms));
}

void apply_text(Scenario& scenario, const RunSetting& s, std::string_view text, Origin origin) {
  SettingValue value;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  switch (s.type) {
    case SettingType::integer: {
      auto [end, ec] = std::from_chars(first, last, value.integer);
      if (text.empty() || end != last || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
        bad_text(s, origin, "expected " + expected(s) + " (got " + quoted_text(text) + ")");
      }
      if (ec == std::errc::result_out_of_range || value.integer < s.min || value.integer > s.max) {
        out_of_range(s, origin, text, std::string(text));
      }
      break;
    }
    case SettingType::number: {
      auto [end, ec] = std::from_chars(first, last, value.number);
      if (text.empty() || end != last || (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
        bad_text(s, origin, "expected " + expected(s) + " (got " + quoted_text(text) + ")");
      }
      if (ec == std::errc::result_out_of_range || !in_number_range(s, value.number)) {
        out_of_range(s, origin, text, std::string(text));
      }
      break;
    }
    case SettingType::duration: {
      const auto ms = parse_duration_ms(text, s.max_number);
      if (!ms) bad_text(s, origin, "expected " + expected(s) + " (got " + quoted_text(text) + ")");
      value.number = *ms / 1000.0;
      break;
    }
    case SettingType::choice: value.text = std::string(text); break;
  }
  if (!s.set(scenario, value)) bad_text(s, origin, "expected " + expected(s) + " (got " + quoted_text(text) + ")");
}

std::optional<SettingValue> check_file_value(const RunSetting& s, const FileValue& v, std::string& error) {
  using Kind = FileValue::Kind;
  SettingValue value;
  switch (s.type) {
    case SettingType::integer:
      if (v.kind != Kind::integer) {
        error = "expected " + expected(s) + " (got " + v.type_name + ")";
        return std::nullopt;
      }
      if (v.integer < 0 || static_cast<std::uint64_t>(v.integer) < s.min || static_cast<std::uint64_t>(v.integer) > s.max) {
        error = "expected " + expected(s) + " (got " + std::to_string(v.integer) + ")";
        return std::nullopt;
      }
      value.integer = static_cast<std::uint64_t>(v.integer);
      return value;
    case SettingType::duration:
      if (v.kind == Kind::string) {
        const auto ms = parse_duration_ms(v.string, s.max_number);
        if (!ms) {
          error = "expected " + duration_help(s) + " (got " + v.shown + ")";
          return std::nullopt;
        }
        value.number = *ms / 1000.0;
        return value;
      }
      [[fallthrough]];
    case SettingType::number:
      if (v.kind == Kind::integer) {
        value.number = static_cast<double>(v.integer);
      } else if (v.kind == Kind::floating) {
        value.number = v.floating;
      } else {
        error = "expected " + (s.type == SettingType::duration ? duration_help(s) : expected(s)) + " (got " + v.type_name + ")";
        return std::nullopt;
      }
      if (!in_number_range(s, value.number)) {
        error = "expected a number in " + range_text(s) + " (got " + format_double(value.number) + ")";
        return std::nullopt;
      }
      return value;
    case SettingType::choice: {
      if (v.kind != Kind::string) {
        error = "expected " + expected(s) + " (got " + v.type_name + ")";
        return std::nullopt;
      }
      Scenario probe;
      value.text = v.string;
      if (!s.set(probe, value)) {
        error = "expected " + expected(s) + " (got " + v.shown + ")";
        return std::nullopt;
      }
      if (auto canonical = s.get(probe)) value = *canonical;  // the canonical spelling
      return value;
    }
  }
  return std::nullopt;
}

void check_joined_settings(const Scenario& s) {
  const auto& run = s.run;
  // Named as settings ([run] key, --flag or sweep value alike), since any of the three may set them.
  if (run.builds == 0 && run.duration_s <= 0) throw InputError("builds 0 (run until the duration) needs a duration > 0 (--duration)");
  if (run.arrival == model::Arrival::poisson && !(run.rate_per_s > 0)) throw InputError("arrival poisson needs a rate > 0 (--rate)");
  if (run.arrival == model::Arrival::ramp && !(run.ramp_s > 0)) throw InputError("arrival ramp needs a ramp > 0 (--ramp)");
  if (s.faults.kill_lock_holder_ms && run.backend != model::Backend::process) {
    throw InputError(s.source + ": faults.kill_lock_holder: needs backend process, it kills a build's process ([run] backend = "
                     "\"process\" or --backend process; backend is " + std::string(model::to_string(run.backend)) + ")");
  }
}

std::string value_text(const RunSetting& s, const SettingValue& value) {
  switch (s.type) {
    case SettingType::integer: return std::to_string(value.integer);
    case SettingType::number:
    case SettingType::duration: return format_double(value.number);
    case SettingType::choice: return value.text;
  }
  return "";
}

bool same_run_settings(const Scenario& a, const Scenario& b) {
  return std::all_of(k_settings.begin(), k_settings.end(),
                     [&](const RunSetting& s) { return !s.in_run_section || s.get(a) == s.get(b); });
}

std::vector<std::string> reproduce_args(const Scenario& resolved, std::string_view scenario_ref, std::uint32_t file_repeat) {
  std::vector<std::string> args{"--scenario", std::string(scenario_ref)};
  for (const auto& s : k_settings) {
    // Every setting with a single value; mixed sharing is the file's own and needs no flag.
    if (auto value = s.get(resolved)) {
      args.emplace_back(s.flag);
      args.push_back(value_text(s, *value));
    }
  }
  for (const auto& axis : resolved.sweep) {
    std::string values;
    for (const auto& v : axis.values) values += (values.empty() ? "" : ",") + v;
    args.emplace_back("--sweep");
    args.push_back(axis.key + "=" + values);
  }
  if (resolved.repeat != 1 || file_repeat != 1) {
    args.emplace_back("--repeat");
    args.push_back(std::to_string(resolved.repeat));
  }
  return args;
}

void apply_setting(Scenario& scenario, std::string_view key, std::string_view value) {
  const RunSetting* setting = find_setting(key);
  if (!setting || !setting->sweepable) {
    std::string keys;
    for (auto k : sweep_keys()) keys += (keys.empty() ? "" : ", ") + std::string(k);
    throw InputError("unknown setting \"" + std::string(key) + "\" (expected one of " + keys + ")");
  }
  apply_text(scenario, *setting, value, Origin::sweep);
}

std::optional<std::size_t> repeated_sweep_value(const model::SweepAxis& axis, const Scenario& scenario) {
  const RunSetting* setting = find_setting(axis.key);
  if (setting == nullptr || setting->get == nullptr) return std::nullopt;
  std::vector<std::optional<SettingValue>> seen;
  for (std::size_t i = 0; i < axis.values.size(); ++i) {
    Scenario probe = scenario;
    apply_setting(probe, axis.key, axis.values[i]);
    auto value = setting->get(probe);
    if (std::find(seen.begin(), seen.end(), value) != seen.end()) return i;
    seen.push_back(std::move(value));
  }
  return std::nullopt;
}

void canonical_sweep_values(model::SweepAxis& axis, const Scenario& scenario) {
  const RunSetting* setting = find_setting(axis.key);
  if (setting == nullptr || setting->get == nullptr) return;
  for (auto& value : axis.values) {
    Scenario probe = scenario;
    apply_setting(probe, axis.key, value);
    if (const auto parsed = setting->get(probe)) value = value_text(*setting, *parsed);
  }
}

model::SweepAxis parse_sweep_flag(std::string_view text, const Scenario& scenario) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    throw InputError("--sweep: expected KEY=V1,V2,... such as concurrency=1,2,4 (got \"" + std::string(text) + "\")");
  }
  model::SweepAxis axis;
  axis.key = std::string(text.substr(0, eq));
  std::string_view rest = text.substr(eq + 1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    axis.values.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  for (const auto& value : axis.values) {
    if (value.empty()) throw InputError("--sweep " + axis.key + ": empty value in \"" + std::string(text) + "\"");
    Scenario probe = scenario;
    try {
      apply_setting(probe, axis.key, value);
    } catch (const InputError& e) {
      throw InputError(std::string("--sweep ") + e.what());
    }
  }
  if (const auto repeated = repeated_sweep_value(axis, scenario)) {
    throw InputError("--sweep " + axis.key + ": " + axis.values[*repeated] + " repeats an earlier value (each cell runs once; use --repeat for more)");
  }
  canonical_sweep_values(axis, scenario);
  return axis;
}

namespace {

bool condition_holds(const model::Condition& condition, const model::Scenario& scenario) {
  if (model::is_condition_key(condition.key)) return model::applies(condition, scenario);
  const RunSetting* setting = find_setting(condition.key);
  if (setting == nullptr || setting->get == nullptr || setting->type == SettingType::choice) return false;
  const auto value = setting->get(scenario);
  if (!value) return false;
  const double actual = setting->type == SettingType::integer ? static_cast<double>(value->integer) : value->number;
  double bound = 0;
  const auto& text = condition.value;
  if (std::from_chars(text.data(), text.data() + text.size(), bound).ec != std::errc{}) return false;
  switch (condition.comparison) {
    case model::Comparison::eq: return actual == bound;
    case model::Comparison::ne: return actual != bound;
    case model::Comparison::lt: return actual < bound;
    case model::Comparison::le: return actual <= bound;
    case model::Comparison::gt: return actual > bound;
    case model::Comparison::ge: return actual >= bound;
  }
  return false;
}

}  // namespace

bool condition_holds(const model::Expectation& expectation, const model::Scenario& scenario) {
  return std::all_of(expectation.when.begin(), expectation.when.end(),
                     [&](const model::Condition& condition) { return condition_holds(condition, scenario); });
}

}  // namespace cachestress::scenario
