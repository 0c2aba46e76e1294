// The bit-packed executor against the plain element-by-element definition.
#include <gtest/gtest.h>

#include "models/compiled.h"
#include "models/reference_executor.h"
#include "tests/util/tiny_net.h"

namespace bayescim::models {
namespace {

class ExecutorParity : public ::testing::TestWithParam<std::vector<int>> {};

TEST_P(ExecutorParity, MatchesPlainDefinitionForEveryDropPattern) {
  const auto net = testing::random_network(GetParam(), 42);
  const CompiledNetwork c(net);
  ReferenceExecutor exec(c);
  const int L = net.dropout_layers();
  std::vector<float> logits(net.classes);
  for (int img = 0; img < 40; ++img) {
    const auto px = testing::random_pixels(net.input_size, 1000 + img);
    for (int pattern = 0; pattern < (1 << L); ++pattern) {
      std::vector<std::uint8_t> bits(L);
      for (int b = 0; b < L; ++b) bits[b] = (pattern >> b) & 1;
      exec.forward(px.data(), bits, logits.data());
      const auto want = testing::plain_forward(net, px.data(), bits);
      for (int k = 0; k < net.classes; ++k) EXPECT_NEAR(logits[k], want[k], 1e-4) << "img " << img << " bits " << pattern;
    }
  }
}

// Fan-ins below, at and above one 64-bit word, and not multiples of 64.
INSTANTIATE_TEST_SUITE_P(Sizes, ExecutorParity,
                         ::testing::Values(std::vector<int>{5, 3, 2}, std::vector<int>{64, 64, 4},
                                           std::vector<int>{130, 70, 33, 10}, std::vector<int>{784, 96, 10}));

TEST(ExecutorDrop, DroppedScaleChangesOutputsAndZeroReadingIsConstant) {
  auto net = testing::random_network({50, 40, 6}, 7);
  // With dropped alpha = 0 the first layer's pre-activation no longer depends on the input.
  DropoutSpec spec = net.dropout;
  spec.scale_dropped_value = 0.0;
  net.apply_dropout(spec);
  const CompiledNetwork c(net);
  ReferenceExecutor exec(c);
  std::vector<float> a(6), b(6);
  const auto p1 = testing::random_pixels(50, 1), p2 = testing::random_pixels(50, 2);
  exec.forward(p1.data(), {1, 0}, a.data());
  exec.forward(p2.data(), {1, 0}, b.data());
  for (int k = 0; k < 6; ++k) EXPECT_FLOAT_EQ(a[k], b[k]);
  exec.forward(p1.data(), {0, 0}, b.data());
  bool differs = false;
  for (int k = 0; k < 6; ++k) differs |= a[k] != b[k];
  EXPECT_TRUE(differs);
}

TEST(CompiledThresholds, AgreeWithBatchNormSignAtEveryPreactivation) {
  const auto net = testing::random_network({33, 20, 3}, 9);
  const CompiledNetwork c(net);
  const auto& l = c.layers[0];
  for (int d = 0; d < 2; ++d)
    for (int o = 0; o < l.out; ++o)
      for (int a = -l.in; a <= l.in; ++a)
        EXPECT_EQ(l.threshold[d][o].fires(a), l.preactivation(o, a, d == 1) >= 0.0) << "o " << o << " a " << a;
}

// Conv (padding, stride, pooling) and the three dropout kinds against the plain definition, with
// masks drawn at random and handed to both.
class CnnParity : public ::testing::TestWithParam<DropoutKind> {};

TEST_P(CnnParity, MatchesPlainDefinition) {
  const auto net = testing::random_cnn(21, GetParam(), 0.3);
  const CompiledNetwork c(net);
  ReferenceExecutor exec(c);
  std::vector<float> logits(net.classes);
  std::mt19937_64 rng(99);
  int dropped = 0;
  for (int img = 0; img < 30; ++img) {
    const auto px = testing::random_pixels(net.input_size, 300 + img);
    for (int t = 0; t < 4; ++t) {
      std::vector<std::uint8_t> draws(c.draws_per_sample);
      for (auto& d : draws) d = (rng() % 10) < 3;
      SampleMasks m;
      c.fill_masks(m, [&](std::size_t i) { return draws.at(i) != 0; });
      exec.forward(px.data(), m, logits.data());
      const auto want = testing::plain_forward(net, px.data(), [&](std::size_t l, std::size_t i) {
        return draws.at(c.draw_offset[l] + i) != 0;
      });
      for (int k = 0; k < net.classes; ++k) EXPECT_NEAR(logits[k], want[k], 1e-4) << "img " << img;
      for (auto d : draws) dropped += d;
    }
  }
  if (GetParam() != DropoutKind::None) {
    EXPECT_GT(dropped, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, CnnParity,
                         ::testing::Values(DropoutKind::None, DropoutKind::McDropout, DropoutKind::Spatial,
                                           DropoutKind::Scale));

// A k-bit first layer read bit-serially (k reads per position, the planes' 2 m_b - active_b
// shifted and added) equals the plain integer dot product sum_i w_i q_i, for every dropout kind
// (a dropped row stays off in every plane) and with the dense MLP and the CNN.
class BitSerialParity : public ::testing::TestWithParam<std::tuple<DropoutKind, int>> {};

TEST_P(BitSerialParity, MatchesPlainIntegerDefinition) {
  const auto [kind, k] = GetParam();
  auto cnn = testing::random_cnn(23, kind, 0.3);
  testing::use_input_bits(cnn, k);
  auto mlp = testing::random_network({100, 12, 5}, 24, kind == DropoutKind::Scale, 0.3);
  testing::use_input_bits(mlp, k);
  for (const auto* net : {&cnn, &mlp}) {
    const CompiledNetwork c(*net);
    ASSERT_EQ(c.layers[0].planes, k);
    ASSERT_EQ(c.layers[0].reads(), net->layers[0].positions() * k);
    EXPECT_EQ(c.layers[1].planes, 1);
    ReferenceExecutor exec(c);
    std::vector<float> logits(net->classes);
    std::mt19937_64 rng(7);
    int fired = 0, total = 0;
    for (int img = 0; img < 12; ++img) {
      const auto px = testing::random_pixels(net->input_size, 500 + img);
      for (int t = 0; t < 3; ++t) {
        std::vector<std::uint8_t> draws(c.draws_per_sample);
        for (auto& d : draws) d = (rng() % 10) < 3;
        SampleMasks m;
        c.fill_masks(m, [&](std::size_t i) { return draws.at(i) != 0; });
        exec.forward(px.data(), m, logits.data());
        const auto want = testing::plain_forward(*net, px.data(), [&](std::size_t l, std::size_t i) {
          return draws.at(c.draw_offset[l] + i) != 0;
        });
        for (int o = 0; o < net->classes; ++o) EXPECT_NEAR(logits[o], want[o], 1e-4) << "img " << img;
      }
      // The first layer's outputs are mixed (the widened BatchNorm keeps thresholds in range).
      std::vector<std::uint64_t> in(words_for(c.input_bits()));
      c.encode_input(px.data(), in.data());
      for (int i = 0; i < net->input_size; ++i) {
        int q = 0;
        for (int b = 0; b < k; ++b) q |= static_cast<int>(get_bit(in.data(), b * net->input_size + i)) << b;
        EXPECT_EQ(q, (2 * px[i] * ((1 << k) - 1) + 255) / 510) << "pixel " << i;
        fired += q > 0;
        ++total;
      }
    }
    EXPECT_GT(fired, 0);
    EXPECT_LT(fired, total);
  }
}

INSTANTIATE_TEST_SUITE_P(KindsAndBits, BitSerialParity,
                         ::testing::Combine(::testing::Values(DropoutKind::None, DropoutKind::McDropout,
                                                              DropoutKind::Spatial, DropoutKind::Scale),
                                            ::testing::Values(1, 3, 8)));

// Thresholds of a k-bit first layer over its whole range of a (|a| <= in * (2^k - 1)).
TEST(CompiledThresholds, BitSerialLayerAgreesOverTheWholeRange) {
  auto net = testing::random_network({40, 6, 3}, 5, true, 0.3);
  testing::use_input_bits(net, 8);
  const CompiledNetwork c(net);
  const auto& l = c.layers[0];
  ASSERT_EQ(l.a_max, 40 * 255);
  for (int d = 0; d < 2; ++d)
    for (int o = 0; o < l.out; ++o)
      for (int a = -l.a_max; a <= l.a_max; ++a)
        ASSERT_EQ(l.threshold[d][o].fires(a), l.preactivation(o, a, d == 1) >= 0.0) << "o " << o << " a " << a;
}

TEST(DrawCounts, PerSampleDrawsOfEachKind) {
  // conv2: 4 input channels, 3x3 kernel, 3x3 positions; fc1: 45 inputs.
  EXPECT_EQ(CompiledNetwork(testing::random_cnn(1, DropoutKind::Spatial)).draws_per_sample, 4u);
  EXPECT_EQ(CompiledNetwork(testing::random_cnn(1, DropoutKind::McDropout)).draws_per_sample, 9u * 36 + 45);
  EXPECT_EQ(CompiledNetwork(testing::random_cnn(1, DropoutKind::Scale)).draws_per_sample, 3u);
}

TEST(Bitops, RangeMatchesEqualsNaiveCount) {
  std::vector<std::uint64_t> x(4), w(4);
  std::mt19937_64 rng(3);
  for (auto& v : x) v = rng();
  for (auto& v : w) v = rng();
  for (int begin : {0, 1, 63, 64, 100})
    for (int len : {1, 5, 64, 100}) {
      if (begin + len > 256) continue;
      int naive = 0;
      for (int i = begin; i < begin + len; ++i) naive += get_bit(x.data(), i) == get_bit(w.data(), i);
      EXPECT_EQ(xnor_matches_range(x.data(), w.data(), begin, len), naive);
    }
}

// write_bits_at replaces exactly [begin, begin + len) (across a word boundary too), and BitWriter
// puts bit k at begin + k * stride, the same as set_bit one at a time, for stride 1 (collected
// into words) and larger strides, leaving every other bit as it was.
TEST(Bitops, WriteBitsAndBitWriterEqualSetBit) {
  std::mt19937_64 rng(8);
  for (std::size_t begin : {0u, 1u, 37u, 63u, 64u, 100u})
    for (int len : {1, 5, 27, 63, 64}) {
      std::vector<std::uint64_t> v(5), want(5);
      for (auto& w : v) w = rng();
      want = v;
      const std::uint64_t bits = rng();
      for (int k = 0; k < len; ++k) set_bit(want.data(), static_cast<int>(begin) + k, (bits >> k) & 1U);
      write_bits_at(v.data(), begin, len, bits);
      EXPECT_EQ(v, want) << "write_bits_at " << begin << " + " << len;
    }
  for (std::size_t stride : {1u, 3u, 64u})
    for (std::size_t begin : {0u, 5u, 64u})
      for (int n : {0, 1, 63, 64, 65, 130}) {
        std::vector<std::uint64_t> v(150), want(150);
        for (auto& w : v) w = rng();
        want = v;
        std::vector<bool> in(static_cast<std::size_t>(n));
        for (auto&& b : in) b = rng() & 1U;
        {
          BitWriter out(v.data(), begin, stride);
          for (int k = 0; k < n; ++k) out.push(in[static_cast<std::size_t>(k)]);
        }
        for (int k = 0; k < n; ++k) set_bit(want.data(), static_cast<int>(begin + k * stride), in[static_cast<std::size_t>(k)]);
        EXPECT_EQ(v, want) << "BitWriter stride " << stride << " begin " << begin << " n " << n;
      }
}

}  // namespace
}  // namespace bayescim::models
