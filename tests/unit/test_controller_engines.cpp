// The controller's plain-C++ engines and reuse caches, without SystemC: the digital periphery
// against a plain loop, the wordline drive's gating against a fresh gather, the pipeline's
// reservations, and when the prefix and gather caches replay.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hw/engine/digital_periphery.h"
#include "hw/engine/wordline_drive.h"
#include "hw/mapper.h"
#include "hw/reuse/gather_cache.h"
#include "hw/reuse/prefix_cache.h"
#include "models/compiled.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

// Random match counts into every row tile's buffer; reduce must give, per column o, the
// threshold (hidden layer) or BN output (last layer) of a = sum over row tiles of (2m - N).
TEST(DigitalPeriphery, AdderTreeAndThresholdEqualAPlainLoop) {
  const auto net = testing::random_network({150, 20, 9}, 8, true, 0.3);
  const models::CompiledNetwork c(net);
  ArchParams arch;
  arch.rows = 40;  // fc1: 4 row tiles (40, 40, 40, 30 rows), fc2: 1
  arch.cols = 6;   // fc1: 4 column tiles, fc2: 2
  const Mapping m = map_network(c, arch);
  ASSERT_EQ(m.layers[0].row_tiles, 4);
  DigitalPeriphery dp(c, m, arch.cols);
  EXPECT_EQ(dp.cycles(0), 3u);  // depth 2 + 1
  EXPECT_EQ(dp.cycles(1), 1u);
  const auto pixels = testing::random_pixels(150, 1);
  dp.load_input(pixels.data());
  std::mt19937 rng(4);
  std::vector<float> logits(9);
  for (std::size_t li = 0; li < 2; ++li) {
    const auto& lm = m.layers[li];
    const auto& l = c.layers[li];
    for (bool drop : {false, true}) {
      std::vector<int> a(static_cast<std::size_t>(l.out), 0);
      for (int ct = 0; ct < lm.col_tiles; ++ct) {
        for (int rt = 0; rt < lm.row_tiles; ++rt) {
          const auto& arr = m.arrays[static_cast<std::size_t>(lm.arrays[static_cast<std::size_t>(ct) * lm.row_tiles + rt])];
          dp.active_rows(rt, 1)[0] = arr.rows;
          for (int col = 0; col < arr.cols; ++col) {
            const int matches = static_cast<int>(rng() % static_cast<unsigned>(arr.rows + 1));
            dp.partial(rt, 1)[col] = matches;
            a[static_cast<std::size_t>(arr.col_begin + col)] += 2 * matches - arr.rows;
          }
        }
        dp.reduce(li, ct, drop, logits.data());
      }
      for (int o = 0; o < l.out; ++o) {
        if (l.sign)
          EXPECT_EQ(models::get_bit(dp.layer_output(li), o), l.threshold[drop ? 1 : 0][o].fires(a[o])) << o;
        else
          EXPECT_EQ(logits[o], static_cast<float>(l.preactivation(o, a[o], drop))) << o;
      }
    }
    dp.end_layer(li);
  }
  // fc1 twice (4 column tiles of 6, 6, 6, 2 columns, 3 adds each), fc2 twice (no adds).
  EXPECT_EQ(dp.counts().adds, 2u * 3 * 20);
  EXPECT_EQ(dp.counts().neurons, 2u * (20 + 9));
  EXPECT_EQ(dp.counts().buffer_bits, 150u + 20);
}

// Gating the unmasked drive with a sample's draws gives what gathering with them gives, for
// every dropout organisation.
TEST(WordlineDrive, GatingTheUnmaskedDriveEqualsAMaskedGather) {
  for (auto kind : {models::DropoutKind::Spatial, models::DropoutKind::McDropout, models::DropoutKind::Scale}) {
    const auto net = testing::random_cnn(6, kind, 0.5);
    const models::CompiledNetwork c(net);
    WordlineDrive fresh(c), gated(c);
    std::mt19937_64 rng(2);
    for (std::size_t li = 0; li < c.layers.size(); ++li) {
      const auto& l = c.layers[li];
      std::vector<std::uint64_t> input(c.max_words()), mask(models::words_for(static_cast<int>(l.draws_per_sample())) + 1);
      for (auto& w : input) w = rng();
      for (auto& w : mask) w = rng();
      const std::uint64_t* m = l.dropout ? mask.data() : nullptr;
      fresh.gather(l, input.data(), m);
      Drive unmasked;
      WordlineDrive::gather_unmasked(l, input.data(), unmasked);
      gated.gate(l, m, unmasked);
      const std::size_t n = WordlineDrive::size(l);
      for (std::size_t w = 0; w < n; ++w) {
        EXPECT_EQ(gated.rows()[w], fresh.rows()[w]) << "layer " << li << " word " << w;
        EXPECT_EQ(gated.active()[w], fresh.active()[w]) << "layer " << li << " word " << w;
      }
    }
  }
}

// conv1 precedes the first dropout layer (conv2): it records in an image's first sample and
// replays in the later samples of the same image only; disabled, nothing replays.
TEST(PrefixCache, ReplaysOnlyLaterSamplesOfTheRecordedImage) {
  const auto net = testing::random_cnn(6, models::DropoutKind::Spatial);
  const models::CompiledNetwork c(net);
  PrefixCache pc(c);
  ASSERT_EQ(pc.length(), 1);
  pc.begin(true, 7);
  EXPECT_TRUE(pc.records(0));
  EXPECT_FALSE(pc.replays(0));
  EXPECT_FALSE(pc.records(1));
  const std::uint64_t rows[2] = {1, 2}, active[2] = {3, 4};
  pc.keep_drive(0, rows, active, 2);
  DigitalCounts counts;
  counts.adds = 11;
  pc.keep_counts(0, counts);
  std::vector<std::uint64_t> x(c.max_words(), 0x5a5a), y(c.max_words(), 0);
  pc.keep_output(0, x.data(), nullptr);

  pc.begin(true, 7);
  EXPECT_TRUE(pc.replays(0));
  EXPECT_FALSE(pc.records(0));
  EXPECT_EQ(pc.drive(0).active, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(pc.counts(0), counts);
  pc.restore_output(0, y.data(), nullptr);
  const std::size_t words = models::words_for(net.layers[0].output_elems());
  for (std::size_t w = 0; w < words; ++w) EXPECT_EQ(y[w], 0x5a5au);

  pc.begin(true, 8);  // another image records again
  EXPECT_TRUE(pc.records(0));
  pc.begin(true, 7);  // and image 7's recording is gone
  EXPECT_FALSE(pc.replays(0));
  pc.begin(false, 7);
  EXPECT_FALSE(pc.replays(0));
  EXPECT_FALSE(pc.records(0));
}

TEST(GatherCache, GathersOncePerImage) {
  const auto net = testing::random_cnn(6, models::DropoutKind::McDropout);
  const models::CompiledNetwork c(net);
  GatherCache gc(c);
  EXPECT_FALSE(gc.covers(0));
  EXPECT_TRUE(gc.covers(1));  // conv2, the first dropout layer
  const auto& l = c.layers[1];
  std::vector<std::uint64_t> a(c.max_words(), ~std::uint64_t{0}), b(c.max_words(), 0);
  Drive want_a, want_b;
  WordlineDrive::gather_unmasked(l, a.data(), want_a);
  WordlineDrive::gather_unmasked(l, b.data(), want_b);
  EXPECT_EQ(gc.unmasked(l, a.data(), 1).rows, want_a.rows);
  EXPECT_EQ(gc.unmasked(l, b.data(), 1).rows, want_a.rows);  // same image: kept
  EXPECT_EQ(gc.unmasked(l, b.data(), 2).rows, want_b.rows);  // next image: gathered again
}

}  // namespace
}  // namespace bayescim::hw
