#include "engine/compare/mann_whitney.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace cachestress::compare {
namespace {

// scipy's threshold for "auto": exact when one sample is this small and nothing ties.
constexpr std::size_t k_exact_max_small = 8;
// Beyond this the exact counts could overflow 64 bits (C(400+8, 8) < 2^63); the normal
// approximation is excellent there anyway.
constexpr std::size_t k_exact_max_large = 400;

struct Ranked {
  double rank_sum_x = 0;  // sum of the (average) ranks of x in the pooled sample
  double tie_term = 0;    // sum over tie groups of t^3 - t
  bool ties = false;
};

Ranked rank(std::span<const double> x, std::span<const double> y) {
  struct Value {
    double v;
    bool from_x;
  };
  std::vector<Value> pooled;
  pooled.reserve(x.size() + y.size());
  for (double v : x) pooled.push_back({v, true});
  for (double v : y) pooled.push_back({v, false});
  std::sort(pooled.begin(), pooled.end(), [](const Value& a, const Value& b) { return a.v < b.v; });
  Ranked r;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].v == pooled[i].v) ++j;
    const double t = static_cast<double>(j - i);
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ranks i+1..j
    for (std::size_t k = i; k < j; ++k) {
      if (pooled[k].from_x) r.rank_sum_x += average_rank;
    }
    if (t > 1) {
      r.ties = true;
      r.tie_term += t * t * t - t;
    }
    i = j;
  }
  return r;
}

// P(U >= u) under the null hypothesis for samples of sizes m and n. The number of
// arrangements with U = k is the coefficient of q^k in the Gaussian binomial
// [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), built one factor at a time;
// every intermediate quotient is itself a Gaussian binomial, so the division is exact.
double exact_upper_tail(std::size_t m, std::size_t n, double u) {
  std::vector<std::int64_t> poly{1};
  for (std::size_t i = 1; i <= m; ++i) {
    const std::size_t shift = n + i;
    std::vector<std::int64_t> product(poly.size() + shift, 0);
    for (std::size_t k = 0; k < poly.size(); ++k) {
      product[k] += poly[k];
      product[k + shift] -= poly[k];
    }
    std::vector<std::int64_t> quotient(product.size() - i, 0);
    for (std::size_t k = 0; k < quotient.size(); ++k) quotient[k] = product[k] + (k >= i ? quotient[k - i] : 0);
    poly = std::move(quotient);
  }
  double total = 0, tail = 0;
  for (std::size_t k = 0; k < poly.size(); ++k) {
    total += static_cast<double>(poly[k]);
    if (static_cast<double>(k) >= u) tail += static_cast<double>(poly[k]);
  }
  return tail / total;
}

}  // namespace

UTest mann_whitney_u(std::span<const double> x, std::span<const double> y, UMethod method) {
  if (x.empty() || y.empty()) throw std::invalid_argument("mann_whitney_u: both samples need at least one value");
  const double n1 = static_cast<double>(x.size());
  const double n2 = static_cast<double>(y.size());
  const Ranked r = rank(x, y);

  UTest result;
  result.u1 = r.rank_sum_x - n1 * (n1 + 1) / 2;
  const double u2 = n1 * n2 - result.u1;
  const double u = std::max(result.u1, u2);  // two-sided: the larger statistic's upper tail, doubled

  const std::size_t small = std::min(x.size(), y.size());
  const std::size_t large = std::max(x.size(), y.size());
  if (method == UMethod::automatic) {
    method = small <= k_exact_max_small && large <= k_exact_max_large && !r.ties ? UMethod::exact : UMethod::asymptotic;
  }
  if (method == UMethod::exact && large > k_exact_max_large) method = UMethod::asymptotic;
  result.method = method;

  double one_sided = 1;
  if (method == UMethod::exact) {
    // U's distribution is symmetric in (m, n); a tied (half-integer) U rounds down, as scipy's.
    one_sided = exact_upper_tail(small, large, std::floor(u));
  } else {
    const double n = n1 + n2;
    const double mean = n1 * n2 / 2;
    const double variance = n1 * n2 / 12 * ((n + 1) - r.tie_term / (n * (n - 1)));
    // Every value tied: U cannot differ from its mean, nothing to reject.
    if (!(variance > 0)) return result;
    const double z = (u - mean - 0.5) / std::sqrt(variance);  // continuity correction
    one_sided = 0.5 * std::erfc(z / std::sqrt(2.0));           // normal survival function
  }
  result.p_value = std::clamp(2 * one_sided, 0.0, 1.0);
  return result;
}

double smallest_p_value(std::size_t m, std::size_t n) {
  double arrangements = 1;  // C(m+n, m), built as a product of ratios
  for (std::size_t i = 1; i <= std::min(m, n); ++i) {
    arrangements = arrangements * static_cast<double>(std::max(m, n) + i) / static_cast<double>(i);
  }
  return std::min(1.0, 2 / arrangements);
}

}  // namespace cachestress::compare
