#pragma once
// The wording of build failures, one place for every backend: in-process builds, the
// process backend's parent (--lock-timeout) and its workers (the kernel's EDEADLK, a failed
// write) name a failure alike, so failures.reasons and `compare` count it as one reason.
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/failure.hpp"

namespace cachestress::ops {

// "EMFILE", "EDQUOT" (which libuv has no name for), or "errno 4242".
inline std::string errno_name(int err) {
  const char* name = ::strerrorname_np(err);
  return name != nullptr ? name : "errno " + std::to_string(err);
}

// "SIGTERM", or "signal 70" for one without a name.
inline std::string signal_name(int signum) {
  const char* abbrev = ::sigabbrev_np(signum);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signum);
}

// "timeout: still running after --build-timeout 30s, killed with SIGTERM": a build's process
// or command that ran past a timeout (`setting` names it), alike for every backend.
inline std::string timeout_text(std::string_view setting, std::uint32_t ms, int signum) {
  const std::string duration = ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
  return model::failure_reason(model::FailureCategory::timeout,
                               "still running after " + std::string(setting) + " " + duration + ", killed with " + signal_name(signum));
}

// An errno that says the machine ran out of something a build needs (descriptors, memory;
// processes when `spawning`, where EAGAIN is fork's RLIMIT_NPROC): a limit of the host, not
// of the cache, so the run is no verdict on the cache (failures.resources, exit 3).
inline bool out_of_resources(int err, bool spawning = false) {
  return err == EMFILE || err == ENFILE || err == ENOMEM || (spawning && err == EAGAIN);
}

// What to change for such an errno, with the limit in force: " (ulimit -n is 64: raise it
// or lower --concurrency)".
inline std::string resource_hint(int err) {
  const auto limit_text = [](int resource) {
    struct rlimit limit {};
    if (::getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::string("unlimited");
    return std::to_string(limit.rlim_cur);
  };
  switch (err) {
    case EMFILE: return " (ulimit -n is " + limit_text(RLIMIT_NOFILE) + ": raise it or lower --concurrency)";
    case ENFILE: return " (the system's open-file table is full: fs.file-max, or lower --concurrency)";
    case EAGAIN: return " (ulimit -u is " + limit_text(RLIMIT_NPROC) + ", or the system's pid limit: raise it or lower --concurrency)";
    default: return " (out of memory: lower --concurrency)";
  }
}

// "resources: cannot start worker: EMFILE: too many open files (ulimit -n is 64: ...)".
inline std::string resource_failure(std::string_view what, int err) {
  return model::failure_reason(model::FailureCategory::resources, std::string(what) + ": " + errno_name(err) + ": " +
                                                                     uv_strerror(uv_translate_sys_error(err)) + resource_hint(err));
}

// "enospc: write ENOSPC" / "io: read EACCES" / "resources: open EMFILE (...)": the category
// first, so failures.* counts it.
inline std::string errno_failure(std::string_view what, int err) {
  const std::string text = std::string(what) + " " + errno_name(err);
  if (out_of_resources(err)) return model::failure_reason(model::FailureCategory::resources, text + resource_hint(err));
  const auto category = err == ENOSPC || err == EDQUOT ? model::FailureCategory::enospc : model::FailureCategory::io;
  return model::failure_reason(category, text);
}

// Two caches a cycle of waiters took in opposite orders; either end of the cycle names the
// pair in the same (sorted) order.
inline std::string deadlock_text(std::string_view one_label, std::string_view other_label) {
  const auto [first, second] = std::minmax(one_label, other_label);
  return model::failure_reason(model::FailureCategory::deadlock,
                               std::string(first) + " and " + std::string(second) + " are taken in opposite orders");
}

// A cycle of three or more caches: each waits for the next, the last for the first. Named
// from its smallest label so every member of the cycle names it alike:
// "deadlock: cycle id=cache-a -> id=cache-b -> id=cache-c -> id=cache-a".
inline std::string deadlock_cycle_text(std::vector<std::string> labels) {
  if (labels.size() == 2) return deadlock_text(labels[0], labels[1]);
  std::rotate(labels.begin(), std::min_element(labels.begin(), labels.end()), labels.end());
  std::string text = "cycle";
  for (const auto& label : labels) text += " " + label + " ->";
  return model::failure_reason(model::FailureCategory::deadlock, text + " " + labels.front());
}

inline std::string lock_timeout_text(std::uint32_t timeout_ms, std::string_view label) {
  return model::failure_reason(model::FailureCategory::lock_timeout,
                               "waited more than " + std::to_string(timeout_ms) + " ms for " + std::string(label));
}

}  // namespace cachestress::ops
