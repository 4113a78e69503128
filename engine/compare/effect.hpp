#pragma once
// The statistics behind compare's three-way verdict, each a pure function the unit tests
// drive directly:
//   * the Hodges-Lehmann shift (median of every new - base difference) with its
//     distribution-free confidence interval (order statistics of those differences at the
//     Mann-Whitney critical value: Hollander & Wolfe, Nonparametric Statistical Methods);
//   * the two-sample Kolmogorov-Smirnov test (sensitive to spread as well as shift);
//   * Holm's step-down correction over many p-values.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace cachestress::compare {

// P(U <= k) for the Mann-Whitney U of samples of sizes m and n under "same distribution"
// (no ties): exact for m*n <= 2500, the normal approximation beyond.
double u_lower_tail(std::size_t m, std::size_t n, double k);

struct Shift {
  double estimate = 0;            // Hodges-Lehmann: median of (new_j - base_i)
  std::optional<double> low, high;  // the (1 - alpha) interval; empty when the samples are too
                                    // small for any interval to reach that confidence
  double confidence = 0;          // the interval's exact confidence (>= 1 - alpha), 0 when empty
};
Shift hodges_lehmann(std::span<const double> base, std::span<const double> fresh, double alpha);

struct KsTest {
  double d = 0;        // the largest distance between the two empirical CDFs
  double p_value = 1;  // two-sided; exact lattice-path count for m + n <= 2000, else Kolmogorov's limit
};
KsTest kolmogorov_smirnov(std::span<const double> x, std::span<const double> y);

// Holm-adjusted p-values, in the input order: p_(i) * (M - i + 1), made monotone, capped at 1.
std::vector<double> holm_adjust(const std::vector<double>& p_values);

// Repetitions a side a U test would need to call an effect of `effect` (same unit as the
// values) at alpha with 80% power, given the spread `sigma` of one run: the normal
// approximation 2 ((z_a/2 + z_0.8) sigma / effect)^2 / 0.955 (the U test's efficiency), and
// never fewer than the smallest n whose best possible exact p-value, Holm-corrected over
// `tests` p-values (the smallest is multiplied by all of them), is below alpha, nor fewer
// than `more_than` + 1 (the runs that already failed to decide).
std::size_t repetitions_needed(double sigma, double effect, double alpha, std::size_t tests = 1, std::size_t more_than = 0);

}  // namespace cachestress::compare
