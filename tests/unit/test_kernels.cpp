// The analog column-summation kernels against the bitwise loop they replace (hw/tile.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "hw/physics/kernels.h"

namespace bayescim::hw {
namespace {

// The loop of the analog read path: over rows [lo, hi), the conducting MTJ of every active row.
double naive(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, const double* ga, const double* gb) {
  double g = 0;
  for (int r = lo; r < hi; ++r)
    if ((a[r / 64] >> (r % 64)) & 1U) g += ((x[r / 64] >> (r % 64)) & 1U) ? ga[r - lo] : gb[r - lo];
  return g;
}

struct Case {
  std::vector<std::uint64_t> x, a;
  std::vector<double> ga, gb;
};

// Conductances around 1/3k and 1/6k S with lognormal spread; about 30 % of rows gated off.
Case random_case(int rows, int total_rows, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> spread(0.0, 0.1);
  Case c;
  c.x.resize((total_rows + 63) / 64);
  c.a.resize(c.x.size());
  for (auto& w : c.x) w = rng();
  for (auto& w : c.a) w = rng() | rng();  // P(active) = 3/4
  for (int r = 0; r < rows; ++r) {
    const bool plus = rng() & 1U;
    c.ga.push_back((plus ? 1.0 / 3000 : 1.0 / 6000) * spread(rng));
    c.gb.push_back((plus ? 1.0 / 6000 : 1.0 / 3000) * spread(rng));
  }
  return c;
}

TEST(Kernels, SelectorsMarkTheConductingMtjOfEachActiveRow) {
  // Rows 3..9 of x = 0b1010110100, a = 0b1111001100 (bit r = row r).
  const std::uint64_t x = 0b1010110100, a = 0b1111001100;
  std::vector<double> sa(7), sb(7);
  expand_selectors(&x, &a, 3, 10, sa.data(), sb.data());
  //                 row:              3  4  5  6  7  8  9
  EXPECT_EQ(sa, (std::vector<double>{0, 0, 0, 0, 1, 0, 1}));
  EXPECT_EQ(sb, (std::vector<double>{1, 0, 0, 1, 0, 1, 0}));
}

TEST(Kernels, ConductanceSumMatchesTheBitwiseLoop) {
  // Odd sizes and unaligned first rows: tails of the 8 lanes and of the 64-bit words.
  for (const auto& [lo, rows] : {std::pair{0, 1}, {0, 7}, {0, 63}, {5, 100}, {64, 130}, {17, 449}, {0, 511}, {3, 509}}) {
    const Case c = random_case(rows, lo + rows, static_cast<std::uint64_t>(lo * 1000 + rows));
    std::vector<double> sa(rows), sb(rows);
    expand_selectors(c.x.data(), c.a.data(), lo, lo + rows, sa.data(), sb.data());
    const double ref = naive(c.x.data(), c.a.data(), lo, lo + rows, c.ga.data(), c.gb.data());
    const double fast = conductance_sum(c.ga.data(), c.gb.data(), sa.data(), sb.data(), rows);
    EXPECT_LE(std::abs(fast - ref), 1e-12 * std::abs(ref)) << "rows " << lo << ".." << lo + rows;
    // The serial variant keeps the loop's own order: not a bit may change.
    EXPECT_EQ(conductance_sum_serial(c.ga.data(), c.gb.data(), sa.data(), sb.data(), rows), ref);
  }
}

TEST(Kernels, ConductanceSumFollowsTheDocumentedLaneOrder) {
  // One term of 2^53 and many of about 1: in row order every small term is rounded away, so the
  // result tells the order of the additions.
  const int n = 29;
  std::vector<double> ga(n), gb(n, 7.0), sa(n, 1.0), sb(n, 0.0);
  for (int i = 0; i < n; ++i) ga[i] = i == 0 ? std::ldexp(1.0, 53) : 1.0 + i / 64.0;
  double s[kConductanceLanes] = {};
  for (int i = 0; i < n; ++i) s[i % kConductanceLanes] += ga[i];
  const double expect = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
  EXPECT_EQ(conductance_sum(ga.data(), gb.data(), sa.data(), sb.data(), n), expect);
  // The data is order-sensitive: plain row order rounds differently.
  EXPECT_NE(conductance_sum_serial(ga.data(), gb.data(), sa.data(), sb.data(), n), expect);
  // Gated rows add nothing, whatever their conductance.
  std::fill(sa.begin(), sa.end(), 0.0);
  EXPECT_EQ(conductance_sum(ga.data(), gb.data(), sa.data(), sb.data(), n), 0.0);
}

TEST(Kernels, ConductanceSumsCoverEveryColumn) {
  const int rows = 77, cols = 5;
  const Case c = random_case(rows * cols, rows, 9);
  std::vector<double> sa(rows), sb(rows), g(cols);
  expand_selectors(c.x.data(), c.a.data(), 0, rows, sa.data(), sb.data());
  conductance_sums(c.ga.data(), c.gb.data(), sa.data(), sb.data(), rows, cols, g.data());
  for (int col = 0; col < cols; ++col)
    EXPECT_EQ(g[col], conductance_sum(c.ga.data() + col * rows, c.gb.data() + col * rows, sa.data(), sb.data(), rows));
}

}  // namespace
}  // namespace bayescim::hw
