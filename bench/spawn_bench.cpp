// Cost of one command run through each launcher of the command backend, side by side:
// posix_spawn + pidfd (the default) against uv_spawn (libuv's fork + exec, the fallback).
// Each iteration runs `true` to completion on a real loop, output pipes and reaping included,
// with `ballast` MiB of touched heap in this process: fork copies page tables for every
// mapped page, vfork-style posix_spawn copies none, so the gap grows with the parent.
//
// Run: build/dev/bench/spawn_bench   (Google Benchmark flags apply, e.g.
//      --benchmark_filter=ballast:0 --benchmark_repetitions=5)
// The ratio to read: uv_spawn time / posix_spawn time at the same ballast.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/command/child.hpp"
#include "engine/core/loop.hpp"

namespace {

namespace command = cachestress::command;
namespace core = cachestress::core;

void run_true(core::Loop& loop, command::Child::Launcher launcher) {
  bool ok = false;
  {
    command::Child child(loop.raw());
    child.start({{"true"}, {"PATH=/usr/bin:/bin"}, "", 0, launcher},
                [&](command::ChildResult& r) { ok = r.spawn_error == 0 && r.exit_status == 0; });
    loop.run();
  }
  loop.run();  // the closed handles' callbacks
  if (!ok) throw std::runtime_error("`true` failed");
}

void spawn_true(benchmark::State& state, command::Child::Launcher launcher) {
  const auto ballast_bytes = static_cast<std::size_t>(state.range(0)) << 20;
  auto ballast = std::make_unique<char[]>(ballast_bytes);
  std::memset(ballast.get(), 1, ballast_bytes);  // touched: mapped pages, as a busy parent has
  benchmark::DoNotOptimize(ballast.get());
  core::Loop loop;
  for (auto _ : state) run_true(loop, launcher);
  state.counters["spawns_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_posix_spawn(benchmark::State& state) { spawn_true(state, command::Child::Launcher::posix_spawn); }
void BM_uv_spawn(benchmark::State& state) { spawn_true(state, command::Child::Launcher::uv_spawn); }

// Ballast 0: cachestress itself (~10 MiB RSS); 256: a parent the size of a real run's heap.
BENCHMARK(BM_posix_spawn)->ArgName("ballast")->Arg(0)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_uv_spawn)->ArgName("ballast")->Arg(0)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
