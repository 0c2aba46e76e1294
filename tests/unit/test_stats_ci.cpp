// Clopper-Pearson intervals and the normal distribution (sim/stats_ci) against closed forms,
// tabulated values and the binomial tail summed term by term here.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "sim/stats_ci.h"

namespace bayescim::sim {
namespace {

constexpr double kAlpha = 0.05;

// P(X <= k) for X ~ Binomial(n, p), summed from the probability mass function.
double binomial_cdf(int k, int n, double p) {
  double s = 0;
  for (int i = 0; i <= k; ++i)
    s += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * std::log(p) +
                  (n - i) * std::log1p(-p));
  return s;
}

// No event in n trials: the lower end is 0, and the upper end u solves P(X = 0 | u) = (1 - u)^n = alpha/2.
TEST(ClopperPearson, ZeroEventsClosedForm) {
  for (int n : {1, 2, 10, 1000, 1000000}) {
    const Interval ci = clopper_pearson(0, static_cast<std::uint64_t>(n));
    EXPECT_EQ(ci.lower, 0.0) << n;
    EXPECT_NEAR(ci.upper, 1.0 - std::pow(kAlpha / 2, 1.0 / n), 1e-12) << n;
  }
}

// n events in n trials: the upper end is 1, and the lower end l solves l^n = alpha/2.
TEST(ClopperPearson, AllEventsClosedForm) {
  for (int n : {1, 2, 10, 1000, 1000000}) {
    const Interval ci = clopper_pearson(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(n));
    EXPECT_NEAR(ci.lower, std::pow(kAlpha / 2, 1.0 / n), 1e-12) << n;
    EXPECT_EQ(ci.upper, 1.0) << n;
  }
}

// One event in two trials: P(X >= 1 | l) = 1 - (1 - l)^2 = alpha/2 and P(X <= 1 | u) = 1 - u^2 = alpha/2.
TEST(ClopperPearson, OneOfTwoClosedForm) {
  const Interval ci = clopper_pearson(1, 2);
  EXPECT_NEAR(ci.lower, 1.0 - std::sqrt(1.0 - kAlpha / 2), 1e-12);
  EXPECT_NEAR(ci.upper, std::sqrt(1.0 - kAlpha / 2), 1e-12);
}

// 5 of 10 at 95 %: the tabulated interval [0.187086, 0.812914] (e.g. R's binom.test(5, 10)).
TEST(ClopperPearson, TabulatedFiveOfTen) {
  const Interval ci = clopper_pearson(5, 10);
  EXPECT_NEAR(ci.lower, 0.187086, 1e-6);
  EXPECT_NEAR(ci.upper, 0.812914, 1e-6);
}

// The defining tail equations, checked with the binomial sum: P(X >= k | lower) = alpha/2 and
// P(X <= k | upper) = alpha/2, also at another confidence level.
TEST(ClopperPearson, EndsSolveTheTailEquations) {
  for (double level : {0.95, 0.99, 0.5})
    for (auto [k, n] : {std::pair{17, 50}, std::pair{1, 40}, std::pair{39, 40}, std::pair{3, 7}}) {
      const Interval ci = clopper_pearson(static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n), level);
      const double tail = (1 - level) / 2;
      EXPECT_NEAR(1.0 - binomial_cdf(k - 1, n, ci.lower), tail, 1e-9) << k << "/" << n << " @ " << level;
      EXPECT_NEAR(binomial_cdf(k, n, ci.upper), tail, 1e-9) << k << "/" << n << " @ " << level;
      EXPECT_LT(ci.lower, static_cast<double>(k) / n);
      EXPECT_GT(ci.upper, static_cast<double>(k) / n);
    }
}

// Swapping events and non-events mirrors the interval: [l, u] for k becomes [1 - u, 1 - l] for n - k.
TEST(ClopperPearson, Symmetric) {
  const Interval a = clopper_pearson(12, 100), b = clopper_pearson(88, 100);
  EXPECT_NEAR(a.lower, 1 - b.upper, 1e-12);
  EXPECT_NEAR(a.upper, 1 - b.lower, 1e-12);
}

// For large n the interval approaches the normal one, p +- z sqrt(p (1 - p) / n), z = 1.959963984540054.
TEST(ClopperPearson, LargeSampleMatchesNormalApproximation) {
  const double n = 1.2e6, p = 0.2, z = 1.959963984540054, half = z * std::sqrt(p * (1 - p) / n);
  const Interval ci = clopper_pearson(240000, 1200000);
  EXPECT_NEAR(ci.lower, p - half, 2e-6);
  EXPECT_NEAR(ci.upper, p + half, 2e-6);
}

TEST(ClopperPearson, NoTrialsIsTheUnitInterval) {
  const Interval ci = clopper_pearson(0, 0);
  EXPECT_EQ(ci.lower, 0.0);
  EXPECT_EQ(ci.upper, 1.0);
}

TEST(ClopperPearson, RejectsImpossibleCountsAndLevels) {
  EXPECT_THROW(clopper_pearson(3, 2), std::invalid_argument);
  EXPECT_THROW(clopper_pearson(1, 2, 0.0), std::invalid_argument);
  EXPECT_THROW(clopper_pearson(1, 2, 1.0), std::invalid_argument);
  EXPECT_THROW(clopper_pearson(1, 2, std::nan("")), std::invalid_argument);
}

// Tabulated standard normal values.
TEST(Normal, QuantileAndCdf) {
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(normal_quantile(0.8413447460685429), 1.0, 1e-12);
  EXPECT_NEAR(normal_cdf(1.959963984540054), 0.975, 1e-15);
  EXPECT_NEAR(normal_cdf(-1.0), 0.15865525393145707, 1e-15);  // = erfc(1/sqrt 2) / 2
  EXPECT_NEAR(normal_cdf(-8.0), 6.22096057427178e-16, 1e-25);  // far tail, no cancellation
  EXPECT_THROW(normal_quantile(0.0), std::invalid_argument);
  EXPECT_THROW(normal_quantile(1.0), std::invalid_argument);
}

}  // namespace
}  // namespace bayescim::sim
