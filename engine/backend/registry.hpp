#pragma once
// Which Backend runs a scenario: one table, one line per backend (registry.cpp).
#include <memory>

#include "engine/backend/backend.hpp"

namespace cachestress::backend {

// The factory of a built-in backend (--backend inproc|fake|process|command).
Factory factory_for(model::Backend backend);

// Checks, before anything is created, that the scenario can run on its backend (a [command]
// section for command; operations in every step for the others). Throws InputError.
void validate(const model::Scenario& scenario);

}  // namespace cachestress::backend
