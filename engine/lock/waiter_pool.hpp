#pragma once
// Dedicated threads for blocking kernel lock waits, apart from the threads that run file
// operations (the in-process backend's lanes, libuv's threadpool).
//
// Why: a build blocked in F_OFD_SETLKW on a file-operation thread would pin it; as many
// waiting builds as there are such threads would stop all file I/O. Here, per cache key at
// most one or two in-process builds wait in the kernel (the per-key gate in
// engine/backend/mount_table mirrors Buildah's per-process mutex), so these threads are
// bounded by contended keys, not by waiting builds. Waits are interruptible:
// cancel() marks the job and signals its thread (EINTR), re-signalling until it returns.
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/core/loop.hpp"

namespace cachestress::lock {

class LockJob {
 public:
  virtual ~LockJob() = default;
  // Worker thread: may block in the kernel; must return soon after is_cancelled() turns true.
  virtual int run() = 0;
  // Loop thread: the result of run(), or -ECANCELED when cancelled before it started.
  virtual void done(int result) = 0;
  // Loop thread: run() called notice_held() (before done(), in the same or an earlier turn).
  virtual void held() {}
  // Loop thread: another thread called notice_started() on this job (a job queued for later
  // that a worker started in its pool's place, see StandbyChain); in order with held().
  virtual void started() {}
  bool is_cancelled() const noexcept { return m_cancelled.load(std::memory_order_acquire); }

 protected:
  // Worker thread, from run(): the lock is held and run() goes on with work under it (a
  // critical section in one hop); held() follows on the loop without waiting for done().
  void notice_held() noexcept;
  // Worker thread, from run(): queues a job the loop prepared and reserve()d, without a
  // round trip to the loop (a lock handed on to the next build of the same key).
  void hand_on(LockJob* next) noexcept;
  // Worker thread, from run(): nothing left that can block (the lock is let go), so this
  // thread will be back at the queue within microseconds; a job queued meanwhile waits for
  // it instead of waking a sleeping thread (no futex wake and context switch per handoff).
  void notice_finishing() noexcept;
  // Worker thread, from run(), for a chain of builds run back to back (a build staged behind
  // this one, handed on): its held notice and this job's result wait for the next notice
  // that wakes the loop, instead of waking it once per build. A result is deferred only
  // while this thread goes straight on to a queued job; the job that ends a chain, or one
  // about to block in the kernel (flush_notices), wakes the loop for all of them; the pool's
  // flush timer delivers them within a few milliseconds if neither comes.
  void notice_held_quietly() noexcept;
  // Worker thread, from run() of another job: started() follows on the loop, waking it
  // only if `wake` (else with the next notice that does, like notice_held_quietly).
  void notice_started(bool wake) noexcept;
  void defer_result() noexcept { m_defer_result = true; }
  void flush_notices() noexcept;

 private:
  friend class WaiterPool;
  bool m_defer_result = false;  // worker thread only, reset before each run()
  std::atomic<bool> m_cancelled{false};
  class WaiterPool* m_pool = nullptr;
};

class WaiterPool {
 public:
  WaiterPool(core::Loop& loop, unsigned threads);
  ~WaiterPool();
  WaiterPool(const WaiterPool&) = delete;
  WaiterPool& operator=(const WaiterPool&) = delete;

  // Loop thread. The job must stay alive until done() has been called.
  void submit(LockJob* job) {
    reserve(job);
    enqueue(job);
  }
  // Loop thread: submit() in two halves. reserve() counts the job as outstanding (done()
  // will follow); enqueue() (any thread, also LockJob::hand_on) gives it to a worker.
  void reserve(LockJob* job);
  void enqueue(LockJob* job);
  // Loop thread: a reserved job taken back before it was queued; no done() follows.
  void unreserve(LockJob* job);
  // Loop thread. Interrupts the job's wait; done() still follows (with its run() result).
  void cancel(LockJob* job);
  unsigned threads() const noexcept { return static_cast<unsigned>(m_workers.size()); }

 private:
  struct Worker {
    std::thread thread;
    pthread_t handle{};
    LockJob* running = nullptr;  // guarded by m_mutex
    bool finishing = false;      // own thread only: counted in m_finishing
  };
  void worker_main(Worker& self);
  friend class LockJob;
  enum class Notice : bool { held, started };
  void post(LockJob* job, Notice notice, bool wake);  // worker thread: queues held()/started()
  void deliver();  // loop thread: hands held notices to held(), finished jobs to done()
  void resignal(); // loop thread: re-interrupts cancelled jobs still running

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<LockJob*> m_queue;
  // Workers whose job can no longer block and that have not yet come back for the next one:
  // enqueue() wakes a sleeping thread only for jobs beyond what they will take.
  std::atomic<std::size_t> m_finishing{0};
  std::vector<std::pair<LockJob*, int>> m_finished;
  std::vector<std::pair<LockJob*, Notice>> m_held;
  std::vector<std::unique_ptr<Worker>> m_workers;
  bool m_stopping = false;
  std::size_t m_outstanding = 0;  // loop thread: submitted, not yet done()
  core::Async m_async;
  core::Timer m_resignal_timer;
  // While jobs are outstanding: delivers what threads posted quietly and whose wake-up has
  // not come (a chain of handoffs ends behind a lock held outside this process), so no
  // notice or result waits longer than k_flush_ms for the loop.
  core::Timer m_flush_timer;
};

}  // namespace cachestress::lock
