// The two per-neuron layouts (per row per position, element-wise) and the dropout circuits of each
// organisation (hw/dropout_circuits.h, docs/hardware.md eq. DC1-DC7): bit counts, masks, energy and
// area by hand on the tiny CNN of tests/util/tiny_net.h. Each TEST runs in its own process.
#include <gtest/gtest.h>

#include <random>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/area.h"
#include "hw/dropout_circuits.h"
#include "models/compiled.h"
#include "models/reference_executor.h"
#include "tests/util/hw_parity.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

// random_cnn: conv1 1x10x10 -> 4 ch (3x3, pad 1, pool 2); conv2 4x5x5 -> 5 ch (3x3, no pad: 3x3
// positions); fc1 45 -> 6 (logits). mc_dropout and spatial drop conv2 (and mc_dropout fc1).
models::Network cnn(models::DropoutKind kind, bool element_wise = false, std::uint64_t seed = 1) {
  auto n = testing::random_cnn(seed, kind, 0.3);
  if (element_wise) {
    models::DropoutSpec s = n.dropout;
    s.layout = models::McLayout::ElementWise;
    n.apply_dropout(s);
  }
  return n;
}

TEST(ElementWise, DrawCountsByHandOnAConvAndADenseLayer) {
  // conv2: its input feature map is C_in x H x W = 4 x 5 x 5 elements; per row per position it is
  // K*K*C_in = 36 rows at (5 - 3 + 1)^2 = 9 positions. fc1: 45 input elements = 45 rows, 1 position.
  const auto ew_net = cnn(models::DropoutKind::McDropout, true), pr_net = cnn(models::DropoutKind::McDropout, false);
  const models::CompiledNetwork ew(ew_net), pr(pr_net);  // a compiled network points into its network
  EXPECT_EQ(ew.layers[1].draws_per_sample(), 4u * 5 * 5);
  EXPECT_EQ(pr.layers[1].draws_per_sample(), 36u * 9);
  EXPECT_EQ(ew.layers[2].draws_per_sample(), 45u);  // dense: the two layouts agree
  EXPECT_EQ(pr.layers[2].draws_per_sample(), 45u);
  EXPECT_EQ(ew.draws_per_sample, 100u + 45);
  EXPECT_EQ(pr.draws_per_sample, 324u + 45);
  // The modules are the per-neuron design's, one per crossbar row, in both layouts.
  EXPECT_EQ(map_modules(ew).modules, 36u + 45u);
}

TEST(ElementWise, ADroppedElementGatesEveryRowThatReadsIt) {
  const auto net = cnn(models::DropoutKind::McDropout, true);
  const models::CompiledNetwork c(net);
  const auto& conv2 = c.layers[1];
  std::vector<std::uint64_t> input(models::words_for(conv2.src->input_elems()), ~std::uint64_t{0});
  // Element (c = 1, y = 2, x = 2), the centre of channel 1: index (1 * 5 + 2) * 5 + 2 = 37.
  std::vector<std::uint64_t> mask(models::words_for(100), 0);
  models::set_bit(mask.data(), 37, true);
  std::vector<std::uint64_t> x(conv2.words), act(conv2.words);
  int gated = 0;
  for (int oh = 0; oh < 3; ++oh)
    for (int ow = 0; ow < 3; ++ow) {
      conv2.rows_at(oh * 3 + ow, input.data(), mask.data(), x.data(), act.data());
      for (int r = 0; r < 36; ++r) {
        const int ch = r / 9, kh = (r / 3) % 3, kw = r % 3;
        const bool reads_it = ch == 1 && oh + kh == 2 && ow + kw == 2;
        EXPECT_EQ(models::get_bit(act.data(), r), !reads_it) << "position " << oh << "," << ow << " row " << r;
        gated += reads_it ? 1 : 0;
      }
    }
  EXPECT_EQ(gated, 9);  // the centre is read by every one of the 9 windows, once each
}

TEST(ElementWise, ReferenceMatchesThePlainDefinition) {
  const auto net = cnn(models::DropoutKind::McDropout, true, 21);
  const models::CompiledNetwork c(net);
  models::ReferenceExecutor exec(c);
  std::vector<float> logits(net.classes);
  std::mt19937_64 rng(7);
  for (int img = 0; img < 20; ++img) {
    const auto px = testing::random_pixels(net.input_size, 500 + img);
    for (int t = 0; t < 3; ++t) {
      std::vector<std::uint8_t> draws(c.draws_per_sample);
      for (auto& d : draws) d = (rng() % 10) < 3;
      models::SampleMasks m;
      c.fill_masks(m, [&](std::size_t i) { return draws.at(i) != 0; });
      exec.forward(px.data(), m, logits.data());
      const auto want = testing::plain_forward(net, px.data(), [&](std::size_t l, std::size_t i) {
        return draws.at(c.draw_offset[l] + i) != 0;
      });
      for (int k = 0; k < net.classes; ++k) EXPECT_NEAR(logits[k], want[k], 1e-4) << "img " << img;
    }
  }
}

// The simulated hardware (with and without its shortcuts) gives the reference's logits.
class ElementWiseHw : public ::testing::TestWithParam<bool> {};
TEST_P(ElementWiseHw, SimulationEqualsReference) {
  const auto net = cnn(models::DropoutKind::McDropout, true, 31);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 4; ++i) images.push_back(testing::random_pixels(net.input_size, 80 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(0, i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = 20;
  cfg.arch.cols = 3;
  cfg.samples = 3;
  cfg.dropout_p = 0.35;
  cfg.seed = 4;
  cfg.accelerate = GetParam();
  std::vector<std::vector<float>> got;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    got.emplace_back(l, l + net.classes);
  });
  sc_core::sc_start();
  testing::expect_reference_logits(c, images, got, 3, 4, 0, acc.dropout_source().realised_p());
  EXPECT_EQ(collect_stats().sum("random_bits"), static_cast<double>((100 + 45) * got.size()));
}
INSTANTIATE_TEST_SUITE_P(Accelerate, ElementWiseHw, ::testing::Values(false, true));

// The four designs on the tiny CNN, with what each builds and does per pass, derived from the
// definitions (DC3-DC7) in the comments.
struct Design {
  const char* name;
  models::DropoutKind kind;
  bool element_wise;
  std::size_t modules, bits, latches, gates, gate_reads, gather_reads, select_columns, select_neurons;
};
// Default arrays (512 x 128, all rows per read): one array per layer; conv1 and conv2 on the SA path
// (sign, 9 and 36 rows), fc1 (logits) on the ADC path.
const Design kDesigns[] = {
    // conv2: 36 rows x 9 positions; fc1: 45 rows x 1. One latch per module (row).
    {"per_row", models::DropoutKind::McDropout, false, 81, 324 + 45, 81, 81, 324 + 45, 0, 0, 0},
    // conv2: 4*5*5 = 100 elements, all latched for the pass; each gated row read at each position
    // also reads its element's mask bit through the gather (conv only).
    {"element_wise", models::DropoutKind::McDropout, true, 81, 100 + 45, 145, 81, 324 + 45, 324, 0, 0},
    // conv2 only: 4 channel bits, each gating its 9 rows (K*K-way): 36 gates, 36 x 9 gate reads.
    {"spatial", models::DropoutKind::Spatial, false, 4, 4, 4, 36, 324, 0, 0, 0},
    // One unit, one bit per layer (3 layers), one latch each; conv1 (4 columns) and conv2 (5) select
    // their SA references, fc1 (6 neurons) its digital threshold/scale.
    {"shared", models::DropoutKind::Scale, false, 1, 3, 3, 0, 0, 0, 4 + 5, 6},
};

class Circuits : public ::testing::TestWithParam<Design> {};

TEST_P(Circuits, CountsByHand) {
  const Design& d = GetParam();
  const auto net = cnn(d.kind, d.element_wise);
  const models::CompiledNetwork c(net);
  const ArchParams a;
  const Mapping m = map_network(c, a);
  const DropoutCircuits dc = dropout_circuits(c, m, map_modules(c));
  const DropoutCircuitLayer t = dc.total();
  EXPECT_EQ(dc.modules, d.modules);
  EXPECT_EQ(t.bits, d.bits);
  EXPECT_EQ(t.latches, d.latches);
  EXPECT_EQ(t.gates, d.gates);
  EXPECT_EQ(t.gate_reads, d.gate_reads);
  EXPECT_EQ(t.gather_reads, d.gather_reads);
  EXPECT_EQ(t.select_columns, d.select_columns);
  EXPECT_EQ(t.select_neurons, d.select_neurons);
}

TEST_P(Circuits, AreaByHand) {
  const Design& d = GetParam();
  const auto net = cnn(d.kind, d.element_wise);
  const models::CompiledNetwork c(net);
  ArchParams a;
  a.dropout_module_area_um2 = 5;
  a.dropout_circuits.driver_area_um2 = 7;
  a.dropout_circuits.mask_latch_area_um2 = 0.5;
  a.dropout_circuits.wordline_gate_area_um2 = 0.25;
  a.dropout_circuits.select_reference_area_um2 = 2;
  a.dropout_circuits.select_threshold_area_um2 = 3;
  const Mapping m = map_network(c, a);
  const auto area = area_by_component(m, a, DeviceParams{}, dropout_circuits(c, m, map_modules(c)));
  const double um2 = 1e-12, tol = 1e-21;
  EXPECT_NEAR(area.at("dropout_rng"), static_cast<double>(d.modules) * 5 * um2, tol);
  EXPECT_NEAR(area.at("dropout_driver"), static_cast<double>(d.modules) * 7 * um2, tol);
  EXPECT_NEAR(area.at("dropout_mask"), static_cast<double>(d.latches) * 0.5 * um2, tol);
  EXPECT_NEAR(area.at("dropout_gating"), static_cast<double>(d.gates) * 0.25 * um2, tol);
  EXPECT_NEAR(area.at("dropout_select"),
              (static_cast<double>(d.select_columns) * 2 + static_cast<double>(d.select_neurons) * 3) * um2, tol);
}

// 2 images x 3 samples = 6 passes of every dropped layer; every circuit's energy by hand from its
// per-action figure, and the random bits from S4' written out here (reset, write, read, SA from the
// supplies; the driver's bias branch and the mask latch booked with their circuits).
TEST_P(Circuits, EnergyByHand) {
  const Design& d = GetParam();
  const auto net = cnn(d.kind, d.element_wise, 3);
  const models::CompiledNetwork c(net);
  const auto px0 = testing::random_pixels(net.input_size, 1), px1 = testing::random_pixels(net.input_size, 2);
  std::vector<Job> jobs = {{px0.data(), image_key(0, 0)}, {px1.data(), image_key(0, 1)}};
  AcceleratorConfig cfg;
  cfg.samples = 3;
  cfg.dropout_p = 0.3;
  cfg.dropout_unit.mtj.latch_energy_J = 2e-15;
  auto& e = cfg.arch.dropout_circuits;
  e.driver_control_J = 7e-15;
  e.wordline_gate_J = 0.3e-15;
  e.select_reference_J = 11e-15;
  e.select_threshold_J = 13e-15;
  cfg.arch.buffer_energy_per_bit_J = 10e-15;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  const auto st = collect_stats();
  const auto by = st.energy_by_component();
  const double passes = 6, bits = passes * static_cast<double>(d.bits);
  EXPECT_EQ(st.sum("random_bits"), bits);
  const auto& mtj = cfg.dropout_unit.mtj;
  const double I = st.param_value("drive_current"), tp = st.param_value("drive_pulse");
  const double ones = st.sum("random_ones"), zeros = bits - ones;
  const double r_ap = mtj.r_p_ohm * (1 + mtj.tmr);
  const double common = mtj.supply_V * mtj.reset_current_A * mtj.reset_pulse_s + mtj.supply_V * I * tp + mtj.sa_energy_J;
  const double v2t = mtj.v_read_V * mtj.v_read_V * mtj.read_pulse_s;
  EXPECT_NEAR(by.at("dropout_rng"), zeros * (common + v2t / mtj.r_p_ohm) + ones * (common + v2t / r_ap), 1e-20);
  EXPECT_NEAR(by.at("dropout_driver"), bits * (7e-15 + mtj.driver_bias_ratio * mtj.supply_V * I * tp), 1e-22);
  EXPECT_NEAR(by.at("dropout_mask"), bits * 2e-15 + passes * static_cast<double>(d.gather_reads) * 10e-15, 1e-22);
  EXPECT_NEAR(by.at("dropout_gating"), passes * static_cast<double>(d.gate_reads) * 0.3e-15, 1e-24);
  EXPECT_NEAR(by.at("dropout_select"),
              passes * (static_cast<double>(d.select_columns) * 11e-15 + static_cast<double>(d.select_neurons) * 13e-15),
              1e-24);
}

INSTANTIATE_TEST_SUITE_P(Designs, Circuits, ::testing::ValuesIn(kDesigns),
                         [](const ::testing::TestParamInfo<Design>& i) { return std::string(i.param.name); });

// Wider layers than an array: the gates sit on every array's wordlines (column tiles).
TEST(Circuits, GatesOnEveryColumnTile) {
  const auto net = cnn(models::DropoutKind::Spatial);
  const models::CompiledNetwork c(net);
  ArchParams a;
  a.cols = 3;  // conv2's 5 output channels: 2 column tiles of 36 wordlines each
  const Mapping m = map_network(c, a);
  ASSERT_EQ(m.layers[1].col_tiles, 2);
  const auto t = dropout_circuits(c, m, map_modules(c)).total();
  EXPECT_EQ(t.gates, 2u * 36);
  EXPECT_EQ(t.gate_reads, 2u * 36 * 9);
}

}  // namespace
}  // namespace bayescim::hw
