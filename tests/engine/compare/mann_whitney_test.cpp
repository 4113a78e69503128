// The U test must give the p-values Google Benchmark's compare.py prints: it calls
// scipy.stats.mannwhitneyu(x, y, alternative="two-sided") (method "auto"). Reference values
// below come from the definition, not from this code: exact ones by enumerating every split of
// the ranks (e.g. 3 vs 3, fully separated: 2 of C(6,3) = 20 splits are as extreme, p = 0.1),
// asymptotic ones from the normal approximation with tie and continuity correction
// (scipy's _get_mwu_z), computed independently in Python.
#include <catch2/catch.hpp>
#include <vector>

#include "engine/compare/mann_whitney.hpp"

namespace cachestress::compare {
namespace {

UTest u_test(const std::vector<double>& x, const std::vector<double>& y, UMethod method = UMethod::automatic) {
  return mann_whitney_u(x, y, method);
}

}  // namespace

TEST_CASE("fully separated small samples: exact p-values 2 / C(m+n, m)", "[unit][compare]") {
  auto r = u_test({1, 2, 3}, {4, 5, 6});
  CHECK(r.method == UMethod::exact);
  CHECK(r.u1 == 0);
  CHECK(r.p_value == Approx(0.1));
  CHECK(u_test({1, 2, 3, 4}, {5, 6, 7, 8}).p_value == Approx(2.0 / 70));
  CHECK(u_test({1, 2}, {3, 4}).p_value == Approx(1.0 / 3));
  // The direction does not matter to a two-sided test.
  CHECK(u_test({4, 5, 6}, {1, 2, 3}).p_value == Approx(0.1));
  CHECK(u_test({4, 5, 6}, {1, 2, 3}).u1 == 9);
}

TEST_CASE("interleaved samples are not significant, unequal sizes use the smaller one", "[unit][compare]") {
  auto r = u_test({1, 3, 5, 7, 9}, {2, 4, 6, 8, 10});
  CHECK(r.method == UMethod::exact);
  CHECK(r.u1 == 10);
  CHECK(r.p_value == Approx(0.6904761904761905));
  auto unequal = u_test({10, 20, 30}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(unequal.method == UMethod::exact);
  CHECK(unequal.u1 == 27);
  CHECK(unequal.p_value == Approx(0.00909090909090909));  // 2 / C(12, 3) = 2 / 220
  CHECK(u_test({1.5, 2.5, 9.0, 3.5, 4.5}, {5.5, 6.5, 7.5, 8.5, 0.5, 10.5}).p_value == Approx(0.329004329004329));
}

TEST_CASE("ties switch to the normal approximation with tie correction, as scipy's auto does", "[unit][compare]") {
  auto r = u_test({1, 2, 2, 3}, {2, 3, 4, 4});
  CHECK(r.method == UMethod::asymptotic);
  CHECK(r.u1 == 2.5);
  CHECK(r.p_value == Approx(0.13416918012812581).epsilon(1e-9));
}

TEST_CASE("large samples use the normal approximation", "[unit][compare]") {
  std::vector<double> x, y;
  for (int i = 0; i < 10; ++i) {
    x.push_back(i);
    y.push_back(i + 5.5);
  }
  auto r = u_test(x, y);
  CHECK(r.method == UMethod::asymptotic);
  CHECK(r.u1 == 10);
  CHECK(r.p_value == Approx(0.0028272720911168138).epsilon(1e-9));
}

TEST_CASE("every value equal: nothing to reject, p = 1", "[unit][compare]") {
  auto r = u_test({5, 5, 5}, {5, 5, 5});
  CHECK(r.p_value == 1.0);
  CHECK(u_test({0}, {0}).p_value == 1.0);
}

TEST_CASE("8 vs 8 without ties is still exact, forcing the approximation gives scipy's asymptotic value", "[unit][compare]") {
  const std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8}, y{5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5};
  const auto automatic = u_test(x, y);
  CHECK(automatic.method == UMethod::exact);
  CHECK(automatic.p_value == Approx(0.004662004662004662));  // 60 of C(16, 8) = 12870 splits
  const auto normal = u_test(x, y, UMethod::asymptotic);
  CHECK(normal.method == UMethod::asymptotic);
  CHECK(normal.p_value == Approx(0.0074055333405002735).epsilon(1e-9));
}

TEST_CASE("an empty sample is a usage error", "[unit][compare]") {
  CHECK_THROWS_AS(u_test({}, {1, 2}), std::invalid_argument);
}

TEST_CASE("the U test's floor: few repetitions can never reach alpha 0.05", "[unit][compare]") {
  CHECK(smallest_p_value(2, 2) == Approx(1.0 / 3));
  CHECK(smallest_p_value(3, 3) == Approx(0.1));
  CHECK(smallest_p_value(4, 4) == Approx(2.0 / 70));
  CHECK(smallest_p_value(1, 1) == 1.0);
  // The floor is what a fully separated sample actually gets.
  CHECK(u_test({1, 2, 3, 4}, {5, 6, 7, 8}).p_value == Approx(smallest_p_value(4, 4)));
}

}  // namespace cachestress::compare
