// Cost of the metrics histogram on the worker hot path (record) and at report time
// (percentile, merge).
#include "engine/metrics/histogram.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace {

using cachestress::metrics::Histogram;

// Power of two so the loop can wrap with a mask; big enough to defeat branch prediction
// on bucket_index, small enough (512 KiB) to stay mostly in cache.
constexpr std::size_t k_value_count = 1 << 16;

// Latency-like spread: microseconds from ~1 to ~1e9 (lognormal).
std::vector<std::uint64_t> latency_values(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(3e4), 3.0);
  std::vector<std::uint64_t> out(k_value_count);
  for (auto& v : out) v = static_cast<std::uint64_t>(dist(rng));
  return out;
}

std::unique_ptr<Histogram> full_histogram(std::uint64_t seed) {
  auto h = std::make_unique<Histogram>();
  for (const std::uint64_t v : latency_values(seed)) h->record(v);
  return h;
}

void bm_record(benchmark::State& state) {
  const std::vector<std::uint64_t> values = latency_values(1);
  auto h = std::make_unique<Histogram>();
  std::size_t i = 0;
  for (auto _ : state) {
    h->record(values[i++ & (k_value_count - 1)]);
  }
  benchmark::DoNotOptimize(h->count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_record);

void bm_percentile(benchmark::State& state) {
  const auto h = full_histogram(2);
  const double qs[] = {50.0, 90.0, 99.0, 99.9};
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h->percentile(qs[i++ & 3]));
  }
}
BENCHMARK(bm_percentile);

void bm_merge(benchmark::State& state) {
  const auto source = full_histogram(3);
  auto target = full_histogram(4);
  for (auto _ : state) {
    target->merge(*source);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(Histogram::k_bucket_count * sizeof(std::uint64_t)));
}
BENCHMARK(bm_merge);

}  // namespace

BENCHMARK_MAIN();
