#include "engine/worker/plan.hpp"

#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/worker/json_fields.hpp"

namespace cachestress::worker {
namespace {

constexpr std::uint64_t k_plan_version = 1;
constexpr const char* k_steps_source = "worker-plan";

// The steps as a one-kind scenario; run fields other than these two stay at their
// defaults so new RunConfig fields never have to travel to the worker. (The build's seed
// travels in the JSON: it is a full 64-bit value, the TOML seed is limited to 2^63-1.)
constexpr std::size_t k_max_cached_kinds = 256;

}  // namespace

std::string plan_steps(const Plan& plan) {
  model::Scenario s;
  s.name = k_steps_source;
  s.description = "plan of kind " + plan.kind.name;
  s.run.builds = 1;
  s.run.concurrency = 1;
  s.run.semantics = plan.semantics;
  s.run.lock_kind = plan.lock_kind;
  s.kinds.push_back(plan.kind);
  return scenario::to_toml(s);
}

Plan make_plan(const model::Scenario& scenario, std::uint32_t kind_index, std::uint64_t build, std::uint64_t seed,
               std::string workspace, std::string root) {
  Plan plan;
  plan.build = build;
  plan.kind_index = kind_index;
  plan.kind = scenario.kinds.at(kind_index);
  plan.semantics = scenario.run.semantics;
  plan.lock_kind = scenario.run.lock_kind;
  plan.workspace = std::move(workspace);
  plan.root = std::move(root);
  plan.seed = seed;
  return plan;
}

std::string encode_plan(const Plan& plan) { return encode_plan(plan, plan_steps(plan)); }

std::string encode_plan(const Plan& plan, std::string_view steps) {
  nlohmann::json j = {
      {"v", k_plan_version},
      {"build", plan.build},
      {"kind", plan.kind.name},
      {"kind_index", plan.kind_index},
      {"semantics", model::to_string(plan.semantics)},
      {"lock_kind", model::to_string(plan.lock_kind)},
      {"workspace", plan.workspace},
      {"root", plan.root},
      {"seed", plan.seed},
      {"steps", steps},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Plan decode_plan(std::string_view text, KindCache* kinds) {
  try {
    if (text.size() > k_max_plan_bytes) throw protocol::ProtocolError("larger than " + std::to_string(k_max_plan_bytes) + " bytes");
    FlatObject f(text);
    if (f.u64("v") != k_plan_version) throw protocol::ProtocolError("unsupported version (expected 1)");
    Plan plan;
    plan.build = f.u64("build");
    const std::string kind = f.text("kind");
    plan.kind_index = f.u32("kind_index");
    plan.semantics = f.choice("semantics", &model::parse_semantics);
    plan.lock_kind = f.choice("lock_kind", &model::parse_lock_kind);
    plan.workspace = f.text("workspace");
    plan.root = f.text("root");
    plan.seed = f.u64("seed");
    const std::string steps = f.text("steps");
    f.finish();
    if (plan.workspace.empty() || plan.workspace.front() != '/') throw protocol::ProtocolError("\"workspace\" must be an absolute path");
    if (kinds != nullptr) {
      if (auto seen = kinds->find(steps); seen != kinds->end() && seen->second.name == kind) {
        plan.kind = seen->second;
        return plan;
      }
    }
    model::Scenario s = scenario::parse_scenario(steps, k_steps_source, k_steps_source);
    if (s.kinds.size() != 1 || s.kinds.front().name != kind) {
      throw protocol::ProtocolError("\"steps\" must hold exactly the kind \"" + FlatObject::shorten(kind) + "\"");
    }
    plan.kind = std::move(s.kinds.front());
    if (kinds != nullptr) {
      if (kinds->size() >= k_max_cached_kinds) kinds->clear();
      kinds->emplace(steps, plan.kind);
    }
    return plan;
  } catch (const InputError& e) {
    throw protocol::ProtocolError(std::string("plan: steps: ") + e.what());
  } catch (const protocol::ProtocolError& e) {
    throw protocol::ProtocolError(std::string("plan: ") + e.what());
  }
}

}  // namespace cachestress::worker
