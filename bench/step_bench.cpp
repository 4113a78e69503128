// Cost of moving work through the loop: the bare libuv threadpool round trip, our
// core::queue_work wrapper around it, many small jobs in flight on libuv's threadpool
// against the in-process backend's BatchLanes, and whole builds of the `shared` scenario's step
// (write, read, list on one cache mount) driven by a real Runner.
//
// Times are wall clock (UseRealTime): the work happens on threadpool threads, so the
// benchmark thread's CPU time would undercount it.
//
// Run: TMPDIR=/dev/shm build/dev/bench/step_bench   (TMPDIR picks the filesystem, /tmp by
// default; a tmpfs shows the loop's cost, a disk adds its own latency to every build)
#include "engine/backend/batch_lanes.hpp"
#include "engine/core/loop.hpp"
#include "engine/metrics/metric_table.hpp"
#include "engine/run/runner.hpp"
#include "engine/scenario/loader.hpp"

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

namespace run = cachestress::run;
namespace model = cachestress::model;
namespace metrics = cachestress::metrics;

// The shared scenario's one step, fixed here so the figure does not drift when
// scenarios/shared.toml is retuned.
constexpr const char* k_step_scenario = R"toml(
description = "step_bench: one shared-cache step per build (write 512 B, read it back, list)"

[run]
seed = 1
semantics = "buildah"
isolation = "shared"

[[build]]
name = "builder"

[[build.step]]
mount = { target = "/var/cache/build", sharing = "shared" }
ops = [
  { op = "write", file = "index", value = "index", size = 512 },
  { op = "read", file = "index", expect = "any" },
  { op = "list" },
]
)toml";

// One uv_queue_work with empty work, from submission to its after-callback on the loop
// thread. uv_run returns as soon as the request is done, so each iteration also pays one
// loop entry and one wakeup of the loop thread by the threadpool.
void bm_uv_queue_work_round_trip(benchmark::State& state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_work_t request{};
  for (auto _ : state) {
    uv_queue_work(&loop, &request, [](uv_work_t*) {}, [](uv_work_t*, int) {});
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_uv_queue_work_round_trip)->UseRealTime();

// The same through core::queue_work: adds a heap request and two std::function calls.
void bm_core_queue_work_round_trip(benchmark::State& state) {
  cachestress::core::Loop loop;
  std::uint64_t completed = 0;
  for (auto _ : state) {
    cachestress::core::queue_work(loop, [] {}, [&completed](int) { ++completed; });
    loop.run();
  }
  benchmark::DoNotOptimize(completed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_core_queue_work_round_trip)->UseRealTime();

// ---- Many small jobs in flight: libuv's threadpool against BatchLanes -------------------
//
// `in_flight` jobs at once, each resubmitted from its loop-thread callback until 20,000 have
// run, as the runner keeps --concurrency builds going. A job is 8 fstatat calls (real
// syscalls, a few µs, no file written) so the figure is the dispatch, not a filesystem.
// libuv's threadpool has its default 4 threads (UV_THREADPOOL_SIZE); the lanes are 8, the
// --io-threads default.
constexpr std::int64_t k_jobs_per_run = 20'000;

void small_job() {
  struct stat st {};
  for (int i = 0; i < 8; ++i) benchmark::DoNotOptimize(::fstatat(AT_FDCWD, ".", &st, 0));
}

struct UvJob {
  uv_work_t request{};
  std::int64_t* remaining = nullptr;
};

void uv_job_submit(uv_loop_t* loop, UvJob& job) {
  --*job.remaining;
  uv_queue_work(
      loop, &job.request, [](uv_work_t*) { small_job(); },
      [](uv_work_t* request, int) {
        auto& next = *static_cast<UvJob*>(request->data);
        if (*next.remaining > 0) uv_job_submit(request->loop, next);
      });
}

void bm_uv_threadpool_in_flight(benchmark::State& state) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<UvJob> jobs(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::int64_t remaining = k_jobs_per_run;
    for (auto& job : jobs) {
      job.request.data = &job;
      job.remaining = &remaining;
      uv_job_submit(&loop, job);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  state.SetItemsProcessed(state.iterations() * k_jobs_per_run);
}
BENCHMARK(bm_uv_threadpool_in_flight)->ArgName("in_flight")->Arg(1)->Arg(16)->Arg(64)->UseRealTime();

class LaneBenchJob final : public cachestress::backend::LaneJob {
 public:
  LaneBenchJob(cachestress::backend::BatchLanes& lanes, std::int64_t& remaining) : m_lanes(lanes), m_remaining(remaining) {}
  void submit() {
    --m_remaining;
    m_lanes.submit(this);
  }
  void run() override { small_job(); }
  void done() override {
    if (m_remaining > 0) submit();
  }

 private:
  cachestress::backend::BatchLanes& m_lanes;
  std::int64_t& m_remaining;
};

void bm_batch_lanes_in_flight(benchmark::State& state) {
  cachestress::core::Loop loop;
  cachestress::backend::BatchLanes lanes(loop, 8);
  std::int64_t remaining = 0;
  std::vector<LaneBenchJob> jobs(static_cast<std::size_t>(state.range(0)), LaneBenchJob(lanes, remaining));
  for (auto _ : state) {
    remaining = k_jobs_per_run;
    for (auto& job : jobs) job.submit();
    loop.run();
  }
  state.SetItemsProcessed(state.iterations() * k_jobs_per_run);
}
BENCHMARK(bm_batch_lanes_in_flight)->ArgName("in_flight")->Arg(1)->Arg(16)->Arg(64)->UseRealTime();

// A whole run of `builds` one-step builds at `concurrency`, as `cachestress` would do it,
// minus CLI and report. Each iteration also pays the run's fixed costs (workspace,
// loop, waiter thread, final cleanup); enough builds make those small per build.
void run_builds(benchmark::State& state, model::Backend backend) {
  spdlog::set_level(spdlog::level::warn);
  model::Scenario scenario = cachestress::scenario::parse_scenario(k_step_scenario, "bench:step", "step");
  scenario.run.builds = static_cast<std::uint64_t>(state.range(0));
  scenario.run.concurrency = static_cast<std::uint32_t>(state.range(1));
  scenario.run.backend = backend;
  scenario.run.interval_ms = 60'000;  // no interval samples inside a short run

  std::uint64_t builds_done = 0;
  for (auto _ : state) {
    run::RunOptions options;
    options.scenario = scenario;
    options.lock_threads = 1;  // the shared scenario takes no locks
    run::Runner runner(std::move(options));
    const run::RunOutcome outcome = runner.run();
    if (outcome.metrics->counter(metrics::Counter::builds_failed) != 0) {
      state.SkipWithError("builds failed");
      break;
    }
    builds_done += outcome.metrics->counter(metrics::Counter::builds_completed);
  }
  // One build = one step = one batch on a lane (mkdir -p, write, read, list).
  state.SetItemsProcessed(static_cast<std::int64_t>(builds_done));
  state.counters["per_build"] =
      benchmark::Counter(static_cast<double>(builds_done), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Real files on the lanes: the step round trip the shared scenario pays per build.
void bm_runner_step_inproc(benchmark::State& state) { run_builds(state, model::Backend::inproc); }
BENCHMARK(bm_runner_step_inproc)->ArgNames({"builds", "concurrency"})->Args({2000, 1})->Args({2000, 16})->UseRealTime();

// No file I/O (each batch completes on a zero timer): what the runner itself costs per build.
void bm_runner_step_fake(benchmark::State& state) { run_builds(state, model::Backend::fake); }
BENCHMARK(bm_runner_step_fake)->ArgNames({"builds", "concurrency"})->Args({2000, 1})->Args({2000, 16})->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
