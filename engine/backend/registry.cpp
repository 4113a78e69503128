#include "engine/backend/registry.hpp"

#include <string>

#include "engine/backend/command_backend.hpp"
#include "engine/backend/inproc_backend.hpp"
#include "engine/backend/process_backend.hpp"
#include "engine/core/error.hpp"

namespace cachestress::backend {
namespace {

template <typename T>
std::unique_ptr<Backend> make(Context& context) {
  return std::make_unique<T>(context);
}

struct Entry {
  model::Backend backend;
  Factory factory;
};

const Entry k_backends[] = {
    {model::Backend::inproc, make<InprocBackend>},
    {model::Backend::fake, make<FakeBackend>},
    {model::Backend::process, make<ProcessBackend>},
    {model::Backend::command, make<CommandBackend>},
};

}  // namespace

Factory factory_for(model::Backend backend) {
  for (const auto& entry : k_backends) {
    if (entry.backend == backend) return entry.factory;
  }
  throw InputError(std::string("backend ") + model::to_string(backend) + " is not available");
}

// A [command] step may have no operations and a kind no steps: only the command backend
// runs those; the other backends would run nothing and call it a pass.
void validate(const model::Scenario& s) {
  if (s.run.backend == model::Backend::command) {
    if (!s.command) throw InputError("backend command: scenario " + s.name + " has no [command] section (format: scenarios/README.md)");
    return;
  }
  for (const auto& kind : s.kinds) {
    if (kind.steps.empty()) {
      throw InputError("build " + kind.name + " has no steps: it runs only with backend command (--backend command)");
    }
    for (std::size_t i = 0; i < kind.steps.size(); ++i) {
      if (kind.steps[i].ops.empty()) {
        throw InputError("build " + kind.name + " step " + std::to_string(i) +
                         " has a command but no operations: it runs only with backend command (--backend command)");
      }
    }
  }
}

}  // namespace cachestress::backend
