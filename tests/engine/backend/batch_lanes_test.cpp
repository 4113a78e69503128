#include "engine/backend/batch_lanes.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
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

}  // namespace
}  // namespace cachestress::backend
