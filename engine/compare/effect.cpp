#include "engine/compare/effect.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/compare/mann_whitney.hpp"

namespace cachestress::compare {
namespace {

constexpr std::size_t k_exact_u_cells = 2500;  // m*n up to this: exact null distribution
constexpr std::size_t k_exact_ks_total = 2000;  // m+n up to this: exact lattice-path count

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// The inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  const double low = 0.02425;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normal_quantile(1 - p);
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Probabilities of U = 0..m*n for sizes m, n: P_{i,j}(k) = i/(i+j) P_{i-1,j}(k-j) + j/(i+j) P_{i,j-1}(k)
// (the largest pooled value belongs to the first sample or the second).
std::vector<double> u_distribution(std::size_t m, std::size_t n) {
  std::vector<std::vector<double>> previous(n + 1), current(n + 1);
  for (std::size_t j = 0; j <= n; ++j) previous[j] = {1.0};  // i = 0: U is 0
  for (std::size_t i = 1; i <= m; ++i) {
    current[0] = {1.0};
    for (std::size_t j = 1; j <= n; ++j) {
      std::vector<double> p(i * j + 1, 0.0);
      const double from_first = static_cast<double>(i) / static_cast<double>(i + j);
      for (std::size_t k = 0; k < previous[j].size(); ++k) p[k + j] += from_first * previous[j][k];
      for (std::size_t k = 0; k < current[j - 1].size(); ++k) p[k] += (1 - from_first) * current[j - 1][k];
      current[j] = std::move(p);
    }
    std::swap(previous, current);
  }
  return previous[n];
}

}  // namespace

double u_lower_tail(std::size_t m, std::size_t n, double k) {
  if (m == 0 || n == 0) return 1;
  if (k < 0) return 0;
  if (m * n <= k_exact_u_cells) {
    const auto p = u_distribution(m, n);
    double sum = 0;
    for (std::size_t i = 0; i < p.size() && static_cast<double>(i) <= k; ++i) sum += p[i];
    return std::min(sum, 1.0);
  }
  const double mean = static_cast<double>(m * n) / 2;
  const double sd = std::sqrt(static_cast<double>(m * n) * static_cast<double>(m + n + 1) / 12);
  return normal_cdf((k + 0.5 - mean) / sd);
}

Shift hodges_lehmann(std::span<const double> base, std::span<const double> fresh, double alpha) {
  Shift s;
  if (base.empty() || fresh.empty()) return s;
  std::vector<double> diffs;
  diffs.reserve(base.size() * fresh.size());
  for (double b : base) {
    for (double f : fresh) diffs.push_back(f - b);
  }
  std::sort(diffs.begin(), diffs.end());
  const std::size_t total = diffs.size();
  s.estimate = total % 2 == 1 ? diffs[total / 2] : (diffs[total / 2 - 1] + diffs[total / 2]) / 2;
  // The interval [d_(k), d_(total+1-k)] covers the true shift with probability 1 - 2 P(U <= k-1):
  // the largest k that keeps that at least 1 - alpha.
  const std::size_t m = base.size(), n = fresh.size();
  if (m * n <= k_exact_u_cells) {
    const auto p = u_distribution(m, n);
    double tail = 0;
    std::size_t k = 0;
    while (k < total / 2 && 2 * (tail + p[k]) <= alpha) tail += p[k++];
    if (k == 0) return s;  // even [min, max] is below 1 - alpha
    s.low = diffs[k - 1];
    s.high = diffs[total - k];
    s.confidence = 1 - 2 * tail;
  } else {
    const double z = normal_quantile(1 - alpha / 2);
    const double mean = static_cast<double>(total) / 2;
    const double sd = std::sqrt(static_cast<double>(m * n) * static_cast<double>(m + n + 1) / 12);
    const auto k = static_cast<std::size_t>(std::max(1.0, std::floor(mean - z * sd)));
    s.low = diffs[k - 1];
    s.high = diffs[total - k];
    s.confidence = 1 - alpha;
  }
  return s;
}

KsTest kolmogorov_smirnov(std::span<const double> x, std::span<const double> y) {
  KsTest t;
  const std::size_t m = x.size(), n = y.size();
  if (m == 0 || n == 0) return t;
  std::vector<double> a(x.begin(), x.end()), b(y.begin(), y.end());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  // D in units of 1/(m n): |i n - j m| after all values <= v, at every distinct v.
  std::int64_t d_num = 0;
  std::size_t i = 0, j = 0;
  while (i < m || j < n) {
    const double v = j >= n || (i < m && a[i] <= b[j]) ? a[i] : b[j];
    while (i < m && a[i] == v) ++i;
    while (j < n && b[j] == v) ++j;
    d_num = std::max(d_num, std::abs(static_cast<std::int64_t>(i * n) - static_cast<std::int64_t>(j * m)));
  }
  t.d = static_cast<double>(d_num) / static_cast<double>(m * n);
  if (d_num == 0) return t;
  if (m + n <= k_exact_ks_total) {
    // Fraction of the C(m+n, m) orderings whose path stays strictly inside |i n - j m| < d_num.
    std::vector<double> row(n + 1, 0.0);
    for (std::size_t ii = 0; ii <= m; ++ii) {
      for (std::size_t jj = 0; jj <= n; ++jj) {
        const bool inside = std::abs(static_cast<std::int64_t>(ii * n) - static_cast<std::int64_t>(jj * m)) < d_num;
        double value = 0;
        if (inside) {
          if (ii == 0 && jj == 0) {
            value = 1;
          } else {
            const double total = static_cast<double>(ii + jj);
            if (ii > 0) value += row[jj] * static_cast<double>(ii) / total;
            if (jj > 0) value += row[jj - 1] * static_cast<double>(jj) / total;
          }
        }
        row[jj] = value;
      }
    }
    t.p_value = std::clamp(1 - row[n], 0.0, 1.0);
    return t;
  }
  const double ne = static_cast<double>(m * n) / static_cast<double>(m + n);
  const double lambda = (std::sqrt(ne) + 0.12 + 0.11 / std::sqrt(ne)) * t.d;
  double sum = 0;
  for (int k = 1; k <= 100; ++k) sum += (k % 2 == 1 ? 2.0 : -2.0) * std::exp(-2.0 * k * k * lambda * lambda);
  t.p_value = std::clamp(sum, 0.0, 1.0);
  return t;
}

std::vector<double> holm_adjust(const std::vector<double>& p_values) {
  const std::size_t count = p_values.size();
  std::vector<std::size_t> order(count);
  for (std::size_t i = 0; i < count; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(count);
  double running = 0;
  for (std::size_t rank = 0; rank < count; ++rank) {
    running = std::max(running, std::min(1.0, static_cast<double>(count - rank) * p_values[order[rank]]));
    adjusted[order[rank]] = running;
  }
  return adjusted;
}

std::size_t repetitions_needed(double sigma, double effect, double alpha, std::size_t tests, std::size_t more_than) {
  std::size_t floor = std::max<std::size_t>(2, more_than + 1);
  while (floor < 1000 && smallest_p_value(floor, floor) * static_cast<double>(std::max<std::size_t>(tests, 1)) >= alpha) ++floor;
  if (!(effect > 0) || !(sigma > 0)) return floor;
  const double z = normal_quantile(1 - alpha / 2) + normal_quantile(0.8);
  const double n = 2 * std::pow(z * sigma / effect, 2) / 0.955;
  if (!(n < 1e6)) return 1000000;
  return std::max(floor, static_cast<std::size_t>(std::ceil(n)));
}

}  // namespace cachestress::compare
