#pragma once
// The wording of build failures, one place for every backend: in-process builds, the
// process backend's parent (--lock-timeout) and its workers (the kernel's EDEADLK, a failed
// write) name a failure alike, so failures.reasons and `compare` count it as one reason.
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/failure.hpp"

namespace cachestress::ops {

// "enospc: write ENOSPC" / "io: read EACCES": the category first, so failures.* counts it.
inline std::string errno_failure(std::string_view what, int err) {
  const auto category = err == ENOSPC || err == EDQUOT ? model::FailureCategory::enospc : model::FailureCategory::io;
  return model::failure_reason(category, std::string(what) + " " + uv_err_name(uv_translate_sys_error(err)));
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
