#include "engine/backend/standby_chain.hpp"

#include <catch2/catch.hpp>
#include <atomic>
#include <thread>
#include <vector>

namespace cachestress::backend {
namespace {

struct Job {
  int id = 0;
};

// As a waiter thread takes one, and the loop then hears its adopt notice.
Job* take_one(StandbyChain<Job>& chain) {
  Job* job = chain.take([](Job*, std::size_t) {});
  if (job != nullptr) chain.adopted();
  return job;
}

std::vector<int> take_all(StandbyChain<Job>& chain) {
  std::vector<int> order;
  while (Job* job = take_one(chain)) order.push_back(job->id);
  return order;
}

TEST_CASE("standby chain: started builds are taken first in, first out, staged ones never until started", "[unit][standby_chain]") {
  StandbyChain<Job> chain;
  Job a{1}, b{2}, s1{3}, s2{4}, c{5};
  chain.park_started(&a);
  chain.stage(&s1);
  chain.park_started(&b);  // started after s1 was staged, still ahead of it
  chain.stage(&s2);
  CHECK(chain.started() == 2);
  CHECK(chain.staged() == 2);
  std::size_t left = 99;
  Job* first = chain.take([&left](Job*, std::size_t started_left) { left = started_left; });
  REQUIRE(first == &a);
  CHECK(left == 1);
  CHECK(take_all(chain) == std::vector<int>{2});  // the staged ones stay
  CHECK(chain.staged() == 2);
  // A build ends: the oldest staged one starts, and queues behind nothing now.
  std::size_t ahead = 99, staged_left = 99;
  Job* started = nullptr;
  REQUIRE(chain.start_next([&](Job* job, std::size_t before, std::size_t after) {
    started = job;
    ahead = before;
    staged_left = after;
  }));
  CHECK(started == &s1);
  CHECK(ahead == 0);
  CHECK(staged_left == 1);
  chain.park_started(&c);  // the loop parks one more: behind s1, before the staged s2
  CHECK(take_all(chain) == std::vector<int>{3, 5});
  REQUIRE(chain.start_next([](Job*, std::size_t, std::size_t) {}));
  CHECK_FALSE(chain.start_next([](Job*, std::size_t, std::size_t) {}));  // none staged
  CHECK(take_all(chain) == std::vector<int>{4});
}

TEST_CASE("standby chain: a job is taken back only while no thread took or started it", "[unit][standby_chain]") {
  StandbyChain<Job> chain;
  Job a{1}, b{2}, s{3};
  chain.park_started(&a);
  chain.park_started(&b);
  chain.stage(&s);
  CHECK(chain.take_back(&b));  // parked in the middle: the order of the rest holds
  CHECK_FALSE(chain.take_back(&b));
  CHECK(chain.started() == 1);
  REQUIRE(chain.start_next([](Job*, std::size_t, std::size_t) {}));
  CHECK_FALSE(chain.take_back(&s, true));  // started: only a take_back of started ones may get it
  CHECK(chain.take_back(&s));
  CHECK(take_all(chain) == std::vector<int>{1});
  chain.stage(&s);
  CHECK(chain.take_back(&s, true));  // staged, not started
  CHECK(chain.staged() == 0);
}

TEST_CASE("standby chain: the loop takes a parked job itself only while no thread's adopt notice is on the way", "[unit][standby_chain]") {
  StandbyChain<Job> chain;
  Job a{1}, b{2};
  chain.park_started(&a);
  chain.park_started(&b);
  REQUIRE(chain.take([](Job*, std::size_t) {}) == &a);  // a thread took it, the loop has not heard yet
  CHECK(chain.take_unless_pending() == nullptr);       // a would hand b on: the loop must not too
  chain.adopted();
  CHECK(chain.take_unless_pending() == &b);
  CHECK(chain.take_unless_pending() == nullptr);  // none left
}

TEST_CASE("standby chain: threads taking and starting while the loop parks lose and repeat no job", "[unit][standby_chain]") {
  constexpr int k_jobs = 20000;
  std::vector<Job> jobs(k_jobs);
  StandbyChain<Job> chain;
  std::atomic<int> taken{0};
  std::vector<std::atomic<int>> seen(k_jobs);
  std::atomic<bool> parking{true};
  auto taker = [&] {
    while (parking.load() || chain.started() > 0 || chain.staged() > 0) {
      (void)chain.start_next([](Job*, std::size_t, std::size_t) {});
      if (Job* job = chain.take([](Job*, std::size_t) {})) {
        seen[static_cast<std::size_t>(job->id)].fetch_add(1);
        taken.fetch_add(1);
      }
    }
  };
  std::thread t1(taker), t2(taker);
  for (int i = 0; i < k_jobs; ++i) {
    jobs[static_cast<std::size_t>(i)].id = i;
    if (i % 2 == 0) {
      chain.park_started(&jobs[static_cast<std::size_t>(i)]);
    } else {
      chain.stage(&jobs[static_cast<std::size_t>(i)]);
    }
  }
  parking = false;
  t1.join();
  t2.join();
  CHECK(taken.load() == k_jobs);
  for (const auto& count : seen) REQUIRE(count.load() == 1);
}

}  // namespace
}  // namespace cachestress::backend
