// Residual joins (models/network.h Shortcut): the reference executor against the plain
// element-by-element definition, and the simulated hardware (tiled, ADC path, with and without the
// simulation shortcuts) against the reference executor, on a network with an identity shortcut of
// the layer's own input, one of a block input two layers back, and an AveragePool shortcut.
// Each TEST runs in its own process (gtest_discover_tests), so each may elaborate once.
#include <gtest/gtest.h>

#include <systemc>

#include "hw/accelerator.h"
#include "hw/physics/rng.h"
#include "models/compiled.h"
#include "models/reference_executor.h"
#include "tests/util/hw_parity.h"
#include "tests/util/tiny_net.h"

namespace bayescim {
namespace {

using models::DropoutKind;

class ResidualReference : public ::testing::TestWithParam<DropoutKind> {};

TEST_P(ResidualReference, MatchesThePlainDefinition) {
  const auto net = testing::random_resnet(21, GetParam(), 0.3);
  const models::CompiledNetwork c(net);
  models::ReferenceExecutor exec(c);
  models::SampleMasks masks;
  std::vector<float> logits(static_cast<std::size_t>(net.classes));
  int joined_differs = 0;
  auto plain = net;  // the same network without its shortcuts
  for (auto& l : plain.layers) l.shortcut = {};
  for (int img = 0; img < 30; ++img) {
    const auto px = testing::random_pixels(net.input_size, 300 + img);
    for (int t = 0; t < 3; ++t) {
      auto draw = [&](std::size_t l, std::size_t i) {
        return hw::dropout_draw(4, hw::image_key(0, img), t, c.draw_offset[l] + i, 0.3);
      };
      c.fill_masks(masks, [&](std::size_t d) { return hw::dropout_draw(4, hw::image_key(0, img), t, d, 0.3); });
      exec.forward(px.data(), masks, logits.data());
      const auto want = testing::plain_forward(net, px.data(), draw);
      for (int k = 0; k < net.classes; ++k) EXPECT_NEAR(logits[k], want[k], 1e-4) << "img " << img << " t " << t;
      const auto without = testing::plain_forward(plain, px.data(), draw);
      joined_differs += want != without;
    }
  }
  EXPECT_GT(joined_differs, 30);  // the shortcuts change most results
}

INSTANTIATE_TEST_SUITE_P(Kinds, ResidualReference,
                         ::testing::Values(DropoutKind::None, DropoutKind::McDropout, DropoutKind::Spatial,
                                           DropoutKind::Scale));

void expect_hw_equals_reference(bool accelerate) {
  // Scale dropout on every layer: with accelerate, the prefix before the first dropout layer is
  // empty, so spatial on conv3..conv5 only: conv1 and conv2 (a residual layer) are replayed.
  auto net = testing::random_resnet(22, DropoutKind::Spatial, 0.4);
  models::DropoutSpec spec = net.dropout;
  spec.layers = {"conv3", "conv4", "conv5"};
  net.apply_dropout(spec);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 4; ++i) images.push_back(testing::random_pixels(net.input_size, 90 + i));
  std::vector<hw::Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), hw::image_key(1, i)});
  hw::AcceleratorConfig cfg;
  cfg.arch.rows = 16;  // 36 rows: three row tiles, partial sums added before the join
  cfg.arch.cols = 3;   // 4 and 8 outputs: two and three column tiles
  cfg.samples = 3;
  cfg.dropout_p = 0.4;
  cfg.seed = 9;
  cfg.accelerate = accelerate;
  std::vector<std::vector<float>> got;
  hw::Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    got.emplace_back(l, l + net.classes);
  });
  sc_core::sc_start();
  for (std::size_t li = 1; li < 5; ++li) EXPECT_FALSE(acc.mapping().layers[li].sa_path);
  // shortcut buffer: conv4's shortcut (conv3's input, 4 x 8 x 8) is the only one held past its layer
  EXPECT_EQ(acc.mapping().shortcut_buffer_bits, 4 * 8 * 8);
  EXPECT_EQ(acc.mapping().shortcut_adders, 8);
  testing::expect_reference_logits(c, images, got, 3, 9, 1, acc.dropout_source().realised_p(),
                                   accelerate ? "accelerated" : "plain");
  const auto st = hw::collect_stats();
  const double samples = 4.0 * 3;
  EXPECT_EQ(st.sum("shortcut_bits"), samples * 4 * 8 * 8);
  // conv2, conv4: 4 x 64 outputs; conv5: 8 x 16 outputs plus 3 adds per source channel (4) and position (16)
  EXPECT_EQ(st.sum("shortcut_adds"), samples * (2 * 4 * 64 + 8 * 16 + 3 * 4 * 16));
}

TEST(ResidualHw, SimulationEqualsReference) { expect_hw_equals_reference(false); }
TEST(ResidualHw, AcceleratedSimulationEqualsReference) { expect_hw_equals_reference(true); }

}  // namespace
}  // namespace bayescim
