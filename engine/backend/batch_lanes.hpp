#pragma once
// The threads that run in-process builds' op batches (instead of libuv's threadpool).
//
// Why not uv_queue_work: its one queue and one mutex are shared by every thread and the
// loop. A shared-cache build is ~20 µs of syscalls, and on a 2-CPU host the threads then
// spend as long again blocked on that mutex and woken through futexes (perf: a quarter of
// all context switches were lock waits on it). Here each lane has its own queue, mutex and
// list of finished jobs, shared only with the loop. A job goes to the lane with the fewest
// jobs not yet done; a lane whose queue is empty takes the oldest job of another lane, and
// a job queued behind a busy lane wakes an idle one to take it, so one slow batch never
// holds up work another thread could do. Every finished job wakes the loop at once
// (uv_async_send), as libuv's does: the runner hears of each end when it happens.
// bench/ratios.sh (shared row) and bench/step_bench (in_flight) measure the difference.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/core/loop.hpp"

namespace cachestress::backend {

class LaneJob {
 public:
  virtual ~LaneJob() = default;
  virtual void run() = 0;   // a lane thread; must not block for long (file operations only)
  virtual void done() = 0;  // the loop thread, after run()

 private:
  friend class BatchLanes;
  std::size_t m_lane = 0;  // where it was queued (loop thread's balance count)
};

class BatchLanes {
 public:
  BatchLanes(core::Loop& loop, unsigned lanes);
  // Queued jobs that never ran get no done(); a running one finishes first. The loop is kept
  // alive while jobs are outstanding, so this happens only when a run is torn down.
  ~BatchLanes();
  BatchLanes(const BatchLanes&) = delete;
  BatchLanes& operator=(const BatchLanes&) = delete;

  // Loop thread. The job must stay alive until done() has been called.
  void submit(LaneJob* job);
  unsigned lanes() const noexcept { return static_cast<unsigned>(m_lanes.size()); }

 private:
  struct Lane {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<LaneJob*> queue;       // guarded by mutex
    std::vector<LaneJob*> finished;   // guarded by mutex: run, done() not yet called
    bool idle = false;                // guarded by mutex: asleep, submit() must notify
    bool poked = false;               // guarded by mutex: work queued elsewhere, look again
    bool stopping = false;            // guarded by mutex
    std::atomic<bool> looking{false}; // found nothing to do: may be poked (poke_idle_lane)
    std::size_t outstanding = 0;      // loop thread: queued here, done() not yet called
    std::thread thread;
  };
  void lane_main(Lane& self);
  LaneJob* take_queued(Lane& self);  // another lane's oldest job, if any
  void poke_idle_lane(const Lane& busy);
  void deliver();  // loop thread

  std::vector<std::unique_ptr<Lane>> m_lanes;
  std::size_t m_outstanding = 0;  // loop thread
  std::vector<LaneJob*> m_delivering;
  std::atomic<unsigned> m_looking{0};  // lanes that found nothing to do and may sleep
  core::Async m_async;
};

}  // namespace cachestress::backend
