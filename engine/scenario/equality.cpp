// same_scenario: structural equality of what two scenarios do (not where they came from).
#include "engine/scenario/loader.hpp"

#include <algorithm>

#include "engine/scenario/run_settings.hpp"
#include "engine/scenario/scenario_text.hpp"

namespace cachestress::scenario {
namespace {

bool same_check(const model::OutputCheck& a, const model::OutputCheck& b) {
  return a.kind == b.kind && a.step == b.step && a.stream == b.stream && a.substring == b.substring && a.regex == b.regex &&
         a.own_token == b.own_token && a.foreign == b.foreign;
}

bool same_command(const std::optional<model::CommandSpec>& a, const std::optional<model::CommandSpec>& b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return a->per == b->per && a->run == b->run && a->setup == b->setup && a->teardown == b->teardown && a->cwd == b->cwd && a->timeout_ms == b->timeout_ms &&
         a->env == b->env && std::equal(a->checks.begin(), a->checks.end(), b->checks.begin(), b->checks.end(), same_check) &&
         std::equal(a->signatures.begin(), a->signatures.end(), b->signatures.begin(), b->signatures.end(),
                    [](const auto& x, const auto& y) { return x.regex == y.regex && x.category == y.category; });
}

bool same_mount(const model::Mount& a, const model::Mount& b) {
  return a.target == b.target && a.id == b.id && a.uid == b.uid && a.gid == b.gid && a.sharing == b.sharing;
}

bool same_op(const model::Operation& a, const model::Operation& b) {
  return a.kind == b.kind && a.mount == b.mount && a.file == b.file && a.value == b.value && a.size == b.size &&
         a.chunk == b.chunk && a.expect == b.expect && a.hold_ms == b.hold_ms && a.jitter_ms == b.jitter_ms &&
         a.count == b.count;
}

bool same_step(const model::Step& a, const model::Step& b) {
  return a.gap_ms == b.gap_ms && a.command == b.command && std::equal(a.mounts.begin(), a.mounts.end(), b.mounts.begin(), b.mounts.end(), same_mount) &&
         std::equal(a.ops.begin(), a.ops.end(), b.ops.begin(), b.ops.end(), same_op);
}

bool same_kind(const model::BuildKind& a, const model::BuildKind& b) {
  return a.name == b.name && a.weight == b.weight &&
         std::equal(a.steps.begin(), a.steps.end(), b.steps.begin(), b.steps.end(), same_step);
}

}  // namespace

bool same_scenario(const model::Scenario& a, const model::Scenario& b) {
  if (a.description != b.description || !same_run_settings(a, b) || !same_command(a.command, b.command)) return false;
  if (a.faults.stale_lock != b.faults.stale_lock || a.faults.enospc_tmpfs_kb != b.faults.enospc_tmpfs_kb ||
      a.faults.kill_lock_holder_ms != b.faults.kill_lock_holder_ms) return false;
  if (a.repeat != b.repeat || !std::equal(a.sweep.begin(), a.sweep.end(), b.sweep.begin(), b.sweep.end(),
                                          [](const auto& x, const auto& y) { return x.key == y.key && x.values == y.values; })) {
    return false;
  }
  if (!std::equal(a.kinds.begin(), a.kinds.end(), b.kinds.begin(), b.kinds.end(), same_kind)) return false;
  const auto ea = sorted_by_field(a.expectations);
  const auto eb = sorted_by_field(b.expectations);
  return std::equal(ea.begin(), ea.end(), eb.begin(), eb.end(), [](const auto& x, const auto& y) {
    return x.field == y.field && x.comparison == y.comparison && x.value == y.value && x.text == y.text &&
           x.when == y.when;
  });
}

}  // namespace cachestress::scenario
