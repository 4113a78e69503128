#pragma once
// Two-sided Mann-Whitney U test, the test Google Benchmark's compare.py runs on repetitions
// (it calls scipy.stats.mannwhitneyu(x, y, alternative="two-sided")). We follow scipy's
// "auto" method so the p-values match what that script would print:
//   * exact: the null distribution of U counted exactly, when one sample has at most 8
//     values and there are no ties;
//   * asymptotic: the normal approximation with tie correction and continuity correction.
#include <span>

namespace cachestress::compare {

enum class UMethod { automatic, exact, asymptotic };

struct UTest {
  double u1 = 0;       // U of the first sample (scipy's statistic)
  double p_value = 1;  // two-sided
  UMethod method = UMethod::exact;  // the method actually used
};

// Throws std::invalid_argument when a sample is empty. `exact` on tied data ignores the
// ties, as scipy does.
UTest mann_whitney_u(std::span<const double> x, std::span<const double> y, UMethod method = UMethod::automatic);

// The smallest two-sided p-value samples of sizes m and n can give (complete separation, no
// ties): 2 / C(m+n, m). Above alpha, no difference can be significant (2 vs 2: 0.33).
double smallest_p_value(std::size_t m, std::size_t n);

}  // namespace cachestress::compare
