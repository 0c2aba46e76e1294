// The hot kernels against the plain loops they replace: the analog column summation
// (hw/tile.cpp's bitwise loop), the bit-packed im2col row builder and the OR max-pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "hw/physics/kernels.h"
#include "models/compiled.h"
#include "tests/util/tiny_net.h"

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
  for (const auto& [lo, rows] :
       {std::pair{0, 1}, {0, 7}, {0, 63}, {5, 100}, {64, 130}, {17, 449}, {0, 511}, {3, 509}}) {
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
  const double expect = (s[0] + s[1]) + (s[2] + s[3]);
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

TEST(Kernels, NibbleSelectorsPackFourRowsPerByte) {
  // Rows 3..9 of x = 0b1010110100, a = 0b1111001100, as in the selector test above:
  // rows 3-6: active 1,0,0,1 -> 0b1001, plus 0,0,0,0; rows 7-9: active 1,1,1 -> 0b111, plus 1,0,1 -> 0b101.
  const std::uint64_t x = 0b1010110100, a = 0b1111001100;
  std::uint8_t nib[2] = {0xEE, 0xEE};
  expand_selector_nibbles(&x, &a, 3, 7, nib);
  EXPECT_EQ(nib[0], 0b0000'1001);
  EXPECT_EQ(nib[1], 0b0101'0111);
}

TEST(Kernels, NibbleSumsEqualTheSelectorSumsBitForBit) {
  // Every column of a read group straight from the bits (the tile's analog path) against
  // expand_selectors + conductance_sum, with ==: unaligned first rows, row counts that leave a
  // partial group of 4 and of 64, column counts that leave a partial block of 4. Some rows carry a
  // conductance 2^30 times the others, so a different order of additions would round differently
  // (checked below against the serial order).
  bool order_sensitive = false;
  for (const auto& [lo, size, cols] : {std::tuple{0, 1, 1}, {0, 7, 3}, {5, 100, 4}, {64, 130, 9}, {17, 449, 13},
                                       {3, 509, 128}, {0, 512, 130}}) {
    const int stride = lo + size + 3;  // column c's rows at c * stride; this group is rows [lo, lo + size)
    std::mt19937_64 rng(static_cast<std::uint64_t>(lo * 7919 + size * 31 + cols));
    std::vector<double> ga(static_cast<std::size_t>(stride) * cols), gb(ga.size());
    for (std::size_t i = 0; i < ga.size(); ++i) {
      ga[i] = (1.0 + (rng() % 1000) / 997.0) * (rng() % 17 == 0 ? std::ldexp(1.0, 30) : 1.0);
      gb[i] = (1.0 + (rng() % 1000) / 991.0) * (rng() % 19 == 0 ? std::ldexp(1.0, 30) : 1.0);
    }
    std::vector<std::uint64_t> x(static_cast<std::size_t>((stride + 63) / 64)), a(x.size());
    for (auto& w : x) w = rng();
    for (auto& w : a) w = rng() | rng();
    std::vector<double> sa(size), sb(size);
    expand_selectors(x.data(), a.data(), lo, lo + size, sa.data(), sb.data());
    std::vector<std::uint8_t> nib(static_cast<std::size_t>((size + 3) / 4));
    expand_selector_nibbles(x.data(), a.data(), lo, size, nib.data());
    std::vector<double> fast(cols, -1.0), scalar(cols, -1.0);
    conductance_sums_nibbles(ga.data() + lo, gb.data() + lo, stride, nib.data(), size, cols, fast.data());
    conductance_sums_nibbles_scalar(ga.data() + lo, gb.data() + lo, stride, nib.data(), size, cols, scalar.data());
    for (int c = 0; c < cols; ++c) {
      const double* gac = ga.data() + static_cast<std::size_t>(c) * stride + lo;
      const double* gbc = gb.data() + static_cast<std::size_t>(c) * stride + lo;
      const double want = conductance_sum(gac, gbc, sa.data(), sb.data(), size);
      EXPECT_EQ(fast[c], want) << "rows " << lo << "+" << size << " column " << c << " of " << cols;
      EXPECT_EQ(scalar[c], want) << "rows " << lo << "+" << size << " column " << c << " of " << cols;
      if (conductance_sum_serial(gac, gbc, sa.data(), sb.data(), size) != want) order_sensitive = true;
    }
  }
  EXPECT_TRUE(order_sensitive) << "the data should make the order of additions visible";
}

// The definition of CompiledLayer::rows_at, one row at a time: a row is active unless it reads
// padding or is dropped (its channel for spatial, bit position * in + r for mc_dropout), and x
// holds the input bit of active rows only.
void plain_rows_at(const models::CompiledLayer& l, int p, const std::uint64_t* input, const std::uint64_t* mask,
                   std::uint64_t* x, std::uint64_t* act) {
  std::fill(x, x + l.words, 0);
  std::fill(act, act + l.words, 0);
  for (int r = 0; r < l.in; ++r) {
    const int e = l.gather[static_cast<std::size_t>(p) * l.in + r];
    if (e < 0) continue;
    if (l.dropout && l.dropout_kind == models::DropoutKind::Spatial && models::get_bit(mask, r / (l.src->k * l.src->k)))
      continue;
    if (l.dropout && l.dropout_kind == models::DropoutKind::McDropout && models::get_bit(mask, p * l.in + r)) continue;
    models::set_bit(act, r, true);
    models::set_bit(x, r, models::get_bit(input, e));
  }
}

TEST(Kernels, BatchedSumsEqualOneSetAtATime) {
  // 11 sets (a partial block of 8), 133 rows (a partial lane group), 3 columns.
  const int rows = 133, cols = 3, sets = 11;
  const Case c = random_case(rows * cols, rows * sets, 21);
  std::vector<double> sa(static_cast<std::size_t>(rows) * sets), sb(sa.size()),
      g(static_cast<std::size_t>(sets) * cols);
  std::mt19937_64 rng(4);
  std::vector<std::uint64_t> x(3), a(3);
  for (int s = 0; s < sets; ++s) {
    for (auto& w : x) w = rng();
    for (auto& w : a) w = rng() | rng();
    expand_selectors(x.data(), a.data(), 0, rows, sa.data() + s * rows, sb.data() + s * rows);
  }
  conductance_sums_batch(c.ga.data(), c.gb.data(), sa.data(), sb.data(), rows, cols, sets, g.data());
  for (int s = 0; s < sets; ++s)
    for (int col = 0; col < cols; ++col)
      EXPECT_EQ(g[s * cols + col], conductance_sum(c.ga.data() + col * rows, c.gb.data() + col * rows,
                                                   sa.data() + s * rows, sb.data() + s * rows, rows))
          << "set " << s << " column " << col;
}

// The integer form of the SA reference index benchmarked in bench/kernels.cpp (BM_SaDecisions):
// ceil(s / 2) = (s + 1) >> 1 and floor(s / 2) + 1 = (s >> 1) + 1 for every s = a + N, negative too.
TEST(SaReference, IntegerFormEqualsTheFloatingForm) {
  for (int s = -5000; s <= 5000; ++s) {
    ASSERT_EQ((s + 1) >> 1, static_cast<int>(std::ceil(s / 2.0))) << s;
    ASSERT_EQ((s >> 1) + 1, static_cast<int>(std::floor(s / 2.0)) + 1) << s;
  }
}

class PackedIm2col : public ::testing::TestWithParam<models::DropoutKind> {};

TEST_P(PackedIm2col, RowsAtMatchesThePlainDefinition) {
  // 8 channels of 9x9, 3x3 stride 2 pad 1: 72 rows (two words), 25 positions whose mc_dropout
  // masks start at unaligned bits, padding at the borders.
  models::Network n;
  n.source = "im2col";
  n.input_c = 8;
  n.input_h = n.input_w = 9;
  n.input_size = 8 * 81;
  n.layers.push_back(testing::conv("conv1", 8, 9, 9, 3, 3, 2, 1, 0));
  n.layers.push_back(testing::dense("fc1", 75, 4, false));
  testing::finish(n, GetParam(), 0.5, 3, {"conv1"});
  const models::CompiledNetwork c(n);
  const auto& l = c.layers[0];
  ASSERT_EQ(l.dropout, GetParam() != models::DropoutKind::None);
  std::mt19937_64 rng(11);
  std::vector<std::uint64_t> input(models::words_for(n.input_size));
  std::vector<std::uint64_t> mask(std::max<std::size_t>(models::words_for(static_cast<int>(l.draws_per_sample())), 1));
  std::vector<std::uint64_t> x(l.words), act(l.words), px(l.words), pact(l.words);
  for (int trial = 0; trial < 20; ++trial) {
    for (auto& w : input) w = rng();
    for (auto& w : mask) w = rng();
    for (int p = 0; p < l.src->positions(); ++p) {
      l.rows_at(p, input.data(), mask.data(), x.data(), act.data());
      plain_rows_at(l, p, input.data(), mask.data(), px.data(), pact.data());
      ASSERT_EQ(act, pact) << "position " << p;
      ASSERT_EQ(x, px) << "position " << p;
    }
    // The gather kept per image (rows_at without a mask), then each sample's mask applied to all
    // positions at once: the same drive as the definition.
    const std::size_t n_all = static_cast<std::size_t>(l.src->positions()) * l.words;
    std::vector<std::uint64_t> x0(n_all), a0(n_all), xm(n_all), am(n_all);
    for (int p = 0; p < l.src->positions(); ++p)
      l.rows_at(p, input.data(), nullptr, x0.data() + p * l.words, a0.data() + p * l.words);
    l.mask_rows(mask.data(), x0.data(), a0.data(), xm.data(), am.data());
    for (int p = 0; p < l.src->positions(); ++p) {
      plain_rows_at(l, p, input.data(), mask.data(), px.data(), pact.data());
      ASSERT_TRUE(std::equal(pact.begin(), pact.end(), am.begin() + p * l.words)) << "mask_rows position " << p;
      ASSERT_TRUE(std::equal(px.begin(), px.end(), xm.begin() + p * l.words)) << "mask_rows position " << p;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, PackedIm2col,
                         ::testing::Values(models::DropoutKind::None, models::DropoutKind::Spatial,
                                           models::DropoutKind::McDropout));

// The SA-path column kernel against its definition, one position, word and bit at a time: every
// count of 0..20 positions (a partial 8-lane block and a masked tail) and 70 (a second output
// word) over 1..9 words, words stored word-major at a stride larger than the count, thresholds of
// both signs with and without inversion (and the constant-output ones the tile passes).
// The exact-ADC column kernel: each position's matching active rows, counted bit by bit here; the
// output past n is untouched.
TEST(Kernels, PositionCountsOfOneColumnMatchTheDefinition) {
  std::mt19937_64 rng(21);
  for (std::size_t words = 1; words <= 5; ++words)
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{31}, std::size_t{70}}) {
      const std::size_t stride = n + 2;
      std::vector<std::uint64_t> x(words * stride), a(words * stride), wc(words);
      for (auto& v : x) v = rng();
      for (auto& v : a) v = rng() & rng();
      for (auto& v : wc) v = rng();
      std::vector<std::int32_t> fast(n + 1, -7), scalar(n + 1, -7);
      const std::uint64_t sf = xnor_column_counts(x.data(), a.data(), stride, wc.data(), words, n, fast.data());
      const std::uint64_t ss = xnor_column_counts_scalar(x.data(), a.data(), stride, wc.data(), words, n, scalar.data());
      std::uint64_t sum = 0;
      for (std::size_t i = 0; i < n; ++i) {
        int m = 0;
        for (std::size_t w = 0; w < words; ++w)
          for (int b = 0; b < 64; ++b)
            m += ((a[w * stride + i] >> b) & 1U) && (((x[w * stride + i] >> b) & 1U) == ((wc[w] >> b) & 1U)) ? 1 : 0;
        sum += static_cast<std::uint64_t>(m);
        ASSERT_EQ(fast[i], m) << words << " words, " << n << " positions, " << i;
        ASSERT_EQ(scalar[i], m);
      }
      EXPECT_EQ(sf, sum);
      EXPECT_EQ(ss, sum);
      EXPECT_EQ(fast[n], -7);
      EXPECT_EQ(scalar[n], -7);
    }
}

TEST(Kernels, SaColumnMatchesTheDefinition) {
  std::mt19937_64 rng(12);
  std::vector<std::size_t> counts;
  for (std::size_t n = 0; n <= 20; ++n) counts.push_back(n);
  counts.push_back(70);
  int ones = 0, zeros = 0;
  for (std::size_t words = 1; words <= 9; ++words)
    for (std::size_t n : counts)
      for (const auto& [thr, invert] : {std::pair{0, false}, {7, false}, {-5, true}, {3, true}, {-(1 << 28), false},
                                        {1 << 28, false}}) {
        const std::size_t stride = n + 3;
        std::vector<std::uint64_t> x(words * stride), a(words * stride), wc(words);
        for (auto& v : x) v = rng();
        for (auto& v : a) v = rng() | rng();
        for (auto& v : wc) v = rng();
        std::vector<std::int32_t> act(n);
        for (std::size_t i = 0; i < n; ++i) {
          act[i] = 0;
          for (std::size_t w = 0; w < words; ++w) act[i] += __builtin_popcountll(a[w * stride + i]);
        }
        const std::size_t out_words = n / 64 + 1;
        std::vector<std::uint64_t> fast(out_words + 1, 0xdead), scalar(out_words + 1, 0xdead);
        const std::uint64_t sum_fast =
            sa_column(x.data(), a.data(), stride, wc.data(), words, n, act.data(), thr, invert, fast.data());
        const std::uint64_t sum_scalar =
            sa_column_scalar(x.data(), a.data(), stride, wc.data(), words, n, act.data(), thr, invert, scalar.data());
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < n; ++i) {
          int m = 0;
          for (std::size_t w = 0; w < words; ++w)
            for (int b = 0; b < 64; ++b) {
              const bool on = (a[w * stride + i] >> b) & 1U;
              const bool agree = ((x[w * stride + i] >> b) & 1U) == ((wc[w] >> b) & 1U);
              m += on && agree ? 1 : 0;
            }
          sum += static_cast<std::uint64_t>(m);
          // 2m - N >= A (or <= A when inverted), the decision the SA stands for.
          const long pre = 2L * m - act[i];
          const bool want = invert ? pre <= thr : pre >= thr;
          (want ? ones : zeros) += 1;
          ASSERT_EQ(((fast[i / 64] >> (i % 64)) & 1U) != 0, want) << words << " words, " << n << " positions, " << i;
          ASSERT_EQ(((scalar[i / 64] >> (i % 64)) & 1U) != 0, want) << words << " words, " << n << " positions, " << i;
        }
        EXPECT_EQ(sum_fast, sum);
        EXPECT_EQ(sum_scalar, sum);
        if (n > 0)
          for (std::size_t i = n; i < (n + 63) / 64 * 64; ++i) {
            ASSERT_EQ((fast[i / 64] >> (i % 64)) & 1U, 0U) << "bit past the last position " << i;
            ASSERT_EQ((scalar[i / 64] >> (i % 64)) & 1U, 0U) << "bit past the last position " << i;
          }
        EXPECT_EQ(fast[out_words], 0xdeadU) << "wrote past the last output word";
      }
  EXPECT_GT(ones, 1000);
  EXPECT_GT(zeros, 1000);
}

// The dense read kernel (one position, columns in the lanes) against its definition, bit by bit:
// 0..20 and 130 columns (partial 8-lane blocks), 1..9 words.
TEST(Kernels, ColumnCountsMatchTheDefinition) {
  std::mt19937_64 rng(13);
  for (std::size_t words = 1; words <= 9; ++words)
    for (std::size_t cols : {0, 1, 2, 7, 8, 9, 15, 16, 17, 20, 130}) {
      std::vector<std::uint64_t> x(words), a(words), wt(words * cols);
      for (auto& v : x) v = rng();
      for (auto& v : a) v = rng() | rng();
      for (auto& v : wt) v = rng();
      std::vector<std::int32_t> fast(cols + 1, -7), scalar(cols + 1, -7);
      xnor_counts_columns(x.data(), a.data(), wt.data(), words, cols, fast.data());
      xnor_counts_columns_scalar(x.data(), a.data(), wt.data(), words, cols, scalar.data());
      for (std::size_t c = 0; c < cols; ++c) {
        int m = 0;
        for (std::size_t w = 0; w < words; ++w)
          for (int b = 0; b < 64; ++b)
            m += ((a[w] >> b) & 1U) && ((x[w] >> b) & 1U) == ((wt[w * cols + c] >> b) & 1U) ? 1 : 0;
        ASSERT_EQ(fast[c], m) << words << " words, " << cols << " columns, column " << c;
        ASSERT_EQ(scalar[c], m) << words << " words, " << cols << " columns, column " << c;
      }
      EXPECT_EQ(fast[cols], -7) << "wrote past the last column";
      EXPECT_EQ(scalar[cols], -7) << "wrote past the last column";
    }
}

TEST(OrPool, MatchesTheWindowDefinition) {
  std::mt19937_64 rng(5);
  // Rows narrower than a word (word-wise path, rows straddling words; odd and 64-wide rows under
  // 2x2 windows) and wider (bitwise path).
  for (const auto& [c, h, w, k] : {std::array{3, 28, 28, 2}, {5, 14, 14, 2}, {2, 9, 9, 3}, {2, 4, 70, 2}, {3, 7, 15, 2}, {1, 2, 64, 2}}) {
    std::vector<std::uint64_t> in(models::words_for(c * h * w));
    for (auto& v : in) v = rng() & rng() & rng();  // sparse ones, so windows differ
    const int ho = h / k, wo = w / k;
    std::vector<std::uint64_t> out(models::words_for(c * ho * wo) + 1, ~std::uint64_t{0});
    models::or_pool(in.data(), c, h, w, k, out.data());
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < ho; ++y)
        for (int x = 0; x < wo; ++x) {
          bool any = false;
          for (int dy = 0; dy < k; ++dy)
            for (int dx = 0; dx < k; ++dx) any |= models::get_bit(in.data(), (ch * h + y * k + dy) * w + x * k + dx);
          ASSERT_EQ(models::get_bit(out.data(), (ch * ho + y) * wo + x), any) << c << "x" << h << "x" << w;
        }
    for (int i = c * ho * wo; i < static_cast<int>(models::words_for(c * ho * wo)) * 64; ++i)
      ASSERT_FALSE(models::get_bit(out.data(), i)) << "bit past the output " << i;
  }
}

}  // namespace
}  // namespace bayescim::hw
