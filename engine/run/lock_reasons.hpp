#pragma once
// The wording of lock failures, one place for every backend: in-process builds, the
// process backend's parent (--lock-timeout) and its workers (the kernel's EDEADLK) name a
// failure alike, so failures.reasons and `compare` count it as one reason across backends.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace cachestress::run {

// Two caches a cycle of waiters took in opposite orders; either end of the cycle names the
// pair in the same (sorted) order.
inline std::string deadlock_text(std::string_view one_label, std::string_view other_label) {
  const auto [first, second] = std::minmax(one_label, other_label);
  return "deadlock: " + std::string(first) + " and " + std::string(second) + " are taken in opposite orders";
}

inline std::string lock_timeout_text(std::uint32_t timeout_ms, std::string_view label) {
  return "lock-timeout: waited more than " + std::to_string(timeout_ms) + " ms for " + std::string(label);
}

}  // namespace cachestress::run
