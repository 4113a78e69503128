#pragma once
// A small, fully specified PRNG (SplitMix64) so a seed gives the same build order, kinds
// and operation choices on every machine and standard library.
#include <cmath>
#include <cstdint>
#include <vector>

namespace cachestress::ops {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound] inclusive.
  std::uint64_t upto(std::uint64_t bound) noexcept { return bound == 0 ? 0 : next() % (bound + 1); }
  // Uniform in (0, 1].
  double unit() noexcept { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
  // Exponential with the given rate (Poisson arrivals).
  double exponential(double rate) noexcept { return -std::log(unit()) / rate; }
  // Index chosen with probability proportional to weights[i].
  std::size_t weighted(const std::vector<std::uint64_t>& cumulative) noexcept {
    std::uint64_t pick = next() % cumulative.back();
    std::size_t i = 0;
    while (cumulative[i] <= pick) ++i;
    return i;
  }

 private:
  std::uint64_t m_state;
};

}  // namespace cachestress::ops
