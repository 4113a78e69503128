#include "engine/model/scenario.hpp"

#include <array>
#include <charconv>
#include <utility>

namespace cachestress::model {
namespace {

// Each enum's spellings, listed once; to_string and parse_* both read these tables.
template <typename E, std::size_t N>
using Names = std::array<std::pair<E, const char*>, N>;

constexpr Names<Sharing, 3> k_sharing{{{Sharing::shared, "shared"}, {Sharing::private_, "private"}, {Sharing::locked, "locked"}}};
constexpr Names<Semantics, 3> k_semantics{{{Semantics::buildah, "buildah"}, {Semantics::buildah_1_28, "buildah-1.28"}, {Semantics::buildkit, "buildkit"}}};
constexpr Names<IsolationKind, 4> k_isolation{{{IsolationKind::per_build, "per-build"},
                                               {IsolationKind::shared, "shared"},
                                               {IsolationKind::per_group, "per-group"},
                                               {IsolationKind::per_host, "per-host"}}};
constexpr Names<Backend, 4> k_backend{{{Backend::inproc, "inproc"}, {Backend::fake, "fake"}, {Backend::process, "process"}, {Backend::command, "command"}}};
constexpr Names<EnvPolicy, 2> k_env_policy{{{EnvPolicy::propagate, "propagate"}, {EnvPolicy::drop, "drop"}}};
constexpr Names<Arrival, 3> k_arrival{{{Arrival::together, "together"}, {Arrival::ramp, "ramp"}, {Arrival::poisson, "poisson"}}};
constexpr Names<LockKind, 3> k_lock_kind{{{LockKind::ofd, "ofd"}, {LockKind::fcntl, "fcntl"}, {LockKind::flock, "flock"}}};
constexpr Names<OpKind, 10> k_op_kind{{{OpKind::write, "write"}, {OpKind::read, "read"}, {OpKind::append, "append"},
                                        {OpKind::remove, "delete"}, {OpKind::list, "list"}, {OpKind::hold, "hold"},
                                        {OpKind::prune, "prune"}, {OpKind::reset, "reset"}, {OpKind::trylock, "trylock"},
                                        {OpKind::extract, "extract"}}};
constexpr Names<ReadExpect, 3> k_read_expect{{{ReadExpect::any, "any"}, {ReadExpect::own, "own"}, {ReadExpect::absent, "absent"}}};

template <typename E, std::size_t N>
const char* name_of(const Names<E, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> parse_in(const Names<E, N>& table, std::string_view text) {
  for (const auto& [e, name] : table) {
    if (text == name) return e;
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(Sharing v) { return name_of(k_sharing, v); }
const char* to_string(Semantics v) { return name_of(k_semantics, v); }
const char* to_string(IsolationKind v) { return name_of(k_isolation, v); }
const char* to_string(Backend v) { return name_of(k_backend, v); }
const char* to_string(EnvPolicy v) { return name_of(k_env_policy, v); }
const char* to_string(Arrival v) { return name_of(k_arrival, v); }
const char* to_string(LockKind v) { return name_of(k_lock_kind, v); }
const char* to_string(OpKind v) { return name_of(k_op_kind, v); }
const char* to_string(ReadExpect v) { return name_of(k_read_expect, v); }

std::string to_string(const Isolation& v) {
  if (v.kind == IsolationKind::per_group) return "per-group:" + std::to_string(v.groups);
  return to_string(v.kind);
}

std::optional<Sharing> parse_sharing(std::string_view t) { return parse_in(k_sharing, t); }
std::optional<Semantics> parse_semantics(std::string_view t) { return parse_in(k_semantics, t); }
std::optional<Backend> parse_backend(std::string_view t) { return parse_in(k_backend, t); }
std::optional<EnvPolicy> parse_env_policy(std::string_view t) { return parse_in(k_env_policy, t); }
std::optional<Arrival> parse_arrival(std::string_view t) { return parse_in(k_arrival, t); }
std::optional<LockKind> parse_lock_kind(std::string_view t) { return parse_in(k_lock_kind, t); }
std::optional<OpKind> parse_op_kind(std::string_view t) { return parse_in(k_op_kind, t); }
std::optional<ReadExpect> parse_read_expect(std::string_view t) { return parse_in(k_read_expect, t); }

std::optional<Isolation> parse_isolation(std::string_view text) {
  constexpr std::string_view k_group_prefix = "per-group:";
  if (text.starts_with(k_group_prefix)) {
    auto digits = text.substr(k_group_prefix.size());
    std::uint32_t groups = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), groups);
    if (ec != std::errc{} || end != digits.data() + digits.size() || groups == 0 || groups > k_max_groups) {
      return std::nullopt;
    }
    return Isolation{IsolationKind::per_group, groups};
  }
  auto kind = parse_in(k_isolation, text);
  if (!kind || *kind == IsolationKind::per_group) return std::nullopt;
  return Isolation{*kind, 1};
}

std::string common_sharing(const Scenario& scenario) {
  std::string mode;
  for (const auto& kind : scenario.kinds) {
    for (const auto& step : kind.steps) {
      for (const auto& mount : step.mounts) {
        const std::string this_mode = to_string(mount.sharing);
        if (mode.empty()) mode = this_mode;
        if (mode != this_mode) return "mixed";
      }
    }
  }
  return mode.empty() ? "none" : mode;
}

bool is_condition_key(std::string_view key) {
  return key == "sharing" || key == "isolation" || key == "semantics" || key == "backend" || key == "arrival" || key == "lock_kind" ||
         key == "env_policy";
}

std::optional<std::string> condition_value(std::string_view key, const Scenario& scenario) {
  const RunConfig& run = scenario.run;
  if (key == "sharing") return common_sharing(scenario);
  if (key == "isolation") return to_string(run.isolation);
  if (key == "semantics") return std::string(to_string(run.semantics));
  if (key == "backend") return std::string(to_string(run.backend));
  if (key == "arrival") return std::string(to_string(run.arrival));
  if (key == "lock_kind") return std::string(to_string(run.lock_kind));
  if (key == "env_policy") return std::string(to_string(run.env_policy));
  return std::nullopt;
}

bool applies(const Condition& condition, const Scenario& scenario) {
  const RunConfig& run = scenario.run;
  auto actual = condition_value(condition.key, scenario);
  if (!actual) return false;
  // "per-group" covers every per-group:K.
  const bool equal = *actual == condition.value ||
                     (condition.key == "isolation" && condition.value == "per-group" && run.isolation.kind == IsolationKind::per_group);
  return condition.comparison == Comparison::ne ? !equal : equal;
}

std::string sweep_values_text(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string text;
  for (const auto& [key, value] : values) text += (text.empty() ? "" : " ") + key + "=" + value;
  return text;
}

std::string condition_text(const Condition& condition) {
  const std::string op = condition.comparison == Comparison::eq ? "=" : to_string(condition.comparison);
  return condition.key + op + condition.value;
}

std::string condition_text(const Expectation& expectation) {
  std::string text;
  for (const auto& condition : expectation.when) text += (text.empty() ? "" : " && ") + condition_text(condition);
  return text;
}

const char* to_string(Comparison v) {
  switch (v) {
    case Comparison::eq: return "==";
    case Comparison::ne: return "!=";
    case Comparison::lt: return "<";
    case Comparison::le: return "<=";
    case Comparison::gt: return ">";
    case Comparison::ge: return ">=";
  }
  return "==";
}

}  // namespace cachestress::model
