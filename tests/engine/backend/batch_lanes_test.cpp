#include "engine/backend/batch_lanes.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>
#include <thread>
#include <vector>

#include "engine/core/loop.hpp"

namespace cachestress::backend {
namespace {

using namespace std::chrono_literals;

// Waits (a lane thread) until `flag` is set, at most 10 s: a test that would hang fails.
bool wait_for(const std::atomic<bool>& flag) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

// A job that records where it ran and was done, and runs `again` more times from done().
class CountingJob final : public LaneJob {
 public:
  CountingJob(BatchLanes& lanes, std::thread::id loop_thread, int again) : m_lanes(lanes), m_loop_thread(loop_thread), m_again(again) {}
  void run() override {
    ++runs;
    if (std::this_thread::get_id() == m_loop_thread) ran_on_loop = true;
  }
  void done() override {
    ++dones;
    if (std::this_thread::get_id() != m_loop_thread) done_off_loop = true;
    if (dones != runs) mismatched = true;
    if (m_again-- > 0) m_lanes.submit(this);
  }
  std::atomic<int> runs{0};
  int dones = 0;
  bool ran_on_loop = false;
  bool done_off_loop = false;
  bool mismatched = false;

 private:
  BatchLanes& m_lanes;
  std::thread::id m_loop_thread;
  int m_again;
};

TEST_CASE("batch lanes: every job runs once on a lane and is done once on the loop, chains included", "[unit][backend][batch_lanes]") {
  core::Loop loop;
  const unsigned lanes = GENERATE(1U, 2U, 8U);
  BatchLanes pool(loop, lanes);
  REQUIRE(pool.lanes() == lanes);
  std::vector<std::unique_ptr<CountingJob>> jobs;
  for (int i = 0; i < 64; ++i) {
    jobs.push_back(std::make_unique<CountingJob>(pool, std::this_thread::get_id(), 20));
    pool.submit(jobs.back().get());
  }
  loop.run();  // returns only once nothing is outstanding
  for (const auto& job : jobs) {
    CHECK(job->runs == 21);
    CHECK(job->dones == 21);
    CHECK_FALSE(job->ran_on_loop);
    CHECK_FALSE(job->done_off_loop);
    CHECK_FALSE(job->mismatched);
  }
}

// Runs until `release` is set; sets `ran` when it starts.
class GateJob final : public LaneJob {
 public:
  explicit GateJob(std::atomic<bool>& release) : m_release(release) {}
  void run() override {
    ran = true;
    released = wait_for(m_release);
    if (on_run != nullptr) on_run->store(true);
  }
  void done() override { done_called = true; }
  std::atomic<bool> ran{false};
  std::atomic<bool> released{false};
  std::atomic<bool>* on_run = nullptr;  // set when this job runs
  bool done_called = false;

 private:
  std::atomic<bool>& m_release;
};

TEST_CASE("batch lanes: a lane with nothing queued takes a job queued behind a busy lane", "[unit][backend][batch_lanes]") {
  core::Loop loop;
  BatchLanes pool(loop, 2);
  std::atomic<bool> a_release{false};
  std::atomic<bool> b_release{false};
  std::atomic<bool> never{true};
  GateJob a(a_release);  // lane 0, held until c has run
  GateJob b(b_release);  // lane 1
  GateJob c(never);      // queued on lane 0 (a tie goes to the first lane), behind a
  c.on_run = &a_release;
  pool.submit(&a);
  pool.submit(&b);
  pool.submit(&c);
  b_release = true;  // lane 1 finishes b and must take c from lane 0's queue
  loop.run();
  CHECK(a.released);  // false: a waited 10 s, c never ran beside it
  CHECK(c.ran);
  CHECK(a.done_called);
  CHECK(b.done_called);
  CHECK(c.done_called);
}

TEST_CASE("batch lanes: a job queued behind a busy lane wakes a lane that went to sleep", "[unit][backend][batch_lanes]") {
  core::Loop loop;
  BatchLanes pool(loop, 2);
  std::atomic<bool> a_release{false};
  std::atomic<bool> done_at_once{true};
  GateJob a(a_release);     // lane 0, held until c has run
  GateJob b(done_at_once);  // lane 1: ends at once, but the loop has not heard yet
  GateJob c(done_at_once);
  c.on_run = &a_release;
  pool.submit(&a);
  pool.submit(&b);
  // Lane 1 has run b and (give it time) gone to sleep; its result is not delivered, so both
  // lanes count one job not done and c goes to lane 0, behind a.
  REQUIRE(wait_for(b.ran));
  std::this_thread::sleep_for(50ms);
  pool.submit(&c);
  loop.run();
  CHECK(a.released);  // false: c waited behind a for 10 s
  CHECK(c.ran);
  CHECK(c.done_called);
}

// A build that is one batch (ends_build): it starts when submitted or when a lane starts it
// from the staged jobs, and ends when run() returns; both times are kept to count how many
// were in flight at once.
class OneBatchBuild final : public LaneJob {
 public:
  OneBatchBuild(const std::atomic<bool>& release, std::vector<std::pair<std::uint64_t, int>>& edges, std::mutex& mutex)
      : m_release(release), m_edges(edges), m_mutex(mutex) {
    ends_build = true;
  }
  void run() override {
    ++runs;
    released = wait_for(m_release);
    std::this_thread::sleep_for(20us);
    std::lock_guard lock(m_mutex);
    m_edges.emplace_back(core::now_us(), -1);
  }
  void started() override {
    ++starts;
    if (dones > 0) started_after_done = true;
    std::lock_guard lock(m_mutex);
    m_edges.emplace_back(started_us(), +1);
  }
  void done() override { ++dones; }
  std::atomic<int> runs{0};
  int starts = 0;
  int dones = 0;
  bool started_after_done = false;
  std::atomic<bool> released{false};

 private:
  const std::atomic<bool>& m_release;
  std::vector<std::pair<std::uint64_t, int>>& m_edges;
  std::mutex& m_mutex;
};

TEST_CASE("batch lanes: staged jobs start one per build that ends, oldest first, each once, never more in flight than submitted", "[unit][backend][batch_lanes]") {
  const unsigned lanes = GENERATE(1U, 4U);
  const std::size_t wake_below = GENERATE(std::size_t{0}, std::size_t{8});  // 0: every result waits for a flush
  CAPTURE(lanes, wake_below);
  core::Loop loop;
  BatchLanes pool(loop, lanes, wake_below);
  std::atomic<bool> release{false};
  std::vector<std::pair<std::uint64_t, int>> edges;  // (time, +1 start / -1 end)
  std::mutex mutex;
  constexpr int k_in_flight = 6;
  constexpr int k_staged = 300;
  std::vector<std::unique_ptr<OneBatchBuild>> builds;
  for (int i = 0; i < k_in_flight + k_staged; ++i) builds.push_back(std::make_unique<OneBatchBuild>(release, edges, mutex));
  for (int i = 0; i < k_in_flight; ++i) {
    edges.emplace_back(core::now_us(), +1);
    pool.submit(builds[static_cast<std::size_t>(i)].get());
  }
  for (int i = k_in_flight; i < k_in_flight + k_staged; ++i) pool.stage(builds[static_cast<std::size_t>(i)].get());
  release = true;  // the builds in flight end only now: every staged one is started in place of one
  loop.run();      // returns once nothing is outstanding or staged
  std::vector<std::uint64_t> started;
  for (int i = 0; i < k_in_flight + k_staged; ++i) {
    const auto& build = *builds[static_cast<std::size_t>(i)];
    INFO("build " << i);
    CHECK(build.runs == 1);
    CHECK(build.dones == 1);
    CHECK(build.released);
    CHECK_FALSE(build.started_after_done);
    CHECK(build.starts == (i < k_in_flight ? 0 : 1));
    if (i >= k_in_flight) started.push_back(build.started_us());
  }
  CHECK(std::is_sorted(started.begin(), started.end()));  // first staged, first started
  std::sort(edges.begin(), edges.end());  // at one microsecond, an end before a start
  int at_once = 0, most = 0;
  for (const auto& [at, step] : edges) most = std::max(most, at_once += step);
  CHECK(most <= k_in_flight);
  // Every end before the staged jobs ran out had one to start: the lanes started them all.
  CHECK(pool.started_by_lanes() == k_staged);
}

TEST_CASE("batch lanes: a staged job is taken back until a lane starts it, and a taken-back job never runs", "[unit][backend][batch_lanes]") {
  core::Loop loop;
  BatchLanes pool(loop, 2, 1);
  std::atomic<bool> release{false};
  std::vector<std::pair<std::uint64_t, int>> edges;
  std::mutex mutex;
  OneBatchBuild running(release, edges, mutex);
  OneBatchBuild kept(release, edges, mutex);
  OneBatchBuild taken_back(release, edges, mutex);
  pool.submit(&running);
  pool.stage(&taken_back);
  pool.stage(&kept);
  CHECK(pool.take_back(&taken_back));
  CHECK_FALSE(pool.take_back(&taken_back));  // once only
  release = true;
  loop.run();
  CHECK(running.dones == 1);
  CHECK(kept.starts == 1);
  CHECK(kept.dones == 1);
  CHECK(taken_back.runs == 0);
  CHECK(taken_back.starts == 0);
  CHECK(taken_back.dones == 0);
  CHECK_FALSE(pool.take_back(&kept));  // it ran
  CHECK(pool.started_by_lanes() == 1);   // in place of `running`, by its lane
}

}  // namespace
}  // namespace cachestress::backend
