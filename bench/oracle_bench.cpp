// Cost of the collision oracle per operation, on the calling thread: encoding the record a
// write puts in a file (header, checksum and the payload's letter pattern) and inspecting
// what a read finds. Both run on a waiter thread or a lane for every write and read.
//
// Run: build/dev/bench/oracle_bench
#include "engine/oracle/token.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

namespace {

namespace oracle = cachestress::oracle;

oracle::Token sample_token(std::uint64_t build) {
  oracle::Token token;
  token.build = build;
  token.kind = "builder";
  token.seq = 1;
  token.value = "index";
  return token;
}

void bm_encode_record(benchmark::State& state) {
  const auto size = static_cast<std::uint32_t>(state.range(0));
  std::uint64_t build = 0;
  std::string out;
  for (auto _ : state) {
    out.clear();
    oracle::encode_record(sample_token(++build), size, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * size);
}
BENCHMARK(bm_encode_record)->ArgName("payload")->Arg(64)->Arg(512)->Arg(64 << 10);

void bm_inspect_own(benchmark::State& state) {
  const auto size = static_cast<std::uint32_t>(state.range(0));
  std::string record;
  oracle::encode_record(sample_token(7), size, record);
  for (auto _ : state) {
    auto inspection = oracle::inspect(true, record, cachestress::model::ReadExpect::own, 7);
    benchmark::DoNotOptimize(inspection.verdict);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * size);
}
BENCHMARK(bm_inspect_own)->ArgName("payload")->Arg(64)->Arg(512)->Arg(64 << 10);

}  // namespace

BENCHMARK_MAIN();
