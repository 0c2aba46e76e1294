// The exact-ADC fast path of ArrayEngine (ideal complementary cells, exact ADC: every position's
// match counts with all columns at once, taken when experiment.accelerate is on) against the
// general path (experiment.accelerate off: position by position, read group by read group through
// the readout) and against a plain loop over the unpacked weights, on a bit-serial 8-bit first
// conv layer (8 reads per position) and on a conv layer with row tiles, read groups, padding and
// spatial dropout. Partial sums, active rows and every action count must be identical.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "hw/engine/array_engine.h"
#include "hw/engine/wordline_drive.h"
#include "hw/mapper.h"
#include "models/bitops.h"
#include "models/compiled.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

// 1x12x12 8-bit pixels -> conv 3x3 pad 1 (40 ch) -> conv 3x3 pad 1 (6 ch, spatial dropout) -> 5.
models::Network net_under_test() {
  models::Network n;
  n.source = "test";
  n.input_c = 1;
  n.input_h = n.input_w = 12;
  n.input_size = 144;
  n.layers.push_back(testing::conv("conv1", 1, 12, 12, 40, 3, 1, 1, 0));
  n.layers.push_back(testing::conv("conv2", 40, 12, 12, 6, 3, 1, 1, 0));
  n.layers.push_back(testing::dense("fc1", 6 * 144, 5, false));
  testing::finish(n, models::DropoutKind::Spatial, 0.3, 7, {"conv2"});
  testing::use_input_bits(n, 8);
  return n;
}

struct Result {
  std::vector<int> partial, active;
  ReadCounts counts;
};

Result run(const models::CompiledLayer& layer, const ArrayEngine::Config& cfg, const WordlineDrive& drive,
           int reads) {
  ArrayEngine engine(cfg);
  engine.program(layer);
  Result r;
  r.partial.assign(static_cast<std::size_t>(reads) * static_cast<std::size_t>(cfg.arch.cols), -1);
  r.active.assign(static_cast<std::size_t>(reads), -1);
  ArrayOp op;
  op.rows = drive.rows();
  op.active = drive.active();
  op.words = layer.words;
  op.positions = reads;
  op.partial = r.partial.data();
  op.active_rows = r.active.data();
  r.counts = engine.compute(op);
  return r;
}

TEST(ExactAdcPaths, FastPathEqualsGeneralPathAndAPlainLoop) {
  const models::Network net = net_under_test();
  const models::CompiledNetwork c(net);
  ArchParams arch;
  arch.rows = 128;  // conv2's 360 rows: row tiles of 128, 128, 104 (each starting on a word)
  arch.cols = 16;   // conv1's 40 columns: column tiles of 16, 16, 8
  arch.rows_per_read = 16;  // 5-bit exact ADC; conv2's tiles read in 8, 8 and 7 groups
  const Mapping m = map_network(c, arch);
  ASSERT_TRUE(c.layers[0].bit_serial);
  ASSERT_EQ(c.layers[0].planes, 8);
  ASSERT_EQ(m.layers[1].row_tiles, 3);
  ASSERT_FALSE(m.layers[0].sa_path);
  ASSERT_FALSE(m.layers[1].sa_path);

  // conv1's input: the 8 bit planes of random pixels (some 0 and 255: rows off in every plane, or on).
  std::mt19937 rng(11);
  std::vector<std::uint8_t> px(144);
  for (auto& p : px) p = static_cast<std::uint8_t>(rng() % 5 == 0 ? (rng() % 2) * 255 : rng() % 256);
  std::vector<std::uint64_t> in0(models::words_for(c.input_bits()));
  c.encode_input(px.data(), in0.data());
  // conv2's input: random ±1 bits; spatial dropout drops channels 3, 17 and 39 (their 9 rows off).
  std::vector<std::uint64_t> in1(models::words_for(40 * 144));
  for (auto& w : in1) w = (static_cast<std::uint64_t>(rng()) << 32) | rng();
  std::vector<std::uint64_t> mask(1, 0);
  for (int ch : {3, 17, 39}) models::set_bit(mask.data(), ch, true);

  int arrays_checked = 0;
  for (std::size_t li = 0; li < 2; ++li) {
    const auto& layer = c.layers[li];
    WordlineDrive drive(c);
    drive.gather(layer, li == 0 ? in0.data() : in1.data(), li == 0 ? nullptr : mask.data());
    const int reads = layer.reads();
    for (const ArrayAssignment& s : m.arrays) {
      if (s.layer != static_cast<int>(li)) continue;
      ArrayEngine::Config cfg;
      cfg.arch = arch;
      cfg.slice = s;
      cfg.sa_path = false;
      cfg.seed = 3;
      cfg.accelerate = true;
      const Result fast = run(layer, cfg, drive, reads);
      cfg.accelerate = false;
      const Result general = run(layer, cfg, drive, reads);
      ++arrays_checked;
      // The plain loop: m = active rows of the slice whose input equals the stored weight.
      std::uint64_t matches = 0, wordlines = 0;
      for (int p = s.position_begin; p < s.position_begin + s.positions; ++p) {
        const std::uint64_t* x = drive.rows() + static_cast<std::size_t>(p) * layer.words;
        const std::uint64_t* a = drive.active() + static_cast<std::size_t>(p) * layer.words;
        int on = 0;
        for (int r = s.row_begin; r < s.row_begin + s.rows; ++r) on += models::get_bit(a, r);
        EXPECT_EQ(fast.active[static_cast<std::size_t>(p)], on) << li << " read " << p;
        EXPECT_EQ(general.active[static_cast<std::size_t>(p)], on) << li << " read " << p;
        wordlines += static_cast<std::uint64_t>(on);
        for (int col = 0; col < s.cols; ++col) {
          const int o = s.col_begin + col;
          int want = 0;
          for (int r = s.row_begin; r < s.row_begin + s.rows; ++r) {
            const bool w = net.layers[li].weight[static_cast<std::size_t>(o) * layer.in + r] > 0;
            want += models::get_bit(a, r) && models::get_bit(x, r) == w;
          }
          matches += static_cast<std::uint64_t>(want);
          const std::size_t k = static_cast<std::size_t>(p) * arch.cols + col;
          EXPECT_EQ(fast.partial[k], want) << li << " read " << p << " col " << col;
          EXPECT_EQ(general.partial[k], want) << li << " read " << p << " col " << col;
        }
      }
      // Every action count as the general path counts it, and the totals by hand: one read per
      // group of 16 rows, every column converted and its bitline charged per read, one tile
      // addition per column per group after the first.
      const std::uint64_t groups = static_cast<std::uint64_t>((s.rows + 15) / 16);
      const std::uint64_t np = static_cast<std::uint64_t>(s.positions), cols = static_cast<std::uint64_t>(s.cols);
      for (const ReadCounts* n : {&fast.counts, &general.counts}) {
        EXPECT_EQ(n->reads, np * groups);
        EXPECT_EQ(n->adc_conversions, np * groups * cols);
        EXPECT_EQ(n->bitlines, np * groups * cols);
        EXPECT_EQ(n->tile_adds, np * (groups - 1) * cols);
        EXPECT_EQ(n->wordlines, wordlines);
        EXPECT_EQ(n->cell_match, matches);
        EXPECT_EQ(n->cell_mismatch, wordlines * cols - matches);
        EXPECT_EQ(n->sa_decisions, 0u);
      }
      EXPECT_EQ(fast.counts.ref_p_half, general.counts.ref_p_half);
      EXPECT_EQ(fast.counts.ref_ap_half, general.counts.ref_ap_half);
    }
  }
  EXPECT_EQ(arrays_checked, 3 + 3);  // conv1's 3 column tiles, conv2's 3 row tiles
}

// Threshold::range is the interval form of Threshold::fires, for every mode, at the extremes too.
TEST(ExactAdcPaths, ThresholdRangeDecidesAsFires) {
  using M = models::Threshold::Mode;
  const int big = std::numeric_limits<int>::max(), small = std::numeric_limits<int>::min();
  for (M mode : {M::AtLeast, M::AtMost, M::Always, M::Never})
    for (int a : {-7, 0, 5}) {
      models::Threshold t;
      t.mode = mode;
      t.a = a;
      const auto r = t.range();
      for (int pre : {small, -8, -7, -6, -1, 0, 1, 4, 5, 6, big}) {
        // the definition, written out: AtLeast pre >= a, AtMost pre <= a, Always, Never
        const bool want = mode == M::AtLeast ? pre >= a : mode == M::AtMost ? pre <= a : mode == M::Always;
        EXPECT_EQ(r.lo <= pre && pre <= r.hi, want) << static_cast<int>(mode) << " a " << a << " pre " << pre;
        EXPECT_EQ(t.fires(pre), want);
      }
    }
}

}  // namespace
}  // namespace bayescim::hw
