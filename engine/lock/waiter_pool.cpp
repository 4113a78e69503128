#include "engine/lock/waiter_pool.hpp"

#include <csignal>
#include <cerrno>

namespace cachestress::lock {
namespace {

// A real-time signal with an empty handler installed without SA_RESTART: delivering it to a
// worker turns its blocking F_OFD_SETLKW / F_SETLKW / flock into EINTR.
int interrupt_signal() { return SIGRTMIN + 2; }

void install_interrupt_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = [](int) {};
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(interrupt_signal(), &action, nullptr);
  });
}

constexpr std::uint64_t k_resignal_ms = 20;
constexpr std::uint64_t k_flush_ms = 5;

// The worker the calling thread is, if it is one (notice_finishing() is called from run()).
thread_local bool* t_finishing = nullptr;
// This thread posted notices or a result the loop has not been woken for (flush_notices).
thread_local bool t_unsent = false;

}  // namespace

WaiterPool::WaiterPool(core::Loop& loop, unsigned threads)
    : m_async(loop, [this] { deliver(); }),
      m_resignal_timer(loop, [this] { resignal(); }),
      m_flush_timer(loop, [this] { deliver(); }) {
  install_interrupt_handler();
  m_async.unref();  // only outstanding jobs keep the loop alive (see submit/deliver)
  m_flush_timer.unref();
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>();
    Worker& ref = *worker;
    worker->thread = std::thread([this, &ref] { worker_main(ref); });
    worker->handle = worker->thread.native_handle();
    m_workers.push_back(std::move(worker));
  }
}

WaiterPool::~WaiterPool() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    for (auto* job : m_queue) job->m_cancelled.store(true, std::memory_order_release);
    for (auto& worker : m_workers) {
      if (worker->running != nullptr) worker->running->m_cancelled.store(true, std::memory_order_release);
    }
  }
  m_wake.notify_all();
  for (auto& worker : m_workers) {
    // Keep interrupting until the thread leaves its wait: a signal sent just before the
    // blocking call would otherwise be lost.
    while (true) {
      {
        std::lock_guard lock(m_mutex);
        if (worker->running == nullptr) break;
        pthread_kill(worker->handle, interrupt_signal());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    worker->thread.join();
  }
}

void LockJob::notice_held() noexcept {
  if (m_pool != nullptr) m_pool->post(this, WaiterPool::Notice::held, true);
}

void LockJob::notice_held_quietly() noexcept {
  if (m_pool == nullptr) return;
  m_pool->post(this, WaiterPool::Notice::held, false);
  t_unsent = true;
}

void LockJob::notice_started(bool wake) noexcept {
  if (m_pool == nullptr) return;
  m_pool->post(this, WaiterPool::Notice::started, wake);
  if (!wake) t_unsent = true;
}

void LockJob::flush_notices() noexcept {
  if (m_pool == nullptr || !t_unsent) return;
  t_unsent = false;
  m_pool->m_async.send();
}

void WaiterPool::post(LockJob* job, Notice notice, bool wake) {
  {
    std::lock_guard lock(m_mutex);
    m_held.emplace_back(job, notice);
  }
  if (wake) m_async.send();
}

void LockJob::hand_on(LockJob* next) noexcept { m_pool->enqueue(next); }

void LockJob::notice_finishing() noexcept {
  if (m_pool == nullptr || t_finishing == nullptr || *t_finishing) return;
  *t_finishing = true;
  m_pool->m_finishing.fetch_add(1, std::memory_order_seq_cst);
}

void WaiterPool::reserve(LockJob* job) {
  job->m_pool = this;
  job->m_cancelled.store(false, std::memory_order_relaxed);  // a job is reused by a build's next wait
  if (m_outstanding++ == 0) m_flush_timer.start(k_flush_ms, k_flush_ms);
  m_async.ref();
}

void WaiterPool::enqueue(LockJob* job) {
  {
    std::lock_guard lock(m_mutex);
    // Handed on while the pool is being destroyed: it must not wait in the kernel for long.
    if (m_stopping) job->m_cancelled.store(true, std::memory_order_release);
    m_queue.push_back(job);
    // A finishing worker takes the mutex after this and finds the job (see worker_main).
    if (m_finishing.load(std::memory_order_seq_cst) >= m_queue.size()) return;
  }
  m_wake.notify_one();
}

void WaiterPool::unreserve(LockJob* /*job*/) {
  if (--m_outstanding == 0) {
    m_async.unref();
    m_flush_timer.stop();
  }
}

void WaiterPool::cancel(LockJob* job) {
  job->m_cancelled.store(true, std::memory_order_release);
  std::lock_guard lock(m_mutex);
  for (auto it = m_queue.begin(); it != m_queue.end(); ++it) {
    if (*it == job) {
      m_queue.erase(it);
      m_finished.emplace_back(job, -ECANCELED);
      m_async.send();
      return;
    }
  }
  for (auto& worker : m_workers) {
    if (worker->running == job) {
      pthread_kill(worker->handle, interrupt_signal());
      m_resignal_timer.start(k_resignal_ms, k_resignal_ms);
    }
  }
}

void WaiterPool::resignal() {
  std::lock_guard lock(m_mutex);
  bool any = false;
  for (auto& worker : m_workers) {
    if (worker->running != nullptr && worker->running->is_cancelled()) {
      pthread_kill(worker->handle, interrupt_signal());
      any = true;
    }
  }
  if (!any) m_resignal_timer.stop();
}

void WaiterPool::worker_main(Worker& self) {
  // Only the interrupt signal reaches these threads; SIGINT and friends go to the loop.
  sigset_t mask;
  sigfillset(&mask);
  sigdelset(&mask, interrupt_signal());
  pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  t_finishing = &self.finishing;
  LockJob* job = nullptr;
  while (true) {
    if (job == nullptr) {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
      if (m_queue.empty()) return;  // stopping
      job = m_queue.front();
      m_queue.pop_front();
      self.running = job;
    }
    job->m_defer_result = false;
    int result = job->run();
    const bool defer = job->m_defer_result;  // the job is the loop's again once it is in m_finished
    if (!self.finishing) {
      self.finishing = true;
      m_finishing.fetch_add(1, std::memory_order_seq_cst);
    }
    LockJob* next = nullptr;
    {
      std::lock_guard lock(m_mutex);
      self.finishing = false;
      m_finishing.fetch_sub(1, std::memory_order_seq_cst);
      m_finished.emplace_back(job, result);
      // Straight on to a queued job (it may have been queued counting on this thread).
      if (!m_queue.empty()) {
        next = m_queue.front();
        m_queue.pop_front();
      }
      self.running = next;
    }
    if (!defer || next == nullptr) {
      t_unsent = false;
      m_async.send();
    } else {
      t_unsent = true;
    }
    job = next;
  }
}

void WaiterPool::deliver() {
  std::vector<std::pair<LockJob*, int>> finished;
  std::vector<std::pair<LockJob*, Notice>> held;
  {
    std::lock_guard lock(m_mutex);
    finished.swap(m_finished);
    held.swap(m_held);
  }
  // A job's held notice is queued before its result, so it is delivered first.
  for (auto [job, notice] : held) {
    if (notice == Notice::started) {
      job->started();
    } else {
      job->held();
    }
  }
  for (auto& [job, result] : finished) {
    --m_outstanding;
    job->done(result);  // may submit() again
  }
  // uv_ref is a flag, not a count: the loop stays alive exactly while jobs are outstanding.
  if (m_outstanding == 0) {
    m_async.unref();
    m_flush_timer.stop();
  } else {
    m_async.ref();
  }
}

}  // namespace cachestress::lock
