#pragma once
// Whole-file kernel locks of the three kinds a cache user can take: exclusive, and shared
// (read) for users that may be many at once but keep an exclusive one out.
// fcntl record locks belong to the process (threads of one process never conflict), so
// in-process builds contend in the kernel through OFD locks or flock, which belong to the
// open file description; builds in separate processes contend on any of the three.
#include <string_view>

#include "engine/model/scenario.hpp"

namespace cachestress::lock {

// Blocks until the lock is held. 0, -EINTR when a signal interrupted the wait, or -errno.
[[nodiscard]] int acquire_blocking(int fd, model::LockKind kind) noexcept;
// Never blocks. 0, -EAGAIN when another holder has it, or -errno.
[[nodiscard]] int try_acquire(int fd, model::LockKind kind) noexcept;
// Never blocks. A shared (read) lock: any number of holders, none while an exclusive one
// is held. 0, -EAGAIN when an exclusive holder has it, or -errno.
[[nodiscard]] int try_acquire_shared(int fd, model::LockKind kind) noexcept;
// Never blocks. 0 or -errno.
int release(int fd, model::LockKind kind) noexcept;

}  // namespace cachestress::lock
