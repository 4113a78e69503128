// The kernel-lock job of an in-process build, run on a waiter thread (engine/lock/): it
// takes the real kernel lock and, for a one-hop step, runs the whole critical section; then
// it hands the lock on to the builds parked behind it (StandbyChain) and starts a staged
// build in its build's place, posting the notices the loop hears them by (InprocBackend).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "engine/backend/inproc_backend.hpp"
#include "engine/backend/inproc_build.hpp"
#include "engine/core/loop.hpp"
#include "engine/lock/kernel_lock.hpp"

namespace cachestress::backend {

using core::now_us;

int KernelLockJob::run() {
  waited_in_kernel = false;
  int fd = root->create_file(path, O_RDWR);
  if (fd < 0) {
    uncount_waiter();
    return fd;
  }
  int rc = lock::try_acquire(fd, kind);
  if (rc == -EAGAIN) {
    waited_in_kernel = true;
    // Deferred notices reach the loop before this thread may block a while; not when this
    // job was taken quietly from the standby chain: the loop is woken soon by whoever takes
    // the last parked builds, and by the waiter pool's flush timer at the latest.
    if (!quiet_wait.load(std::memory_order_relaxed)) flush_notices();
    do {
      rc = is_cancelled() ? -ECANCELED : lock::acquire_blocking(fd, kind);
    } while (rc == -EINTR);
  }
  uncount_waiter();
  if (rc < 0) {
    ::close(fd);
    return rc;
  }
  if (section == nullptr) return fd;
  // One hop: the whole critical section here, while the kernel lock is really held.
  section->acquired_us = now_us();
  // OFD and flock exclude per open file: the next build may block on the lock from now on,
  // unless one of ours already waits there (the holder before us handed it on as it let go).
  bool noticed = false;
  if (kind != model::LockKind::fcntl) {
    const bool notify = notify_held.load(std::memory_order_acquire);
    if (waiters() == 0) {
      noticed = hand_on_standby(notify);
    } else if (notify) {
      notice_held();
      noticed = true;
    }
  }
  section->entry = section->holders->enter(*section->instance_dir, section->self);
  section->ops_ran = !stop_after_lock.load(std::memory_order_acquire);
  if (section->ops_ran) ops::execute(*section->batch);
  section->holders->leave(*section->instance_dir, section->self.build);
  section->released_us = now_us();
  (void)lock::release(fd, kind);
  ::close(fd);
  notice_finishing();  // a job queued from here on waits for this thread, not a wake-up
  // A staged build starts in this one's place, then the oldest parked job goes now, run by
  // this very thread: fcntl locks belong to the process, so the gate excludes and it may go
  // only once let go; OFD and flock: the build that takes the lock from us may be running,
  // and the parked one blocks behind it on the real lock, as the one after it will behind
  // it. Not when our own held notice went out: the loop passes the gate from it.
  start_staged();
  if ((!noticed || handed_on.load(std::memory_order_relaxed)) && (kind == model::LockKind::fcntl || waiters() <= 1)) {
    hand_on_standby(false);
  }
  hand_on_successor();
  return 0;
}

// --concurrency above 1: this build is over but for the loop's accounting, so the oldest
// build the runner staged for this key starts now, in its place, and queues for the lock
// behind the builds that started before it. Its start notice goes out before this job's
// result, so the loop counts it started first; it wakes the loop only when few staged
// builds are left (the runner stages more), and then this job's result need not wake it
// either: the build that replaces it keeps --concurrency exact, heard or not.
void KernelLockJob::start_staged() {
  // Interrupted: no build starts after the signal; the loop takes the staged ones back.
  if (standby == nullptr || stop_after_lock.load(std::memory_order_acquire)) return;
  bool wake = true;
  const bool started = standby->start_next([&wake](KernelLockJob* next, std::size_t ahead, std::size_t staged_left) {
    next->mark_started(ahead);
    wake = staged_left < k_staged_low;
    next->notice_started(wake);
  });
  if (!started) return;
  started_next.store(true, std::memory_order_relaxed);
  if (!wake) defer_result();
}

// --concurrency 1: this build is over but for the loop's accounting, so the build staged
// behind it starts now, on this very thread, with no round trip through the loop. Its
// adopt notice goes out before this job's result, so the loop counts it started first.
void KernelLockJob::hand_on_successor() {
  // Interrupted: no build starts after the signal; the loop takes the staged ones back.
  if (stop_after_lock.load(std::memory_order_acquire)) return;
  KernelLockJob* next = successor.exchange(nullptr, std::memory_order_acq_rel);
  if (next == nullptr) return;
  next->taken_us = now_us();
  // The loop is woken for every few builds only, and whenever the chain is about to run
  // out of staged builds; the notices in between wait for that wake (see defer_result).
  const bool wake = next->wake_on_start || next->successor.load(std::memory_order_acquire) == nullptr;
  if (!wake) defer_result();
  hand_on_adopted(next, wake);
}

// A job this thread took (from the standby chain or a successor link) is about to be
// queued: its adopt notice goes first, so the loop makes that build the gate's owner before
// any result of its job can arrive.
void KernelLockJob::announce_adopted(KernelLockJob* next, bool wake) {
  next->count_waiter();
  next->adopt_notice.store(true, std::memory_order_relaxed);
  if (wake) {
    next->notice_held();
  } else {
    next->notice_held_quietly();
  }
}

void KernelLockJob::hand_on_adopted(KernelLockJob* next, bool wake) {
  announce_adopted(next, wake);
  hand_on(next);
}

// Takes the oldest started job parked for the key, if any, and queues it; its adopt notice
// goes out first (under the chain's mutex: notices in the order jobs were taken), so the
// loop makes it the gate's owner before any result of its job arrives. The notice wakes the
// loop only when few started builds are left parked (it parks more); otherwise it waits
// for a wake, and so may whatever this thread holds back when the taken job blocks in the
// kernel (quiet_wait): nothing there changes how many builds are in flight.
// Without one to take, `notify` posts this job's own held notice (the loop passes the gate).
// True when a notice went out.
bool KernelLockJob::hand_on_standby(bool notify) {
  KernelLockJob* next = standby == nullptr ? nullptr : standby->take([](KernelLockJob* taken, std::size_t started_left) {
    const bool wake = started_left < k_standby_low;
    taken->quiet_wait.store(!wake, std::memory_order_relaxed);
    announce_adopted(taken, wake);
  });
  if (next != nullptr) {
    handed_on.store(true, std::memory_order_relaxed);
    hand_on(next);
    return true;
  }
  if (notify) notice_held();
  return notify;
}

void KernelLockJob::count_waiter() {
  if (kernel_waiters == nullptr) return;
  counted.store(true, std::memory_order_relaxed);
  kernel_waiters->fetch_add(1, std::memory_order_acq_rel);
}

void KernelLockJob::uncount_waiter() {
  if (kernel_waiters != nullptr && counted.exchange(false, std::memory_order_acq_rel)) {
    kernel_waiters->fetch_sub(1, std::memory_order_acq_rel);
  }
}

void KernelLockJob::done(int result) {
  uncount_waiter();  // cancelled while queued: run() never did
  m_backend.on_kernel_lock(m_build, result);
}
void KernelLockJob::held() { m_backend.on_lock_held(m_build); }
void KernelLockJob::started() {
  if (m_build.phase == Phase::staged) m_backend.started_in_chain(m_build);  // else the loop took it first
}

}  // namespace cachestress::backend
