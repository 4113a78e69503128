// Cost of moving work through the loop: the bare libuv threadpool round trip, our
// core::queue_work wrapper around it, and whole builds of the `shared` scenario's step
// (write, read, list on one cache mount) driven by a real Runner.
//
// Times are wall clock (UseRealTime): the work happens on threadpool threads, so the
// benchmark thread's CPU time would undercount it.
//
// Run: TMPDIR=/dev/shm build/dev/bench/step_bench   (TMPDIR picks the filesystem, /tmp by
// default; a tmpfs shows the loop's cost, a disk adds its own latency to every build)
#include "engine/core/loop.hpp"
#include "engine/metrics/metric_table.hpp"
#include "engine/run/runner.hpp"
#include "engine/scenario/loader.hpp"

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <cstdint>
#include <string>

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
  // One build = one step = one threadpool batch (mkdir -p, write, read, list).
  state.SetItemsProcessed(static_cast<std::int64_t>(builds_done));
  state.counters["per_build"] =
      benchmark::Counter(static_cast<double>(builds_done), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Real files on the threadpool: the step round trip the shared scenario pays per build.
void bm_runner_step_inproc(benchmark::State& state) { run_builds(state, model::Backend::inproc); }
BENCHMARK(bm_runner_step_inproc)->ArgNames({"builds", "concurrency"})->Args({2000, 1})->Args({2000, 16})->UseRealTime();

// No file I/O (each batch completes on a zero timer): what the runner itself costs per build.
void bm_runner_step_fake(benchmark::State& state) { run_builds(state, model::Backend::fake); }
BENCHMARK(bm_runner_step_fake)->ArgNames({"builds", "concurrency"})->Args({2000, 1})->Args({2000, 16})->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
