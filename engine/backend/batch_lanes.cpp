#include "engine/backend/batch_lanes.hpp"

#include <algorithm>
#include <csignal>

namespace cachestress::backend {

namespace {
// How long a deferred result (an end that started a staged job) may wait at most: the
// runner's interval figures and --duration see ends this late at the latest.
constexpr std::uint64_t k_flush_ms = 5;
}  // namespace

BatchLanes::BatchLanes(core::Loop& loop, unsigned lanes, std::size_t wake_below)
    : m_wake_below(wake_below), m_async(loop, [this] { deliver(); }), m_flush_timer(loop, [this] { deliver(); }) {
  m_async.unref();  // only outstanding jobs keep the loop alive (submit/deliver)
  m_flush_timer.unref();
  if (lanes == 0) lanes = 1;
  for (unsigned i = 0; i < lanes; ++i) {
    m_lanes.push_back(std::make_unique<Lane>());
    m_lanes.back()->index = i;
  }
  for (auto& lane : m_lanes) {
    Lane& self = *lane;
    lane->thread = std::thread([this, &self] {
      // Signals go to the loop thread, never to a lane.
      sigset_t mask;
      sigfillset(&mask);
      pthread_sigmask(SIG_SETMASK, &mask, nullptr);
      lane_main(self);
    });
  }
}

BatchLanes::~BatchLanes() {
  for (auto& lane : m_lanes) {
    {
      std::lock_guard lock(lane->mutex);
      lane->stopping = true;
    }
    lane->wake.notify_one();
  }
  for (auto& lane : m_lanes) lane->thread.join();
}

// The lane with the fewest jobs not yet done: balanced, and an idle lane is preferred.
std::size_t BatchLanes::emptiest_lane() const {
  std::size_t best = 0;
  for (std::size_t i = 1; i < m_lanes.size(); ++i) {
    if (m_lanes[i]->outstanding < m_lanes[best]->outstanding) best = i;
  }
  return best;
}

void BatchLanes::submit(LaneJob* job) {
  Lane& lane = *m_lanes[emptiest_lane()];
  job->m_lane = lane.index;
  job->m_replaced = false;
  ++lane.outstanding;
  if (m_outstanding++ == 0) m_async.ref();
  place(job, lane);
}

void BatchLanes::stage(LaneJob* job) {
  {
    std::lock_guard lock(m_staged_mutex);
    m_staged.push_back(job);
  }
  if (!m_flushing) m_flush_timer.start(k_flush_ms, k_flush_ms);
  m_flushing = true;
}

bool BatchLanes::take_back(LaneJob* job) {
  std::lock_guard lock(m_staged_mutex);
  auto it = std::find(m_staged.begin(), m_staged.end(), job);
  if (it == m_staged.end()) return false;
  m_staged.erase(it);
  return true;
}

// The oldest staged job starts now, to be queued on `lane` by the caller; `left`: how many
// are still staged. Started by a lane: the loop hears of it (m_started) before it can hear
// of its end.
LaneJob* BatchLanes::pop_staged(std::size_t lane, bool by_lane, std::size_t& left) {
  std::lock_guard lock(m_staged_mutex);
  left = 0;
  if (m_staged.empty()) return nullptr;
  LaneJob* next = m_staged.front();
  m_staged.pop_front();
  left = m_staged.size();
  next->m_started_us = core::now_us();
  next->m_lane = lane;
  next->m_replaced = false;
  if (by_lane) {
    m_started.push_back(next);
    ++m_started_by_lanes;
  }
  return next;
}

// Loop thread: the oldest staged job starts now (counted, and started() in this delivery).
bool BatchLanes::start_on_loop() {
  const std::size_t lane = emptiest_lane();
  std::size_t left = 0;
  LaneJob* next = pop_staged(lane, false, left);
  if (next == nullptr) return false;
  ++m_lanes[lane]->outstanding;  // before the next one picks its lane
  ++m_outstanding;
  m_starting.push_back(next);
  place(next, *m_lanes[lane]);
  return true;
}

bool BatchLanes::start_now() {
  if (!start_on_loop()) return false;
  LaneJob* job = m_starting.back();
  m_starting.pop_back();
  m_async.ref();
  job->started();
  return true;
}

std::uint64_t BatchLanes::started_by_lanes() const {
  std::lock_guard lock(m_staged_mutex);
  return m_started_by_lanes;
}

void BatchLanes::place(LaneJob* job, Lane& lane) {
  bool notify = false;
  {
    std::lock_guard lock(lane.mutex);
    lane.queue.push_back(job);
    notify = lane.idle;
  }
  if (notify) {
    lane.wake.notify_one();
  } else if (m_looking.load(std::memory_order_seq_cst) > 0) {
    poke_idle_lane(lane);  // queued behind a busy lane while another has nothing to do
  }
}

// A lane that announced it is looking either sees the job queued before it sleeps (it
// scans after announcing) or is poked here (the job was queued before the count was read).
void BatchLanes::poke_idle_lane(const Lane& busy) {
  for (auto& lane : m_lanes) {
    if (lane.get() == &busy || !lane->looking.load(std::memory_order_seq_cst)) continue;
    {
      std::lock_guard lock(lane->mutex);
      lane->poked = true;
    }
    lane->wake.notify_one();
    return;
  }
}

LaneJob* BatchLanes::take_queued(Lane& self) {
  for (auto& other : m_lanes) {
    if (other.get() == &self) continue;
    std::lock_guard lock(other->mutex);
    if (!other->queue.empty()) {
      LaneJob* job = other->queue.front();
      other->queue.pop_front();
      return job;
    }
  }
  return nullptr;
}

void BatchLanes::lane_main(Lane& self) {
  while (true) {
    LaneJob* job = nullptr;
    {
      std::lock_guard lock(self.mutex);
      if (self.stopping) return;
      if (!self.queue.empty()) {
        job = self.queue.front();
        self.queue.pop_front();
      }
    }
    if (job == nullptr) job = take_queued(self);
    if (job == nullptr) {
      self.looking.store(true, std::memory_order_seq_cst);
      m_looking.fetch_add(1, std::memory_order_seq_cst);
      job = take_queued(self);  // again, now that submit() can see this lane looking
      if (job == nullptr) {
        std::unique_lock lock(self.mutex);
        self.idle = true;
        self.wake.wait(lock, [&] { return self.stopping || self.poked || !self.queue.empty(); });
        self.idle = false;
        self.poked = false;
      }
      m_looking.fetch_sub(1, std::memory_order_seq_cst);
      self.looking.store(false, std::memory_order_seq_cst);
      if (job == nullptr) continue;
    }
    job->run();
    job->m_ended_us = core::now_us();
    job->m_ended_on = self.index;
    job->m_end_seq = ++self.ended;
    // Its build is over: a staged one starts in its place, next on this lane.
    LaneJob* next = nullptr;
    bool wake = true;
    if (job->ends_build && job->may_start_next()) {
      std::size_t left = 0;
      next = pop_staged(self.index, true, left);
      job->m_replaced = next != nullptr;
      if (next != nullptr) wake = left < m_wake_below;
    }
    bool behind = false;
    {
      std::lock_guard lock(self.mutex);
      if (next != nullptr) {
        behind = !self.queue.empty();
        self.queue.push_back(next);
      }
      self.finished.push_back(job);
    }
    // Queued behind others here while a lane has nothing to do: it takes one, so the builds
    // a lane starts do not pile up on it while others sleep.
    if (behind && m_looking.load(std::memory_order_seq_cst) > 0) poke_idle_lane(self);
    if (wake) m_async.send();
  }
}

void BatchLanes::deliver() {
  // Finished jobs first, then the starts: a job is started (m_started) before it can run,
  // so every start of a job heard to finish here is heard here too.
  for (auto& lane : m_lanes) {
    std::lock_guard lock(lane->mutex);
    m_delivering.insert(m_delivering.end(), lane->finished.begin(), lane->finished.end());
    lane->finished.clear();
  }
  {
    std::lock_guard lock(m_staged_mutex);
    m_starting.swap(m_started);
  }
  // Counted before any done() runs, so the jobs done() submits are balanced on what is
  // really still queued or running.
  for (LaneJob* job : m_starting) ++m_lanes[job->m_lane]->outstanding;
  m_outstanding += m_starting.size();
  // An end no lane replaced (nothing was staged then, or it was stopped): a job staged
  // since starts in its place now, before done() tells the runner of the end.
  for (LaneJob* job : m_delivering) {
    if (job->ends_build && !job->m_replaced && job->may_start_next() && !start_on_loop()) break;
  }
  for (LaneJob* job : m_delivering) --m_lanes[job->m_lane]->outstanding;
  m_outstanding -= m_delivering.size();
  // Gathered lane by lane; done() in the order the jobs ended (a deferred delivery holds
  // many), so what the loop records (a removal before a read that missed it) keeps time order.
  // Equal times keep the gathered order (by lane, then by the lane's own order). std::sort,
  // not std::stable_sort: that one allocates a buffer per call, and a request of 1 KiB or
  // more (128 jobs) makes malloc consolidate its bins first (5% of the loop's time).
  std::sort(m_delivering.begin(), m_delivering.end(), [](const LaneJob* a, const LaneJob* b) {
    if (a->m_ended_us != b->m_ended_us) return a->m_ended_us < b->m_ended_us;
    if (a->m_ended_on != b->m_ended_on) return a->m_ended_on < b->m_ended_on;
    return a->m_end_seq < b->m_end_seq;
  });
  for (LaneJob* job : m_starting) job->started();  // the runner hears of starts before ends
  m_starting.clear();
  for (LaneJob* job : m_delivering) job->done();  // may submit() or stage() again, never deliver()
  m_delivering.clear();
  // uv_ref is a flag, not a count: the loop stays alive exactly while jobs are outstanding.
  if (m_outstanding > 0) {
    m_async.ref();
    return;
  }
  m_async.unref();
  if (m_flushing) m_flush_timer.stop();
  m_flushing = false;
}

}  // namespace cachestress::backend
