#pragma once
// The plan of one process-backend build: everything a `cachestress worker` needs, written by
// the parent to the child's stdin as one JSON object, then EOF. The kind's steps travel as
// scenario TOML (scenario::to_toml / parse_scenario: already round-trip tested, and the
// loader validates ids and file names again in the child). Field reference:
// engine/worker/README.md.
//
// Deliberately absent: the cache root the worker uses. It comes from the child's TMPDIR, as
// Buildah's does, so a lost TMPDIR (--env-policy drop) really leaks through the environment.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/model/scenario.hpp"
#include "engine/scenario/loader.hpp"

namespace cachestress::worker {

// A plan is one kind's steps plus a few fields: bounded by the scenario size limit.
inline constexpr std::size_t k_max_plan_bytes = scenario::k_max_scenario_bytes + 64 * 1024;

struct Plan {
  std::uint64_t build = 0;
  std::uint32_t kind_index = 0;       // index into the parent's scenario kinds (reports)
  model::BuildKind kind;              // name, weight and steps of the build's kind
  model::Semantics semantics = model::Semantics::buildah;
  model::LockKind lock_kind = model::LockKind::ofd;
  std::string workspace;              // absolute path of the workspace root
  std::string root;                   // the cache root the parent meant, relative to the workspace
  std::uint64_t seed = 0;             // this build's own seed (hold jitter)
};

// The plan for build `build` of kind `kind_index` of a resolved scenario (semantics and
// lock kind are taken from scenario.run).
Plan make_plan(const model::Scenario& scenario, std::uint32_t kind_index, std::uint64_t build, std::uint64_t seed,
               std::string workspace, std::string root);

std::string encode_plan(const Plan& plan);
// The plan's "steps" field (the kind, semantics and lock kind as scenario TOML): the same for
// every build of a kind, so a runner may encode it once and pass it to encode_plan.
std::string plan_steps(const Plan& plan);
std::string encode_plan(const Plan& plan, std::string_view steps);

// Kinds already parsed from their "steps" text (a long-lived fork server parses each once;
// the builds it forks find theirs here).
using KindCache = std::unordered_map<std::string, model::BuildKind>;

// Throws protocol::ProtocolError ("plan: ...") on anything but a complete, valid plan.
// kinds: consulted and filled when given (the same checks run on a first sight).
Plan decode_plan(std::string_view text, KindCache* kinds = nullptr);

}  // namespace cachestress::worker
