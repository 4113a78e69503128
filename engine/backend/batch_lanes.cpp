#include "engine/backend/batch_lanes.hpp"

#include <csignal>

namespace cachestress::backend {

BatchLanes::BatchLanes(core::Loop& loop, unsigned lanes) : m_async(loop, [this] { deliver(); }) {
  m_async.unref();  // only outstanding jobs keep the loop alive (submit/deliver)
  if (lanes == 0) lanes = 1;
  for (unsigned i = 0; i < lanes; ++i) m_lanes.push_back(std::make_unique<Lane>());
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

void BatchLanes::submit(LaneJob* job) {
  // The lane with the fewest jobs not yet done: balanced, and an idle lane is preferred.
  std::size_t best = 0;
  for (std::size_t i = 1; i < m_lanes.size(); ++i) {
    if (m_lanes[i]->outstanding < m_lanes[best]->outstanding) best = i;
  }
  Lane& lane = *m_lanes[best];
  job->m_lane = best;
  ++lane.outstanding;
  if (m_outstanding++ == 0) m_async.ref();
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
    {
      std::lock_guard lock(self.mutex);
      self.finished.push_back(job);
    }
    m_async.send();
  }
}

void BatchLanes::deliver() {
  // Every lane's finished jobs are counted off before any done() runs, so the jobs done()
  // submits are balanced on what is really still queued or running.
  for (auto& lane : m_lanes) {
    std::lock_guard lock(lane->mutex);
    m_delivering.insert(m_delivering.end(), lane->finished.begin(), lane->finished.end());
    lane->finished.clear();
  }
  for (LaneJob* job : m_delivering) --m_lanes[job->m_lane]->outstanding;
  m_outstanding -= m_delivering.size();
  for (LaneJob* job : m_delivering) job->done();  // may submit() again, never deliver()
  m_delivering.clear();
  // uv_ref is a flag, not a count: the loop stays alive exactly while jobs are outstanding.
  if (m_outstanding == 0) {
    m_async.unref();
  } else {
    m_async.ref();
  }
}

}  // namespace cachestress::backend
