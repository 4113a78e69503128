#include "engine/lock/kernel_lock.hpp"
#include "tests/support/temp_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/loop.hpp"
#include "engine/lock/waiter_pool.hpp"

namespace cachestress::lock {
namespace {

namespace stdfs = std::filesystem;
using model::LockKind;
using Clock = std::chrono::steady_clock;

using TempDir = test_support::TempDir;

// An fd of our own, closed on scope exit.
class Fd {
 public:
  explicit Fd(const std::string& path) : m_fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (m_fd < 0) FAIL("open " << path << ": " << errno_text(errno));
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  int get() const { return m_fd; }

 private:
  int m_fd = -1;
};

// A child process that opens `path` itself (its own open file description), takes the lock,
// reports through a pipe, holds it for hold_ms (forever when negative) and exits.
class LockingChild {
 public:
  LockingChild(const std::string& path, LockKind kind, int hold_ms) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    m_pid = ::fork();
    REQUIRE(m_pid >= 0);
    if (m_pid == 0) {
      ::close(fds[0]);
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0 || acquire_blocking(fd, kind) != 0) ::_exit(10);
      char ok = 'L';
      if (::write(fds[1], &ok, 1) != 1) ::_exit(11);
      if (hold_ms < 0) {
        while (true) ::pause();
      }
      ::usleep(static_cast<useconds_t>(hold_ms) * 1000);
      ::_exit(0);  // exiting closes the fd: the kernel releases every kind of lock
    }
    ::close(fds[1]);
    char byte = 0;
    ssize_t n = 0;
    do {
      n = ::read(fds[0], &byte, 1);
    } while (n < 0 && errno == EINTR);
    ::close(fds[0]);
    REQUIRE(n == 1);  // the child holds the lock now
    REQUIRE(byte == 'L');
  }
  LockingChild(const LockingChild&) = delete;
  LockingChild& operator=(const LockingChild&) = delete;
  ~LockingChild() {
    if (m_pid > 0 && !m_reaped) {
      ::kill(m_pid, SIGKILL);
      (void)wait();
    }
  }
  pid_t pid() const { return m_pid; }
  // The child's exit status as waitpid reports it.
  int wait() {
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_reaped = true;
    return status;
  }

 private:
  pid_t m_pid = -1;
  bool m_reaped = false;
};

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

const LockKind k_kinds[] = {LockKind::ofd, LockKind::fcntl, LockKind::flock};

TEST_CASE("a free lock is taken at once and released", "[unit][lock][kernel_lock]") {
  const LockKind kind = GENERATE(LockKind::ofd, LockKind::fcntl, LockKind::flock);
  CAPTURE(model::to_string(kind));
  TempDir dir;
  Fd fd(dir.file("lock"));
  CHECK(try_acquire(fd.get(), kind) == 0);
  CHECK(release(fd.get(), kind) == 0);
  CHECK(acquire_blocking(fd.get(), kind) == 0);
  CHECK(release(fd.get(), kind) == 0);
}

TEST_CASE("a lock held by another process blocks until that process lets go", "[unit][lock][kernel_lock]") {
  const LockKind kind = GENERATE(LockKind::ofd, LockKind::fcntl, LockKind::flock);
  CAPTURE(model::to_string(kind));
  TempDir dir;
  const auto path = dir.file("buildah-cache-lockfile");
  LockingChild child(path, kind, 250);
  auto start = Clock::now();
  Fd fd(path);

  CHECK(try_acquire(fd.get(), kind) == -EAGAIN);
  CHECK(acquire_blocking(fd.get(), kind) == 0);
  const auto waited = ms_since(start);
  CHECK(waited >= 100);   // the child held it ~250 ms
  CHECK(waited < 5000);   // and its exit released it
  int status = child.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(release(fd.get(), kind) == 0);
}

TEST_CASE("while this process holds the lock, another process cannot take it", "[unit][lock][kernel_lock]") {
  const LockKind kind = GENERATE(LockKind::ofd, LockKind::fcntl, LockKind::flock);
  CAPTURE(model::to_string(kind));
  TempDir dir;
  const auto path = dir.file("lock");
  Fd fd(path);
  REQUIRE(try_acquire(fd.get(), kind) == 0);

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int own = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (own < 0) ::_exit(10);
    if (try_acquire(own, kind) != -EAGAIN) ::_exit(11);  // held by the parent
    if (acquire_blocking(own, kind) != 0) ::_exit(12);    // after the parent's release
    ::_exit(0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  int status = 0;
  CHECK(::waitpid(pid, &status, WNOHANG) == 0);  // the child is still blocked
  CHECK(release(fd.get(), kind) == 0);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the kernel releases a lock when its holder is SIGKILLed", "[unit][lock][kernel_lock]") {
  const LockKind kind = GENERATE(LockKind::ofd, LockKind::fcntl, LockKind::flock);
  CAPTURE(model::to_string(kind));
  TempDir dir;
  const auto path = dir.file("lock");
  LockingChild child(path, kind, -1);  // holds forever
  Fd fd(path);
  REQUIRE(try_acquire(fd.get(), kind) == -EAGAIN);

  SECTION("a waiter blocked in the kernel gets it") {
    const auto start = Clock::now();
    std::thread killer([pid = child.pid()] {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      ::kill(pid, SIGKILL);
    });
    int rc = acquire_blocking(fd.get(), kind);
    killer.join();
    CHECK(rc == 0);
    CHECK(ms_since(start) >= 100);
    int status = child.wait();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
  }
  SECTION("a later try succeeds") {
    ::kill(child.pid(), SIGKILL);
    int status = child.wait();
    CHECK(WIFSIGNALED(status));
    CHECK(try_acquire(fd.get(), kind) == 0);
  }
}

// kernel_lock.hpp: fcntl record locks belong to the process, so threads of one process never
// conflict on them; OFD locks and flock belong to the open file description.
TEST_CASE("in one process, only OFD and flock locks contend across open files", "[unit][lock][kernel_lock]") {
  TempDir dir;
  const auto path = dir.file("lock");
  Fd first(path);
  Fd second(path);
  SECTION("ofd") {
    REQUIRE(try_acquire(first.get(), LockKind::ofd) == 0);
    CHECK(try_acquire(second.get(), LockKind::ofd) == -EAGAIN);
    CHECK(release(first.get(), LockKind::ofd) == 0);
    CHECK(try_acquire(second.get(), LockKind::ofd) == 0);
  }
  SECTION("flock") {
    REQUIRE(try_acquire(first.get(), LockKind::flock) == 0);
    CHECK(try_acquire(second.get(), LockKind::flock) == -EAGAIN);
    CHECK(release(first.get(), LockKind::flock) == 0);
    CHECK(try_acquire(second.get(), LockKind::flock) == 0);
  }
  SECTION("fcntl") {
    REQUIRE(try_acquire(first.get(), LockKind::fcntl) == 0);
    CHECK(try_acquire(second.get(), LockKind::fcntl) == 0);  // same process: no conflict
  }
}

TEST_CASE("lock calls on a bad fd report an errno, never block", "[unit][lock][kernel_lock]") {
  for (auto kind : k_kinds) {
    CAPTURE(model::to_string(kind));
    CHECK(try_acquire(-1, kind) == -EBADF);
    CHECK(acquire_blocking(-1, kind) == -EBADF);
    CHECK(release(-1, kind) == -EBADF);
  }
}

// ---- WaiterPool ----------------------------------------------------------------------------

// Takes an OFD lock on its own open of `path`, holds it briefly, releases. Records how many
// jobs were inside at once.
class ContendingJob final : public LockJob {
 public:
  ContendingJob(std::string path, std::atomic<int>& inside, std::atomic<int>& max_inside, int& done_count)
      : m_path(std::move(path)), m_inside(inside), m_max_inside(max_inside), m_done_count(done_count) {}
  int run() override {
    int fd = ::open(m_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = 0;
    do {
      rc = is_cancelled() ? -ECANCELED : acquire_blocking(fd, LockKind::ofd);
    } while (rc == -EINTR);
    if (rc == 0) {
      int now = ++m_inside;
      int seen = m_max_inside.load();
      while (now > seen && !m_max_inside.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --m_inside;
      (void)release(fd, LockKind::ofd);
    }
    ::close(fd);
    return rc;
  }
  void done(int result) override {
    result_ = result;
    ++m_done_count;
    done_called = true;
  }
  int result_ = 1;
  bool done_called = false;

 private:
  std::string m_path;
  std::atomic<int>& m_inside;
  std::atomic<int>& m_max_inside;
  int& m_done_count;
};

TEST_CASE("many jobs contending on one lock all complete, one at a time", "[unit][lock][waiter_pool]") {
  TempDir dir;
  const auto path = dir.file("lock");
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  int done_count = 0;
  constexpr int k_jobs = 40;
  std::vector<std::unique_ptr<ContendingJob>> jobs;
  for (int i = 0; i < k_jobs; ++i) jobs.push_back(std::make_unique<ContendingJob>(path, inside, max_inside, done_count));

  core::Loop loop;
  {
    WaiterPool pool(loop, 6);
    CHECK(pool.threads() == 6);
    for (auto& job : jobs) pool.submit(job.get());
    const auto start = Clock::now();
    loop.run();  // returns once every job is done (only outstanding jobs keep it alive)
    CHECK(ms_since(start) < 10000);
  }
  CHECK(loop.close() == 0);
  CHECK(done_count == k_jobs);
  for (auto& job : jobs) {
    CHECK(job->done_called);
    CHECK(job->result_ == 0);
  }
  CHECK(max_inside.load() == 1);
}

TEST_CASE("a pool with zero threads still has one", "[unit][lock][waiter_pool]") {
  core::Loop loop;
  {
    WaiterPool pool(loop, 0);
    CHECK(pool.threads() == 1);
  }
  CHECK(loop.close() == 0);
}

// Blocks in the kernel on `path` until cancelled (someone else holds the lock).
class BlockedJob final : public LockJob {
 public:
  explicit BlockedJob(std::string path) : m_path(std::move(path)) {}
  int run() override {
    started = true;
    int fd = ::open(m_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = 0;
    do {
      rc = is_cancelled() ? -ECANCELED : acquire_blocking(fd, LockKind::ofd);
    } while (rc == -EINTR);
    ::close(fd);
    return rc;
  }
  void done(int result) override {
    result_ = result;
    done_at = Clock::now();
    done_called = true;
  }
  std::atomic<bool> started{false};
  int result_ = 1;
  bool done_called = false;
  Clock::time_point done_at{};

 private:
  std::string m_path;
};

TEST_CASE("cancel of a job blocked in the kernel returns promptly", "[unit][lock][waiter_pool]") {
  TempDir dir;
  const auto path = dir.file("lock");
  Fd holder(path);
  REQUIRE(try_acquire(holder.get(), LockKind::ofd) == 0);  // OFD: conflicts in-process too

  BlockedJob job(path);
  core::Loop loop;
  Clock::time_point cancelled_at{};
  {
    WaiterPool pool(loop, 2);
    int ticks_since_started = 0;
    core::Timer timer(loop, [&] {
      // Cancel once the job has run a while (blocked in F_OFD_SETLKW by then): waiting for
      // `started` keeps a slow (sanitizer, loaded) machine from cancelling a queued job instead.
      if (!job.started || ++ticks_since_started < 5) return;
      timer.stop();
      cancelled_at = Clock::now();
      pool.cancel(&job);
    });
    pool.submit(&job);
    timer.start(20, 20);
    loop.run();
  }
  CHECK(loop.close() == 0);
  REQUIRE(job.done_called);
  CHECK(job.started);
  CHECK(job.result_ == -ECANCELED);
  // The holder still holds the lock: without the cancel the job would wait forever. The
  // bound only tells "interrupted" from "never"; it is not a speed claim.
  auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(job.done_at - cancelled_at).count();
  CHECK(latency < 5000);
  // The holder was never disturbed.
  CHECK(release(holder.get(), LockKind::ofd) == 0);
}

TEST_CASE("cancel of a queued job never runs it", "[unit][lock][waiter_pool]") {
  TempDir dir;
  const auto path = dir.file("lock");
  Fd holder(path);
  REQUIRE(try_acquire(holder.get(), LockKind::ofd) == 0);

  BlockedJob running(path);  // occupies the only worker
  BlockedJob queued(path);
  core::Loop loop;
  {
    WaiterPool pool(loop, 1);
    core::Timer timer(loop, [&] {
      pool.cancel(&queued);
      pool.cancel(&running);
    });
    pool.submit(&running);
    pool.submit(&queued);
    timer.start(100);
    loop.run();
  }
  CHECK(loop.close() == 0);
  REQUIRE(queued.done_called);
  CHECK_FALSE(queued.started);
  CHECK(queued.result_ == -ECANCELED);
  REQUIRE(running.done_called);
  CHECK(running.started);
  CHECK(running.result_ == -ECANCELED);
}

// One link of a chain run back to back on one thread: hands the next job on with a quiet held
// notice and defers its own result (as a staged build's chain does); optionally takes a lock
// first, flushing the deferred notices before it may block.
class ChainJob final : public LockJob {
 public:
  ChainJob(int index, std::vector<std::string>& log) : m_index(index), m_log(log) {}
  int run() override {
    if (!lock_path.empty()) {
      int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return -errno;
      int rc = try_acquire(fd, LockKind::ofd);
      if (rc == -EAGAIN) {
        flush_notices();
        do {
          rc = is_cancelled() ? -ECANCELED : acquire_blocking(fd, LockKind::ofd);
        } while (rc == -EINTR);
      }
      ::close(fd);
      if (rc < 0) return rc;
    }
    if (next != nullptr) {
      next->notice_held_quietly();
      defer_result();
      hand_on(next);
    }
    return m_index;
  }
  void held() override { m_log.push_back("held " + std::to_string(m_index)); }
  void done(int result) override { m_log.push_back("done " + std::to_string(result)); }
  ChainJob* next = nullptr;
  std::string lock_path;

 private:
  int m_index;
  std::vector<std::string>& m_log;
};

TEST_CASE("a chain with deferred results delivers every notice, each held before its result", "[unit][lock][waiter_pool]") {
  // Results are deferred while a thread goes straight on to the next job: a result that never
  // got a wake-up would leave the loop waiting for ever (loop.run() would not return).
  std::vector<std::string> log;
  std::vector<std::unique_ptr<ChainJob>> jobs;
  for (int i = 0; i < 12; ++i) jobs.push_back(std::make_unique<ChainJob>(i, log));
  for (int i = 0; i + 1 < 12; ++i) jobs[static_cast<std::size_t>(i)]->next = jobs[static_cast<std::size_t>(i) + 1].get();
  core::Loop loop;
  {
    WaiterPool pool(loop, 3);
    for (std::size_t i = 1; i < jobs.size(); ++i) pool.reserve(jobs[i].get());
    pool.submit(jobs[0].get());
    loop.run();  // ends once every job is done: a deferred result that never arrived would hang
  }
  CHECK(loop.close() == 0);
  std::vector<std::string> dones;
  for (const auto& entry : log) {
    if (entry.rfind("done", 0) == 0) dones.push_back(entry);
  }
  // Every result arrives exactly once (in any order: an idle thread may take a handed-on job
  // before the one that handed it on is back), and each job's held notice before its result.
  REQUIRE(dones.size() == 12);
  for (int i = 0; i < 12; ++i) {
    CHECK(std::count(dones.begin(), dones.end(), "done " + std::to_string(i)) == 1);
    if (i == 0) continue;
    auto held = std::find(log.begin(), log.end(), "held " + std::to_string(i));
    auto done = std::find(log.begin(), log.end(), "done " + std::to_string(i));
    REQUIRE(held != log.end());
    CHECK(held < done);
  }
}

TEST_CASE("a job about to block flushes the results deferred before it", "[unit][lock][waiter_pool]") {
  // Job 0 defers its result and hands job 1 on; job 1 blocks on a lock the test holds. The
  // test lets go only once job 0's result reached the loop, which only the flush can bring
  // while job 1 blocks (a 5 s fallback ends the test either way).
  TempDir dir;
  const auto path = dir.file("lock");
  Fd holder(path);
  REQUIRE(try_acquire(holder.get(), LockKind::ofd) == 0);
  std::vector<std::string> log;
  ChainJob first(0, log);
  ChainJob blocked(1, log);
  first.next = &blocked;
  blocked.lock_path = path;
  bool released_on_result = false;
  core::Loop loop;
  {
    WaiterPool pool(loop, 2);
    int ticks = 0;
    core::Timer poll(loop, [&] {
      const bool got_result = std::find(log.begin(), log.end(), "done 0") != log.end();
      if (!got_result && ++ticks < 500) return;
      released_on_result = got_result;
      (void)release(holder.get(), LockKind::ofd);
      poll.stop();
    });
    pool.reserve(&blocked);
    pool.submit(&first);
    poll.start(10, 10);
    loop.run();
  }
  CHECK(loop.close() == 0);
  CHECK(released_on_result);
  CHECK(log.back() == "done 1");
}

TEST_CASE("destroying the pool interrupts a blocked job", "[unit][lock][waiter_pool]") {
  TempDir dir;
  const auto path = dir.file("lock");
  Fd holder(path);
  REQUIRE(try_acquire(holder.get(), LockKind::ofd) == 0);
  BlockedJob job(path);
  core::Loop loop;
  const auto start = Clock::now();
  {
    WaiterPool pool(loop, 1);
    pool.submit(&job);
    while (!job.started && ms_since(start) < 2000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it block in the kernel
  }  // must not hang
  CHECK(ms_since(start) < 3000);
  CHECK(job.started);
  CHECK(loop.close() == 0);
}

}  // namespace
}  // namespace cachestress::lock
