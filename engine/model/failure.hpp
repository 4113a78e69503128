#pragma once
// Why a build failed, as one enum with one spelling. A failure reason is text that starts
// with its category's spelling ("io: write EACCES", "deadlock: cycle ..."), so it can cross a
// process boundary (the worker protocol) and group in reports; it is made with
// failure_reason() and read back with failure_category_of(), nowhere by hand.
#include <string>
#include <string_view>

namespace cachestress::model {

enum class FailureCategory {
  deadlock,      // a cycle of locked caches (named by the wait graph or the kernel)
  lock_timeout,  // --lock-timeout gave up on a wait that was not a cycle
  lock_busy,     // a trylock operation found the lock held
  enospc,        // the filesystem ran out of space (or quota)
  rejected,      // the semantics profile refuses the mount (Buildah's private)
  io,            // an operation failed with an unexpected errno
  signal,        // killed by a signal
  exit,          // command backend: a non-zero exit status
  timeout,       // --build-timeout
  check,         // command backend: an output check failed
  spawn,         // command backend: the command could not be started
  resources,     // the machine ran out of descriptors, processes or memory: its limit, not the cache's
  protocol,      // a worker broke the event protocol, or its plan was refused
  other,         // anything else (the detail says what)
};

// "io", "lock-timeout", ...: the prefix of a reason.
const char* to_string(FailureCategory category);
// "category: detail".
std::string failure_reason(FailureCategory category, std::string_view detail);
// The category a reason starts with; other when it starts with none.
FailureCategory failure_category_of(std::string_view reason);

}  // namespace cachestress::model
