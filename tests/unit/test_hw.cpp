// The SystemC accelerator: parity with the reference executor after tiling, the shared dropout
// unit's statistics, and the energy and latency of a tiny network computed by hand.
// Each TEST runs in its own process (gtest_discover_tests), so each may elaborate once.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/area.h"
#include "hw/physics/rng.h"
#include "models/compiled.h"
#include "models/reference_executor.h"
#include "tests/util/hw_parity.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

struct Recorded {
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<std::uint8_t>> bits;
};

AcceleratorConfig small_arch(int rows, int cols) {
  AcceleratorConfig c;
  c.arch.rows = rows;
  c.arch.cols = cols;
  c.seed = 5;
  return c;
}

TEST(Accelerator, TiledSimulationEqualsReferenceExecutorOnTheSameBits) {
  // Fan-ins 120 (3 unaligned row tiles, ADC path), 40 (one tile, SA path), 30 (logits, ADC).
  const auto net = testing::random_network({120, 40, 30, 10}, 11, true, 0.4);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 12; ++i) images.push_back(testing::random_pixels(120, 50 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(0, i)});
  auto cfg = small_arch(50, 7);
  cfg.samples = 6;
  cfg.dropout_p = 0.4;
  Recorded rec;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t* b) {
    rec.logits.emplace_back(l, l + 10);
    rec.bits.emplace_back(b, b + 3);
  });
  sc_core::sc_start();
  ASSERT_EQ(rec.logits.size(), images.size() * 6);
  EXPECT_EQ(acc.mapping().layers[0].row_tiles, 3);
  EXPECT_FALSE(acc.mapping().layers[0].sa_path);
  EXPECT_TRUE(acc.mapping().layers[1].sa_path);
  EXPECT_EQ(acc.mapping().arrays.size(), 3u * 6 + 1 * 5 + 1 * 2);

  models::ReferenceExecutor ref(c);
  std::vector<float> want(10);
  int dropped = 0;
  for (std::size_t k = 0; k < rec.logits.size(); ++k) {
    const std::size_t img = k / 6;
    const int t = static_cast<int>(k % 6);
    // The hardware's bits are the counter-based draws of (seed, image, sample, layer).
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(rec.bits[k][b], dropout_draw(5, image_key(0, img), t, b, acc.dropout_source().realised_p()) ? 1 : 0);
      dropped += rec.bits[k][b];
    }
    ref.forward(images[img].data(), rec.bits[k], want.data());
    for (int o = 0; o < 10; ++o) EXPECT_EQ(rec.logits[k][o], want[o]) << "sample " << k << " class " << o;
  }
  EXPECT_GT(dropped, 0);
  const auto stats = collect_stats();
  EXPECT_EQ(stats.sum("random_bits"), 12.0 * 6 * 3);
  EXPECT_EQ(stats.sum("random_ones"), dropped);
}

// The hand tests' accelerator: 4x2 arrays with the NVSim cell defaults (R_P 3k, TMR 1, 0.25 V;
// read 1.66 ns), 0.1 V left across the MTJ, ADC conversions of 24 fJ + 10 fJ per step, 7 fJ S&H.
AcceleratorConfig hand_arch() {
  auto cfg = small_arch(4, 2);
  cfg.device.cell.v_access_V = 0.15;
  cfg.arch.adc_floor_J = 24e-15;
  cfg.arch.adc_fom_J_per_step = 10e-15;
  cfg.arch.sample_hold_J = 7e-15;
  return cfg;
}

// Runs the hand network's one image and checks its logits (0, 2); returns the statistics and
// whether fc1 took the SA path.
struct HandRun {
  StatsSink stats;
  bool sa_path0 = false;
};
HandRun run_hand(const AcceleratorConfig& cfg, const models::CompiledNetwork& c, const std::vector<Job>& jobs) {
  std::vector<float> logits;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    logits.assign(l, l + 2);
  });
  sc_core::sc_start();
  EXPECT_EQ(logits.size(), 2u);
  if (logits.size() == 2) {
    EXPECT_FLOAT_EQ(logits[0], 0.0f);
    EXPECT_FLOAT_EQ(logits[1], 2.0f);
  }
  return {collect_stats(), acc.mapping().layers[0].sa_path};
}

void check_hand_energy(bool dropout) {
  const auto net = testing::hand_network(dropout);
  const models::CompiledNetwork c(net);
  const std::vector<std::uint8_t> px = {255, 0, 255};  // x = (+1, -1, +1)
  std::vector<Job> jobs = {{px.data(), 0}};
  auto cfg = hand_arch();
  cfg.dropout_p = 1.0;
  // fc1: matches (3, 1) -> a = (3, -1) -> h = (+1, -1). fc2 on h: matches (1, 2) -> a = (0, 2).
  const auto st = run_hand(cfg, c, jobs).stats;

  // The cells see V = 0.25 - 0.15 = 0.1 V; the supply delivers their current at 0.25 V (eq. E0).
  const double Vs = 0.25, V = 0.1, t = 1.66e-9, gp = 1 / 3000.0, gap = 1 / 6000.0;
  // fc1 (SA path, N = 3): I(3) = 3V gp, I(1) = V(gp + 2 gap); both references at M = 2 (a >= 0).
  const double e_fc1 = Vs * t * (3 * V * gp + V * (gp + 2 * gap));
  const double i_ref = 0.5 * (V * (gp + 2 * gap) + V * (2 * gp + gap));
  const double e_ref = Vs * t * 2 * i_ref;
  // fc2 (ADC path, N = 2): I(1) = V(gp + gap), I(2) = 2V gp.
  const double e_fc2 = Vs * t * (V * (gp + gap) + 2 * V * gp);
  EXPECT_NEAR(st.energy_by_component()["crossbar_read"], e_fc1 + e_fc2, 1e-24);
  EXPECT_NEAR(st.energy_by_component()["sense_amp"], e_ref + 2 * 5e-15, 1e-24);
  // 2 conversions of a 3-bit ADC (4 rows: 2^3 = 8 >= 4 + 1 levels), each the floor plus 8 steps
  // of the figure of merit (eq. E3), and each column sampled and held once.
  EXPECT_NEAR(st.energy_by_component()["adc"], 2 * (24e-15 + 8 * 10e-15) + 2 * 7e-15, 1e-24);
  EXPECT_NEAR(st.energy_by_component()["digital"], 2 * 100e-15, 1e-24);       // 2 BN evaluations, no adds
  EXPECT_NEAR(st.energy_by_component()["buffer"], (3 + 3 + 2 + 2) * 10e-15, 1e-24);  // in, fc1 rows, h, fc2 rows

  // Latency on the 1 ns clock (each array phase ends on a clock edge): fc1 1.66 ns (SA) -> 2 ns;
  // fc2 1.66 ns read, then the array's one ADC (8 columns per ADC) converts its 2 columns one
  // after the other, 2 x 2 ns: 5.66 -> 6 ns, + 1 clock of BN = 7 ns.
  double want_t = 2e-9 + 7e-9;
  double e_rng = 0;
  if (dropout) {
    StochasticMtjParams m;  // the defaults used by AcceleratorConfig
    // Each layer asks the shared unit for its bit: granted one clock after the request, then
    // 14.5 ns -> 15 ns of draw before the reads.
    want_t += 2 * (1e-9 + 15e-9);
    // p = 1 drives the reset current as the write; both bits are 1, each read through R_AP. From
    // the 1.2 V supply (eq. S4'): write 200 uA x 1 ns plus its driver's 1/8, reset 200 uA x 2 ns.
    const double one = 1.2 * 200e-6 * 1e-9 * 1.125 + 0.01 / 11000 * 1e-9 + 1.2 * 200e-6 * 2e-9 + 5e-15;
    e_rng = 2 * one;
    EXPECT_NEAR(bit_energy(m, m.reset_current_A, true).total(), one, 1e-24);
  }
  // The driver's 1/8 branch is booked under dropout_driver (DC2), with 10 fJ of control per draw.
  const double bias = dropout ? 2 * 1.2 * 200e-6 * 1e-9 * 0.125 : 0.0;
  EXPECT_NEAR(st.energy_by_component()["dropout_rng"], e_rng - bias, 1e-24);
  EXPECT_NEAR(st.energy_by_component()["dropout_driver"], bias + (dropout ? 2 * 10e-15 : 0.0), 1e-24);
  EXPECT_NEAR(st.sum("inference_time"), want_t, 1e-18);
  EXPECT_NEAR(st.energy_by_component()["leakage"], 2 * 10e-6 * want_t, 1e-24);
  // Programming: 5 + 4 cells... 3x2 + 2x2 = 10 cells, 2 MTJs each, one P and one AP per cell.
  EXPECT_EQ(st.sum("programming.mtj_writes"), 20.0);
  // Each pulse draws V_w I_w t_w from the write supply (W1); cfg.device keeps the 0.8 V default.
  EXPECT_NEAR(st.energy_by_component(true)["programming"], 20 * 0.8 * 80e-6 * 10e-9, 1e-24);
}

TEST(Accelerator, EnergyAndLatencyOfATinyNetworkByHand) { check_hand_energy(false); }
TEST(Accelerator, EnergyAndLatencyWithTheSharedDropoutUnitByHand) { check_hand_energy(true); }

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// Conv (padding, pooling), dense, SA and ADC paths, and each dropout organisation: the simulated
// hardware gives the reference executor's logits on the same draws.
class HwKinds : public ::testing::TestWithParam<models::DropoutKind> {};

TEST_P(HwKinds, SimulationEqualsReferenceOnTheSameDraws) {
  const auto net = testing::random_cnn(31, GetParam(), 0.35);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 6; ++i) images.push_back(testing::random_pixels(net.input_size, 70 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(1, i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = 20;  // conv1 (9 rows): SA path; conv2 (36 rows) and fc1 (45): 2 and 3 row tiles
  cfg.arch.cols = 3;
  cfg.samples = 3;
  cfg.dropout_p = 0.35;
  cfg.seed = 9;
  std::vector<std::vector<float>> got;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    got.emplace_back(l, l + net.classes);
  });
  sc_core::sc_start();
  ASSERT_EQ(got.size(), images.size() * 3);
  EXPECT_TRUE(acc.mapping().layers[0].sa_path);
  EXPECT_EQ(acc.mapping().layers[1].row_tiles, 2);
  testing::expect_reference_logits(c, images, got, 3, 9, 1, acc.dropout_source().realised_p());
  const auto st = collect_stats();
  EXPECT_EQ(st.sum("random_bits"), static_cast<double>(c.draws_per_sample * got.size()));
}

// A k-bit first layer on the hardware: every plane read through the ADC path (never the SA, whose
// one decision cannot be shifted and added), the planes added in the digital periphery, after
// row tiles (the MLP) and between replicas (the CNN), for every dropout kind: the reference
// executor's logits on the same draws.
class HwBitSerial : public ::testing::TestWithParam<std::tuple<models::DropoutKind, bool>> {};

TEST_P(HwBitSerial, SimulationEqualsReferenceOnTheSameDraws) {
  const auto [kind, is_cnn] = GetParam();
  auto net = is_cnn ? testing::random_cnn(33, kind, 0.35)
                    : testing::random_network({100, 12, 5}, 34, kind == models::DropoutKind::Scale, 0.35);
  testing::use_input_bits(net, is_cnn ? 8 : 3);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 4; ++i) images.push_back(testing::random_pixels(net.input_size, 90 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(1, i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = 20;  // conv1 (9 rows) fits one array, the MLP's 100 inputs take 5 row tiles
  cfg.arch.cols = 3;
  cfg.arch.replicate = 3;
  cfg.samples = 2;
  cfg.dropout_p = 0.35;
  cfg.seed = 4;
  std::vector<std::vector<float>> got;
  Accelerator acc("acc", cfg, c, jobs,
                  [&](std::size_t, int, const float* l, const std::uint8_t*) { got.emplace_back(l, l + net.classes); });
  sc_core::sc_start();
  EXPECT_FALSE(acc.mapping().layers[0].sa_path);
  EXPECT_EQ(acc.mapping().layers[0].row_tiles, is_cnn ? 1 : 5);
  testing::expect_reference_logits(c, images, got, 2, 4, 1, acc.dropout_source().realised_p());
  // Reads of the first layer: k per output position and array (positions shared by replicas).
  const auto st = collect_stats();
  const double k = is_cnn ? 8 : 3, positions = is_cnn ? 100 : 1;
  const double first = k * positions * acc.mapping().layers[0].row_tiles * acc.mapping().layers[0].col_tiles;
  double rest = 0;
  for (std::size_t li = 1; li < c.layers.size(); ++li) {
    const auto& lm = acc.mapping().layers[li];
    rest += c.layers[li].src->positions() * lm.row_tiles * lm.col_tiles;
  }
  EXPECT_EQ(st.sum("array_reads"), (first + rest) * static_cast<double>(got.size()));
}

INSTANTIATE_TEST_SUITE_P(KindsAndTopologies, HwBitSerial,
                         ::testing::Combine(::testing::Values(models::DropoutKind::None, models::DropoutKind::McDropout,
                                                              models::DropoutKind::Spatial, models::DropoutKind::Scale),
                                            ::testing::Bool()));

// The hand network's fc1 fed 2-bit inputs: q = round(pixel * 3 / 255) of (255, 85, 170) is
// (3, 1, 2), so bit plane 0 is (1, 1, 0) and plane 1 is (1, 0, 1). A 0 bit leaves its row off; a
// 1 bit drives x = +1, so a plane's match count m_b is its active rows with w = +1 and its
// pre-activation is 2 m_b - active_b. fc1 columns w = (+1, -1, +1) and (-1, -1, -1):
//   plane 0: rows {0, 1}: m = 1 and 0 -> (0, -2); plane 1: rows {0, 2}: m = 2 and 0 -> (2, -2);
//   a = plane 0 + 2 * plane 1 = (4, -6) = (3 - 1 + 2, -3 - 1 - 2) -> h = (+1, -1).
// fc2 as in EnergyAndLatencyOfATinyNetworkByHand: logits (0, 2).
TEST(Accelerator, BitSerialEnergyAndLatencyByHand) {
  auto net = testing::hand_network(false);
  net.input_bits = 2;
  for (int p = 0; p < 256; ++p) net.input_levels[static_cast<std::size_t>(p)] = p == 255 ? 3 : p == 170 ? 2 : p == 85 ? 1 : 0;
  const models::CompiledNetwork c(net);
  const std::vector<std::uint8_t> px = {255, 85, 170};
  std::vector<Job> jobs = {{px.data(), 0}};
  const auto run = run_hand(hand_arch(), c, jobs);
  const auto& st = run.stats;
  EXPECT_FALSE(run.sa_path0);  // planes need their partial sums

  // Reads: fc1 one per plane (2), fc2 one; each converts both columns.
  EXPECT_EQ(st.sum("array_reads"), 3.0);
  EXPECT_EQ(st.sum("adc_conversions"), 6.0);
  EXPECT_EQ(st.sum("sa_decisions"), 0.0);
  // fc1 cells on: plane 0 two rows, plane 1 two rows, both columns: 8 cell reads, of which the
  // matches are 1 + 0 + 2 + 0 = 3. fc2 (x = h = (+1, -1)): matches 1 and 2 of 4.
  const double Vs = 0.25, V = 0.1, t = 1.66e-9, gp = 1 / 3000.0, gap = 1 / 6000.0;
  EXPECT_NEAR(st.energy_by_component()["crossbar_read"], Vs * t * V * (gp * (3 + 3) + gap * (5 + 1)), 1e-24);
  EXPECT_NEAR(st.energy_by_component()["adc"], 6 * (24e-15 + 8 * 10e-15) + 6 * 7e-15, 1e-24);
  // Digital: 4 BN evaluations (fc1's 2, fc2's 2) and fc1's shift-and-add of plane 1 onto plane 0
  // (one addition per column).
  EXPECT_NEAR(st.energy_by_component()["digital"], 4 * 100e-15 + 2 * 50e-15, 1e-24);
  // Buffer: the 2 planes of 3 input bits, fc1's rows per read (3 x 2 reads), h (2), fc2's rows (2).
  EXPECT_NEAR(st.energy_by_component()["buffer"], (6 + 6 + 2 + 2) * 10e-15, 1e-24);
  // Latency: fc1 two reads, each 1.66 ns + 2 conversions of 2 ns (11.32 ns, ending on the 1 ns
  // clock at 12 ns), then 2 clocks (the shift-add and BN of its one position); fc2 5.66 -> 6 ns
  // + 1 clock.
  EXPECT_NEAR(st.sum("inference_time"), 12e-9 + 2e-9 + 6e-9 + 1e-9, 1e-18);
}

// With stochastic-MTJ variation every module has its own p; both engines must use the same.
TEST(HwVariation, PerModuleProbabilitiesAreSharedWithTheReference) {
  const auto net = testing::random_cnn(8, models::DropoutKind::McDropout, 0.3);
  const models::CompiledNetwork c(net);
  const auto px = testing::random_pixels(net.input_size, 1);
  std::vector<Job> jobs = {{px.data(), image_key(0, 0)}, {px.data(), image_key(0, 1)}};
  AcceleratorConfig cfg;
  cfg.samples = 4;
  cfg.dropout_p = 0.3;
  cfg.seed = 2;
  cfg.dropout_unit.variation = {0.2, 0.05};
  std::vector<std::vector<float>> got;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    got.emplace_back(l, l + net.classes);
  });
  sc_core::sc_start();
  const auto modules = map_modules(c);
  const auto module_p = module_probabilities(cfg.dropout_unit, 0.3, modules, 2);
  EXPECT_EQ(acc.dropout_source().module_p(), module_p);
  double lo = 1, hi = 0;
  for (double q : module_p) lo = std::min(lo, q), hi = std::max(hi, q);
  EXPECT_GT(hi - lo, 0.05);
  models::ReferenceExecutor ref(c);
  models::SampleMasks masks;
  std::vector<float> want(net.classes);
  for (std::size_t k = 0; k < got.size(); ++k) {
    c.fill_masks(masks, [&](std::size_t d) {
      std::size_t l = 0;
      while (l + 1 < c.layers.size() && d >= c.draw_offset[l + 1]) ++l;
      return dropout_draw(2, image_key(0, k / 4), k % 4, d, module_p[modules.module_of(l, d - c.draw_offset[l])]);
    });
    ref.forward(px.data(), masks, want.data());
    for (int o = 0; o < net.classes; ++o) EXPECT_EQ(got[k][o], want[o]) << "sample " << k;
  }
}

// The analog path (Kirchhoff sum over each MTJ's own conductance) with a vanishing variation
// gives exactly the popcount path's outputs.
TEST(HwAnalog, VanishingVariationEqualsTheIdealPath) {
  const auto net = testing::random_cnn(12, models::DropoutKind::Spatial, 0.3);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 4; ++i) images.push_back(testing::random_pixels(net.input_size, 90 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(0, i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = 20;
  cfg.arch.cols = 3;
  cfg.samples = 2;
  cfg.dropout_p = 0.3;
  cfg.device.variation.r_p_sigma_log = 1e-12;
  std::vector<std::vector<float>> got;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    got.emplace_back(l, l + net.classes);
  });
  sc_core::sc_start();
  testing::expect_reference_logits(c, images, got, 2, cfg.seed, 0, acc.dropout_source().realised_p());
  EXPECT_GT(collect_stats().energy_by_component()["crossbar_read"], 0.0);
}

INSTANTIATE_TEST_SUITE_P(Kinds, HwKinds,
                         ::testing::Values(models::DropoutKind::None, models::DropoutKind::McDropout,
                                           models::DropoutKind::Spatial, models::DropoutKind::Scale));

TEST(DropoutModules, CountsOfTheThreeOrganisationsByHand) {
  // random_cnn: conv2 has C_in = 4 and a 3x3 kernel (36 rows); fc1 has 45 inputs.
  const auto spatial = testing::random_cnn(1, models::DropoutKind::Spatial);
  const auto mc = testing::random_cnn(1, models::DropoutKind::McDropout);   // conv2 and fc1
  const auto scale = testing::random_cnn(1, models::DropoutKind::Scale);    // all three layers
  EXPECT_EQ(map_modules(models::CompiledNetwork(spatial)).modules, 4u);
  EXPECT_EQ(map_modules(models::CompiledNetwork(mc)).modules, 36u + 45u);
  EXPECT_EQ(map_modules(models::CompiledNetwork(scale)).modules, 1u);
  EXPECT_EQ(map_modules(models::CompiledNetwork(testing::random_cnn(1, models::DropoutKind::None))).modules, 0u);
  // Per conv layer, spatial needs K*K = 9 times fewer modules than per-row dropout.
  auto mc_conv = testing::random_cnn(1, models::DropoutKind::McDropout);
  models::DropoutSpec only_conv2 = mc_conv.dropout;
  only_conv2.layers = {"conv2"};
  mc_conv.apply_dropout(only_conv2);
  EXPECT_EQ(map_modules(models::CompiledNetwork(mc_conv)).modules, 9u * map_modules(models::CompiledNetwork(spatial)).modules);
}

// Spatial masks: constant over all window positions of one pass, and a dropped channel's rows
// draw no current (the active-row mask excludes all K*K rows of that channel at every position).
TEST(SpatialMask, HoldsOverAllPositionsAndGatesTheChannelsRows) {
  const auto net = testing::random_cnn(2, models::DropoutKind::Spatial);
  const models::CompiledNetwork c(net);
  const auto& conv2 = c.layers[1];
  std::vector<std::uint64_t> input(models::words_for(conv2.src->input_elems()), ~std::uint64_t{0});
  std::vector<std::uint64_t> mask(1, 0b0101);  // channels 0 and 2 dropped
  std::vector<std::uint64_t> x(conv2.words), act(conv2.words);
  for (int p = 0; p < conv2.src->positions(); ++p) {
    conv2.rows_at(p, input.data(), mask.data(), x.data(), act.data());
    for (int r = 0; r < conv2.in; ++r) {
      const int ch = r / 9;
      if (ch == 0 || ch == 2) EXPECT_FALSE(models::get_bit(act.data(), r)) << "position " << p << " row " << r;
      else EXPECT_TRUE(models::get_bit(act.data(), r)) << "position " << p << " row " << r;  // conv2 has no padding
    }
  }
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

TEST(Area, ComponentsByHand) {
  const auto net = testing::hand_network(true);  // fc1 on one SA-path array, fc2 on one ADC-path array
  const models::CompiledNetwork c(net);
  ArchParams a;
  a.rows = 4;
  a.cols = 2;
  const Mapping m = map_network(c, a);
  DeviceParams d;  // 54 F^2 per 1T-1MTJ cell
  DropoutCircuits one;
  one.modules = 1;
  const auto area = area_by_component(m, a, d, one);
  const double f2 = 22e-9 * 22e-9;
  EXPECT_NEAR(area.at("arrays"), 2 * 4 * 2 * 2 * 54 * f2, 1e-24);
  EXPECT_NEAR(area.at("sense_amp"), 2 * 2 * 1.0e-12, 1e-24);
  EXPECT_NEAR(area.at("adc"), 1 * 1 * 500e-12, 1e-24);  // one ADC-path array, ceil(2 / 8) = 1 ADC
  EXPECT_NEAR(area.at("periphery"), 2 * 1000e-12, 1e-24);
  EXPECT_NEAR(area.at("dropout_rng"), 5e-12, 1e-24);
  EXPECT_NEAR(area.at("dropout_driver"), 10e-12, 1e-24);
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// conv2 of random_cnn under per-neuron dropout: 36 rows (36 modules), 9 output positions, one SA
// array (rows 512 default): the arrays read 9 x 1.66 ns = 14.94 ns, ending on the 1 ns clock at
// 15 ns; each module (its own, not shared: no arbitration) draws 9 bits of 14.5 ns, 130.5 ns,
// ending at 131 ns. In sequence: 131 + 15 = 146 ns. Pipelined (next position's bits drawn while
// the arrays read): the first bit 14.5 -> 15 ns, the reads 15 ns, then the layer waits for the
// draws to end at 131 ns (a dropout stall of 131 - 30 = 101 ns).
double conv2_time_per_sample(bool pipelined) {
  const auto net = testing::random_cnn(3, models::DropoutKind::McDropout, 0.3);
  const models::CompiledNetwork c(net);
  const auto px = testing::random_pixels(net.input_size, 2);
  std::vector<Job> jobs = {{px.data(), image_key(0, 0)}};
  AcceleratorConfig cfg;
  cfg.samples = 2;
  cfg.dropout_p = 0.3;
  cfg.dropout_unit.pipelined = pipelined;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  return collect_stats().sum("layer_time.conv2") / 2;
}

TEST(DropoutPipelining, SequentialDrawsByHand) { EXPECT_NEAR(conv2_time_per_sample(false), 146e-9, 1e-15); }
TEST(DropoutPipelining, PipelinedDrawsByHand) { EXPECT_NEAR(conv2_time_per_sample(true), 131e-9, 1e-15); }

}  // namespace
}  // namespace bayescim::hw
