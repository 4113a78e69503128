#include "engine/metrics/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace cachestress::metrics {

static_assert(Histogram::bucket_index(Histogram::k_max_value) + 1 == Histogram::k_bucket_count);
static_assert(Histogram::bucket_highest(Histogram::k_bucket_count - 1) == Histogram::k_max_value);
static_assert(Histogram::bucket_index(255) == 255 && Histogram::bucket_index(256) == 256);

void Histogram::merge(const Histogram& other) noexcept {
  if (other.m_count == 0) return;
  for (std::size_t i = 0; i < k_bucket_count; ++i) m_counts[i] += other.m_counts[i];
  m_count += other.m_count;
  m_sum = saturating_add(m_sum, other.m_sum);
  m_min = std::min(m_min, other.m_min);
  m_max = std::max(m_max, other.m_max);
  m_clamped += other.m_clamped;
}

void Histogram::reset() noexcept {
  m_counts.fill(0);
  m_count = 0;
  m_sum = 0;
  m_min = UINT64_MAX;
  m_max = 0;
  m_clamped = 0;
}

double Histogram::mean() const noexcept {
  return m_count == 0 ? 0.0 : static_cast<double>(m_sum) / static_cast<double>(m_count);
}

std::uint64_t Histogram::percentile(double q) const noexcept {
  if (m_count == 0) return 0;
  if (!(q > 0.0)) return min();  // also catches NaN
  if (q >= 100.0) return m_max;

  // Nearest rank = ceil(q% of count). Shave a relative epsilon first so that e.g.
  // 99.9% of 100000, which comes out as 99900.00000000001, is rank 99900 not 99901.
  const double exact_rank = q / 100.0 * static_cast<double>(m_count);
  const double rounded = std::ceil(exact_rank * (1.0 - 1e-12));
  std::uint64_t rank = static_cast<std::uint64_t>(rounded);
  rank = std::clamp<std::uint64_t>(rank, 1, m_count);

  std::uint64_t seen = 0;
  const std::size_t last = bucket_index(m_max);
  for (std::size_t i = bucket_index(m_min); i <= last; ++i) {
    seen += m_counts[i];
    if (seen >= rank) {
      const std::uint64_t lowest = bucket_lowest(i);
      const std::uint64_t midpoint = lowest + (bucket_highest(i) - lowest) / 2;
      return std::clamp(midpoint, m_min, m_max);
    }
  }
  return m_max;  // unreachable: the counts sum to m_count
}

}  // namespace cachestress::metrics
