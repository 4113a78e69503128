#include "engine/scenario/settings.hpp"

#include <charconv>
#include <cmath>
#include <string>

#include "engine/core/error.hpp"

namespace cachestress::scenario {
namespace {

[[noreturn]] void bad(std::string_view key, const std::string& expected, std::string_view value) {
  throw InputError(std::string(key) + ": expected " + expected + " (got \"" + std::string(value) + "\")");
}

std::uint64_t unsigned_value(std::string_view key, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) {
    bad(key, "an integer in " + std::to_string(lo) + ".." + std::to_string(hi), text);
  }
  return v;
}

double seconds_value(std::string_view key, std::string_view text, double hi) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v) || v < 0 || v > hi) {
    bad(key, "a number in 0.." + std::to_string(static_cast<long>(hi)), text);
  }
  return v;
}

}  // namespace

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
  if (ms > max_s * 1000) return std::nullopt;
  return static_cast<std::uint32_t>(std::llround(ms));
}

namespace {

template <typename T>
T choice(std::string_view key, std::optional<T> parsed, const char* choices, std::string_view text) {
  if (!parsed) bad(key, std::string("one of ") + choices, text);
  return *parsed;
}

}  // namespace

const std::vector<std::string_view>& sweep_keys() {
  static const std::vector<std::string_view> k_keys{"concurrency", "builds", "duration", "sharing", "isolation",
                                                    "semantics", "backend", "arrival", "rate", "ramp",
                                                    "lock_kind", "lock_timeout", "seed",
                                                    "env_policy", "build_timeout"};
  return k_keys;
}

void apply_setting(model::Scenario& s, std::string_view key, std::string_view value) {
  auto& run = s.run;
  if (key == "concurrency") {
    run.concurrency = static_cast<std::uint32_t>(unsigned_value(key, value, 1, model::k_max_concurrency));
  } else if (key == "builds") {
    run.builds = unsigned_value(key, value, 0, model::k_max_builds);
  } else if (key == "duration") {
    run.duration_s = seconds_value(key, value, 7 * 24 * 3600.0);
  } else if (key == "seed") {
    run.seed = unsigned_value(key, value, 0, std::uint64_t{1} << 62);
  } else if (key == "sharing") {
    const auto sharing = choice(key, model::parse_sharing(value), "shared, private, locked", value);
    for (auto& kind : s.kinds) {
      for (auto& step : kind.steps) {
        for (auto& mount : step.mounts) mount.sharing = sharing;
      }
    }
  } else if (key == "isolation") {
    run.isolation = choice(key, model::parse_isolation(value), "per-build, shared, per-group:K", value);
  } else if (key == "semantics") {
    run.semantics = choice(key, model::parse_semantics(value), "buildah, buildah-1.28, buildkit", value);
  } else if (key == "backend") {
    run.backend = choice(key, model::parse_backend(value), k_backend_choices, value);
  } else if (key == "arrival") {
    run.arrival = choice(key, model::parse_arrival(value), "together, ramp, poisson", value);
  } else if (key == "rate") {
    run.rate_per_s = seconds_value(key, value, 1e6);
  } else if (key == "ramp") {
    run.ramp_s = seconds_value(key, value, 7 * 24 * 3600.0);
  } else if (key == "lock_kind") {
    run.lock_kind = choice(key, model::parse_lock_kind(value), "ofd, fcntl, flock", value);
  } else if (key == "lock_timeout") {
    run.lock_timeout_ms = static_cast<std::uint32_t>(std::llround(seconds_value(key, value, 86400) * 1000));
  } else if (key == "env_policy") {
    run.env_policy = choice(key, model::parse_env_policy(value), "propagate, drop", value);
  } else if (key == "build_timeout") {
    const auto ms = parse_duration_ms(value, k_max_build_timeout_s);
    if (!ms) bad(key, k_duration_help, value);
    run.build_timeout_ms = *ms;
  } else {
    std::string keys;
    for (auto k : sweep_keys()) keys += (keys.empty() ? "" : ", ") + std::string(k);
    throw InputError("unknown setting \"" + std::string(key) + "\" (expected one of " + keys + ")");
  }
}

model::SweepAxis parse_sweep_flag(std::string_view text, const model::Scenario& scenario) {
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
    model::Scenario probe = scenario;
    try {
      apply_setting(probe, axis.key, value);
    } catch (const InputError& e) {
      throw InputError(std::string("--sweep ") + e.what());
    }
  }
  return axis;
}

}  // namespace cachestress::scenario
