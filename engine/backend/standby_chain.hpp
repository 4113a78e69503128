#pragma once
// The builds waiting behind a Buildah locked cache's gate that waiter threads may move on
// without the loop (CacheState::standby), in the order they take the lock:
//
//   [ started, waiting for the lock ... | staged, not started yet ... ]
//
// The loop parks prepared builds that already started at the boundary (they queue behind
// those already parked) and stages builds the runner admitted ahead at the tail. A waiter
// thread takes the oldest started one when the lock allows (take), and a thread whose build
// just ended starts the oldest staged one in its place (start_next), so --concurrency stays
// exact without a round trip through the loop. The loop takes one back when it times out or
// is interrupted. The mutex is held for a few instructions, by the loop and the key's few
// waiter threads.
#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>

namespace cachestress::backend {

template <typename Job>
class StandbyChain {
 public:
  // Loop thread: a started build joins the queue (behind the started ones, before the staged).
  void park_started(Job* job) {
    std::lock_guard lock(m_mutex);
    m_jobs.insert(m_jobs.begin() + static_cast<std::ptrdiff_t>(m_started), job);
    ++m_started;
    publish();
  }

  // Loop thread: a build admitted ahead, to be started when a build of the key ends.
  void stage(Job* job) {
    std::lock_guard lock(m_mutex);
    m_jobs.push_back(job);
    publish();
  }

  // Any thread: takes the oldest started job (null when none), calling
  // `on_take(job, started_left)` under the chain's mutex, so notices about jobs of the chain
  // are posted in the order the jobs were taken.
  // Counted as taken and not yet adopted until the loop calls adopted() for it.
  template <typename OnTake>
  Job* take(OnTake&& on_take) {
    if (m_started_count.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard lock(m_mutex);
    if (m_started == 0) return nullptr;
    Job* job = pop_started();
    ++m_unadopted;
    on_take(job, m_started);
    return job;
  }

  // Loop thread: the adopt notice of a job a thread took has been heard.
  void adopted() {
    std::lock_guard lock(m_mutex);
    --m_unadopted;
  }

  // Loop thread: takes the oldest started job itself, unless a thread took one whose adopt
  // notice is still on the way (that build, once adopted, hands the next on; taking one
  // here too would queue a third build for the lock). Not counted as unadopted.
  Job* take_unless_pending() {
    std::lock_guard lock(m_mutex);
    if (m_started == 0 || m_unadopted != 0) return nullptr;
    return pop_started();
  }

  // Any thread, as a build of the key ends: starts the oldest staged job, calling
  // `on_start(job, started_ahead, staged_left)` under the chain's mutex (before any thread
  // can take it, so its start notice is posted before its adopt notice). False when none.
  template <typename OnStart>
  bool start_next(OnStart&& on_start) {
    if (m_staged_count.load(std::memory_order_acquire) == 0) return false;
    std::lock_guard lock(m_mutex);
    if (m_jobs.size() == m_started) return false;
    Job* job = m_jobs[m_started];
    const std::size_t ahead = m_started++;
    publish();
    on_start(job, ahead, m_jobs.size() - m_started);
    return true;
  }

  // Loop thread: takes this job back unless a thread took it first (then false: it runs).
  // `staged_only`: only while it is not started either (a start notice may be on its way).
  bool take_back(Job* job, bool staged_only = false) {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = staged_only ? m_started : 0; i < m_jobs.size(); ++i) {
      if (m_jobs[i] != job) continue;
      m_jobs.erase(m_jobs.begin() + static_cast<std::ptrdiff_t>(i));
      if (i < m_started) --m_started;
      publish();
      return true;
    }
    return false;
  }

  std::size_t started() const { return m_started_count.load(std::memory_order_acquire); }
  std::size_t staged() const { return m_staged_count.load(std::memory_order_acquire); }

 private:
  Job* pop_started() {  // under m_mutex, with m_started > 0
    Job* job = m_jobs.front();
    m_jobs.pop_front();
    --m_started;
    publish();
    return job;
  }
  void publish() {
    m_started_count.store(m_started, std::memory_order_release);
    m_staged_count.store(m_jobs.size() - m_started, std::memory_order_release);
  }
  std::mutex m_mutex;
  std::deque<Job*> m_jobs;     // guarded by m_mutex
  std::size_t m_started = 0;   // guarded by m_mutex: m_jobs[0, m_started) are started
  std::size_t m_unadopted = 0; // guarded by m_mutex: taken by threads, adopt notice unheard
  std::atomic<std::size_t> m_started_count{0};
  std::atomic<std::size_t> m_staged_count{0};
};

}  // namespace cachestress::backend
