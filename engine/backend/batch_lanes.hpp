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
// holds up work another thread could do. A finished job wakes the loop at once
// (uv_async_send), as libuv's does, with one exception:
//
// Staged jobs (stage()): a build whose one batch is its whole work (ends_build) ends when
// that batch does, and the lane that ran it starts the oldest staged job in its place then,
// stamping its start, without a round trip through the loop: one build in, one build out, by
// the lanes' own clocks. Such an end wakes the loop only once fewer than `wake_below` staged
// jobs are left (the runner then stages more) or none was there to start; until then its
// result waits, delivered with the next wake or by a 5 ms flush timer at the latest. An end
// no lane replaced, the loop replaces as it delivers it; start_now() starts one on the
// loop's word (a slot the runner found free).
// bench/ratios.sh (shared row) and bench/step_bench (in_flight) measure the difference.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
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
  // The loop thread: a staged job was started (at started_us()), before its done().
  virtual void started() {}
  // A lane, after run() of an ends_build job: whether a staged job may start in its place
  // (not when the build was stopped).
  virtual bool may_start_next() const { return true; }
  // Set by the loop before submit() or stage(): its build ends when run() returns, so a
  // staged job may start in its place.
  bool ends_build = false;
  std::uint64_t started_us() const noexcept { return m_started_us; }

 private:
  friend class BatchLanes;
  std::size_t m_lane = 0;          // where it was queued (loop thread's balance count)
  std::uint64_t m_started_us = 0;  // staged: when a lane (or the loop) started it
  std::uint64_t m_ended_us = 0;    // when run() returned (lane)
  std::size_t m_ended_on = 0;      // the lane that ran it (may differ from m_lane: taken by another)
  std::uint64_t m_end_seq = 0;     // the how-manyth job that lane finished (orders equal m_ended_us)
  bool m_replaced = false;         // ends_build: a lane started a staged job in its place
};

class BatchLanes {
 public:
  // `wake_below`: an end that starts a staged job wakes the loop once fewer are left
  // (by default every end wakes it).
  BatchLanes(core::Loop& loop, unsigned lanes, std::size_t wake_below = std::numeric_limits<std::size_t>::max());
  // Queued jobs that never ran get no done(); a running one finishes first. The loop is kept
  // alive while jobs are outstanding, so this happens only when a run is torn down.
  ~BatchLanes();
  BatchLanes(const BatchLanes&) = delete;
  BatchLanes& operator=(const BatchLanes&) = delete;

  // Loop thread. The job must stay alive until done() has been called.
  void submit(LaneJob* job);
  // Loop thread: the job waits until an ends_build job finishes; then it starts in that one's
  // place (started() on the loop, later done()). Jobs are started first in, first out.
  void stage(LaneJob* job);
  // Loop thread: a staged job no lane has started yet is taken back (true); false: it runs.
  bool take_back(LaneJob* job);
  // Loop thread: the oldest staged job starts now, on the loop's word (a slot is free and no
  // build in flight will end to start it); started() is called before this returns. False:
  // none is staged.
  bool start_now();
  // Staged jobs the lanes themselves started (the rest the loop started, none being left
  // in flight to do it).
  std::uint64_t started_by_lanes() const;
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
    std::uint64_t ended = 0;          // lane thread: jobs it finished (LaneJob::m_end_seq)
    std::size_t outstanding = 0;      // loop thread: queued here, done() not yet called
    std::size_t index = 0;
    std::thread thread;
  };
  void lane_main(Lane& self);
  LaneJob* take_queued(Lane& self);  // another lane's oldest job, if any
  void poke_idle_lane(const Lane& busy);
  std::size_t emptiest_lane() const;  // loop thread
  void place(LaneJob* job, Lane& lane);
  LaneJob* pop_staged(std::size_t lane, bool by_lane, std::size_t& left);
  bool start_on_loop();
  void deliver();  // loop thread

  std::vector<std::unique_ptr<Lane>> m_lanes;
  std::size_t m_outstanding = 0;  // loop thread
  std::vector<LaneJob*> m_delivering;
  std::vector<LaneJob*> m_starting;  // loop thread: started jobs being delivered
  std::atomic<unsigned> m_looking{0};  // lanes that found nothing to do and may sleep
  const std::size_t m_wake_below;
  mutable std::mutex m_staged_mutex;
  std::deque<LaneJob*> m_staged;   // guarded by m_staged_mutex: not started yet
  std::vector<LaneJob*> m_started;  // guarded by m_staged_mutex: started by a lane, the loop not told
  std::uint64_t m_started_by_lanes = 0;  // guarded by m_staged_mutex
  core::Async m_async;
  core::Timer m_flush_timer;  // delivers deferred results while jobs are staged
  bool m_flushing = false;    // loop thread: m_flush_timer runs
};

}  // namespace cachestress::backend
