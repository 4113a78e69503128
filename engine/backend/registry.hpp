#pragma once
// Which Backend runs a scenario: one table, one line per backend (registry.cpp).
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"

namespace cachestress::backend {

// The factory of a built-in backend (--backend inproc|fake|process|command).
Factory factory_for(model::Backend backend);

// Checks, before anything is created, that the scenario can run on its backend (a [command]
// section for command; operations in every step for the others). Throws InputError.
void validate(const model::Scenario& scenario);

// Summary fields (a full path, or a group such as "lock_wait_us" for all its statistics)
// this backend never measures: reports say "not measured" and expectations on them are
// skipped, never judged as 0 (results/README.md "Not measured").
const std::vector<std::string>& not_measured(model::Backend backend);

// What the scenario sets that its backend does not apply (a build timeout in-process: its
// builds are the engine's own operations, not processes to stop), one sentence each; the
// run goes on without it.
std::vector<std::string> ignored_settings(const model::Scenario& scenario);

}  // namespace cachestress::backend
