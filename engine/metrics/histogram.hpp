#pragma once
// Log-linear (HDR-style) latency histogram with fixed in-object storage, so per-worker
// histograms can record without allocating and be merged cheaply at report time.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace cachestress::metrics {

// Values 0..127 are exact; above, each power-of-two octave is split into 128 linear
// sub-buckets, so a reported value (bucket midpoint) is within 1/256 (0.39%) of any value
// in its bucket. Documented bound: relative error <= 1%. Merge = add counts.
class Histogram {
 public:
  static constexpr unsigned k_sub_bits = 7;
  static constexpr std::uint64_t k_sub_count = std::uint64_t{1} << k_sub_bits;  // 128
  static constexpr unsigned k_max_bits = 40;
  // ~1.1e12: 12.7 days in microseconds, far beyond any latency we measure.
  static constexpr std::uint64_t k_max_value = (std::uint64_t{1} << k_max_bits) - 1;
  // Octave with shift s holds indices [(s+1)*128, (s+2)*128); the top one has s = 32.
  static constexpr std::size_t k_bucket_count = (k_max_bits - k_sub_bits + 1) * k_sub_count;

  // Inline: this is the hot path of every worker.
  void record(std::uint64_t value) noexcept { record_n(value, 1); }
  void record_n(std::uint64_t value, std::uint64_t n) noexcept {
    if (n == 0) return;  // must not disturb min/max
    if (value > k_max_value) {
      value = k_max_value;
      m_clamped += n;
    }
    m_counts[bucket_index(value)] += n;
    m_count += n;
    m_sum = saturating_add(m_sum, saturating_mul(value, n));
    if (value < m_min) m_min = value;
    if (value > m_max) m_max = value;
  }

  void merge(const Histogram& other) noexcept;
  void reset() noexcept;

  std::uint64_t count() const noexcept { return m_count; }
  std::uint64_t min() const noexcept { return m_count == 0 ? 0 : m_min; }  // exact
  std::uint64_t max() const noexcept { return m_max; }                       // exact
  std::uint64_t sum() const noexcept { return m_sum; }  // exact, saturates at UINT64_MAX
  double mean() const noexcept;                         // sum/count, 0 when empty
  std::uint64_t clamped() const noexcept { return m_clamped; }

  // q in [0,100]; nearest-rank percentile: the smallest recorded value v such that at least
  // q% of values are <= v, reported as its bucket's midpoint but kept within [min(), max()].
  // Empty returns 0; q <= 0 returns min(), q >= 100 returns max() exactly.
  std::uint64_t percentile(double q) const noexcept;

  // Visit non-empty buckets in ascending order: fn(lowest_value, highest_value, count).
  template <typename Fn>
  void for_each_bucket(Fn&& fn) const {
    if (m_count == 0) return;
    // Buckets outside [min, max] are empty, so skip most of the 4352.
    const std::size_t last = bucket_index(m_max);
    for (std::size_t i = bucket_index(m_min); i <= last; ++i) {
      if (m_counts[i] != 0) fn(bucket_lowest(i), bucket_highest(i), m_counts[i]);
    }
  }

  // O(1): shift keeps the top 8 significant bits, so value >> shift is in [128, 255]
  // once value >= 128 (below that shift is 0 and the index is the value itself).
  static constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
    const int width = std::bit_width(value);
    const int shift = width > int{k_sub_bits} + 1 ? width - int{k_sub_bits} - 1 : 0;
    return static_cast<std::size_t>(shift) * k_sub_count + (value >> shift);
  }
  static constexpr std::uint64_t bucket_lowest(std::size_t index) noexcept {
    const unsigned shift = bucket_shift(index);
    return (index - shift * k_sub_count) << shift;
  }
  static constexpr std::uint64_t bucket_highest(std::size_t index) noexcept {
    return bucket_lowest(index) + (std::uint64_t{1} << bucket_shift(index)) - 1;
  }

 private:
  // Indices below 256 have width 1; each further block of 128 doubles the width.
  static constexpr unsigned bucket_shift(std::size_t index) noexcept {
    return index < 2 * k_sub_count ? 0u : static_cast<unsigned>(index / k_sub_count) - 1;
  }
  static constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
  }
  static constexpr std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) noexcept {
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
  }

  std::array<std::uint64_t, k_bucket_count> m_counts{};
  std::uint64_t m_count = 0;
  std::uint64_t m_sum = 0;
  std::uint64_t m_min = UINT64_MAX;  // sentinel so the first record always lowers it
  std::uint64_t m_max = 0;
  std::uint64_t m_clamped = 0;
};

}  // namespace cachestress::metrics
