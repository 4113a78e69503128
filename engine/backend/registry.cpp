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
  std::vector<std::string> not_measured;
};

// The fake backend touches no file: no bytes, no content to judge (its lock_overlap is the
// engine's own holder check, still measured), no I/O error, no rename. The process
// backend's workers report grants, not the mount table's overlap, and no rename race; the
// command backend sees only exit codes, output checks and timings.
const Entry k_backends[] = {
    {model::Backend::inproc, make<InprocBackend>, {"worker_start_us"}},
    {model::Backend::fake, make<FakeBackend>,
     {"worker_start_us", "bytes.written", "bytes.read", "bytes_per_s", "collisions.total", "collisions.foreign",
      "collisions.missing", "collisions.torn", "errors.io", "races.rename"}},
    {model::Backend::process, make<ProcessBackend>, {"cache.mounts_overlapped", "races.rename"}},
    {model::Backend::command, make<CommandBackend>,
     {"ops.completed", "bytes.written", "bytes.read", "bytes_per_s", "locks.acquired", "locks.waited", "collisions.missing",
      "collisions.torn", "collisions.lock_overlap", "cache.instances_created", "cache.mounts_overlapped", "errors.io",
      "races.rename", "locks.holder_deaths", "lock_wait_us", "lock_hold_us", "worker_start_us", "lock_fairness",
      // A command's failure is its exit, signal, timeout, check or spawn: nothing classifies
      // it as a deadlock, a lock timeout, lack of space, a rejected mount or an I/O error.
      "failures.deadlock", "failures.lock_timeout", "failures.lock_busy", "failures.enospc", "failures.rejected", "failures.io"}},
};

}  // namespace

Factory factory_for(model::Backend backend) {
  for (const auto& entry : k_backends) {
    if (entry.backend == backend) return entry.factory;
  }
  throw InputError(std::string("backend ") + model::to_string(backend) + " is not available");
}

const std::vector<std::string>& not_measured(model::Backend backend) {
  for (const auto& entry : k_backends) {
    if (entry.backend == backend) return entry.not_measured;
  }
  static const std::vector<std::string> k_none;
  return k_none;
}

std::vector<std::string> ignored_settings(const model::Scenario& s) {
  std::vector<std::string> ignored;
  const bool spawns = s.run.backend == model::Backend::process || s.run.backend == model::Backend::command;
  if (s.run.build_timeout_ms > 0 && !spawns) {
    ignored.push_back(std::string("build_timeout (--build-timeout) is not applied by backend ") + model::to_string(s.run.backend) +
                      ": only the process and command backends stop a build that runs too long");
  }
  return ignored;
}

// A [command] step may have no operations and a kind no steps: only the command backend
// runs those; the other backends would run nothing and call it a pass.
void validate(const model::Scenario& s) {
  if (s.run.backend == model::Backend::command) {
    if (!s.command) throw InputError("backend command: scenario " + s.name + " has no [command] section (format: scenarios/README.md)");
    return;
  }
  // Named with its file: the backend may come from the file's [run] or from a flag.
  const std::string where = s.source + ": ";
  const std::string only_command = ": only backend command runs it ([run] backend = \"command\" or --backend command; backend is " +
                                   std::string(model::to_string(s.run.backend)) + ")";
  for (const auto& kind : s.kinds) {
    if (kind.steps.empty()) throw InputError(where + "build " + kind.name + " has no steps" + only_command);
    for (std::size_t i = 0; i < kind.steps.size(); ++i) {
      if (kind.steps[i].ops.empty()) {
        throw InputError(where + "build " + kind.name + " step " + std::to_string(i) + " has a command but no operations" + only_command);
      }
    }
  }
}

}  // namespace cachestress::backend
