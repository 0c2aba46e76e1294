// Architecture options and array non-idealities (issue 4): the cell scheme, rows per read,
// replication, sample pipelining, read disturb, write errors with write-verify, and the driver
// energies, each checked against the reference executor or a hand calculation.
// Each TEST runs in its own process (gtest_discover_tests), so each may elaborate once.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <sstream>
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

struct ArchCase {
  const char* name;
  CellScheme cell;
  int rows_per_read;
  int replicate;
  bool pipeline;
};

class HwArch : public ::testing::TestWithParam<ArchCase> {};

// Ideal devices and exact ADCs: whatever the scheme, grouping, copies or overlap, the logits are
// the reference executor's on the same draws.
TEST_P(HwArch, SimulationEqualsReferenceOnTheSameDraws) {
  const ArchCase& k = GetParam();
  const auto net = testing::random_cnn(31, models::DropoutKind::Spatial, 0.35);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 5; ++i) images.push_back(testing::random_pixels(net.input_size, 170 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(1, i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = 20;  // conv1 9 rows x 100 positions, conv2 36 rows x 9 positions, fc1 45 rows
  cfg.arch.cols = 3;
  cfg.arch.cell = k.cell;
  cfg.arch.rows_per_read = k.rows_per_read;
  cfg.arch.replicate = k.replicate;
  cfg.arch.pipeline_samples = k.pipeline;
  cfg.samples = 3;
  cfg.dropout_p = 0.35;
  cfg.seed = 9;
  std::vector<std::vector<float>> got;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    got.emplace_back(l, l + net.classes);
  });
  sc_core::sc_start();
  ASSERT_EQ(got.size(), images.size() * 3);
  const auto& m = acc.mapping();
  // conv1 (9 rows) is sensed by SAs only with the complementary cell and 9 rows in one read.
  EXPECT_EQ(m.layers[0].sa_path, k.cell == CellScheme::Complementary && (k.rows_per_read == 0 || k.rows_per_read >= 9));
  EXPECT_EQ(m.layers[0].replicas, k.replicate);
  EXPECT_EQ(m.layers[2].replicas, 1);  // one output position: one copy
  std::size_t arrays = 0;
  for (const auto& l : m.layers) arrays += static_cast<std::size_t>(l.replicas * l.row_tiles * l.col_tiles);
  EXPECT_EQ(m.arrays.size(), arrays);
  testing::expect_reference_logits(c, images, got, 3, 9, 1, acc.dropout_source().realised_p(), k.name);
}

INSTANTIATE_TEST_SUITE_P(
    Options, HwArch,
    ::testing::Values(ArchCase{"complementary", CellScheme::Complementary, 0, 1, false},
                      ArchCase{"rows_per_read_8", CellScheme::Complementary, 8, 1, false},
                      ArchCase{"two_phase", CellScheme::TwoPhase, 0, 1, false},
                      ArchCase{"two_phase_rows_7", CellScheme::TwoPhase, 7, 1, false},
                      ArchCase{"replicate_4", CellScheme::Complementary, 0, 4, false},
                      ArchCase{"pipelined", CellScheme::Complementary, 0, 1, true},
                      ArchCase{"all", CellScheme::TwoPhase, 8, 3, true}),
    [](const auto& info) { return std::string(info.param.name); });

// Runs the 3-2-2 hand network (x = (+1, -1, +1); fc1 matches (3, 1), fc2 matches (1, 2)) on 4x2
// arrays and returns the statistics.
StatsSink run_hand(const AcceleratorConfig& cfg, bool dropout, int images, std::vector<float>* last_logits) {
  static const auto net = testing::hand_network(dropout);
  static const models::CompiledNetwork c(net);
  static const std::vector<std::uint8_t> px = {255, 0, 255};
  static std::vector<Job> jobs;
  for (int i = 0; i < images; ++i) jobs.push_back({px.data(), static_cast<std::uint64_t>(i)});
  Accelerator acc("acc", cfg, c, jobs, [last_logits](std::size_t, int, const float* l, const std::uint8_t*) {
    if (last_logits) last_logits->assign(l, l + 2);
  });
  sc_core::sc_start();
  return collect_stats();
}

AcceleratorConfig hand_arch() {
  AcceleratorConfig c;
  c.arch.rows = 4;
  c.arch.cols = 2;
  c.dropout_p = 1.0;
  return c;
}

// Two reads of fc1 (rows 0-1, then row 2), each converted by a 2-bit ADC (exact for 2 rows) and
// added: fc1 becomes an ADC layer. fc2 (2 rows) is one read.
TEST(RowsPerRead, ReadsConversionsAndLatencyByHand) {
  auto cfg = hand_arch();
  cfg.arch.rows_per_read = 2;
  std::vector<float> logits;
  const auto st = run_hand(cfg, false, 1, &logits);
  EXPECT_FLOAT_EQ(logits[0], 0.0f);
  EXPECT_FLOAT_EQ(logits[1], 2.0f);
  EXPECT_EQ(st.sum("array_reads"), 3.0);
  EXPECT_EQ(st.sum("adc_conversions"), 6.0);  // (2 + 1) reads x 2 columns
  EXPECT_EQ(st.sum("sa_decisions"), 0.0);
  EXPECT_NEAR(st.energy_by_component()["adc"], 6 * 50e-15 * 4, 1e-24);  // 2 bits: 2^2 steps
  // Each read: 1.66 ns, then the array's one ADC converts its 2 columns in turn (2 x 2 ns); the
  // array phase ends on the 1 ns clock. fc1: 2 reads x 5.66 ns = 11.32 -> 12 ns + 1 clock of
  // threshold; fc2: 5.66 -> 6 ns + 1 ns.
  EXPECT_NEAR(st.sum("inference_time"), 12e-9 + 1e-9 + 6e-9 + 1e-9, 1e-18);
  // The two groups' codes are added inside the tile: one addition per column.
  EXPECT_NEAR(st.energy_by_component()["digital"], 2 * 50e-15 + 4 * 100e-15, 1e-24);
}

// 1T-1MTJ cells read in two phases: every active row conducts through the MTJ storing w, so the
// read energy follows the weights (P for +1, AP for -1), not the matches; twice the reads and
// conversions; half the MTJs to program.
TEST(TwoPhaseCell, EnergyLatencyAndProgrammingByHand) {
  auto cfg = hand_arch();
  cfg.arch.cell = CellScheme::TwoPhase;
  std::vector<float> logits;
  const auto st = run_hand(cfg, false, 1, &logits);
  EXPECT_FLOAT_EQ(logits[0], 0.0f);
  EXPECT_FLOAT_EQ(logits[1], 2.0f);
  const double V = 0.25, t = 1.66e-9, gp = 1 / 3000.0, gap = 1 / 6000.0;
  // fc1 columns w = (+1 -1 +1), (-1 -1 -1): 2 P + 1 AP, 3 AP. fc2 on h = (+1, -1), columns
  // (+1 +1), (+1 -1): 2 P, 1 P + 1 AP. In all 5 P and 5 AP branches conduct for one pulse.
  EXPECT_NEAR(st.energy_by_component()["crossbar_read"], V * V * t * (5 * gp + 5 * gap), 1e-24);
  EXPECT_EQ(st.sum("array_reads"), 4.0);
  EXPECT_EQ(st.sum("adc_conversions"), 8.0);
  EXPECT_NEAR(st.energy_by_component()["adc"], 8 * 50e-15 * 8, 1e-24);  // 3 bits for 4 rows
  // Each layer: 2 phases x (1.66 ns + 2 columns x 2 ns on the array's one ADC) = 11.32 ns, ending
  // on the 1 ns clock at 12 ns, + 1 clock.
  EXPECT_NEAR(st.sum("inference_time"), 2 * (12e-9 + 1e-9), 1e-18);
  // 10 cells, one MTJ each: weights +1 (P) and -1 (AP) of fc1 (+1 -1 +1 -1 -1 -1) and fc2 (+1 +1 +1 -1).
  EXPECT_EQ(st.sum("programming.mtj_writes"), 10.0);
  // 10 pulses from the 0.8 V write supply, V_w I_w t_w each (W1), whatever state they write.
  EXPECT_NEAR(st.energy_by_component(true)["programming"], 10 * 0.8 * 80e-6 * 10e-9, 1e-24);
  ArchParams a = cfg.arch;
  const auto area = area_by_component(map_network(models::CompiledNetwork(testing::hand_network(false)), a), a,
                                      DeviceParams{}, DropoutCircuits{});
  EXPECT_NEAR(area.at("arrays"), 2 * 4 * 2 * 1 * 54 * 22e-9 * 22e-9, 1e-24);
}

// eq. E1 and E2: one wordline per enabled row per read, every bitline of the array per read.
TEST(Drivers, WordlineAndBitlineEnergyByHand) {
  auto cfg = hand_arch();
  cfg.arch.wordline_cap_F_per_cell = 0.1e-15;
  cfg.arch.wordline_voltage_V = 0.8;
  cfg.arch.bitline_cap_F_per_cell = 0.05e-15;
  const auto st = run_hand(cfg, false, 1, nullptr);
  const double wl = 0.1e-15 * 2 * 0.64;    // per row: C x 2 cells x V^2
  const double bl = 0.05e-15 * 4 * 0.0625;  // per column: C x 4 cells x V_read^2
  // fc1: 3 rows, 2 columns; fc2: 2 rows, 2 columns; one read each.
  EXPECT_NEAR(st.energy_by_component()["drivers"], (3 + 2) * wl + (2 + 2) * bl, 1e-30);
}

// Pipelined samples: sample t+1 enters a layer when sample t has left it. With fc1 taking
// s1 = 1.66 -> 2 ns (on the 1 ns clock) and fc2 s2 = 1.66 + 2 x 2 -> 6, + 1 = 7 ns, T samples of
// one image take s1 + T s2 (s2 > s1: the slower stage sets the steady state) instead of
// T (s1 + s2); the next image starts when the previous one has drained. The double buffer
// between them: fc1 may start sample 2 only when fc2 has finished sample 0, at 2 + 7 = 9 ns; fc1
// finished sample 1 at 4 ns, so it stalls 5 ns per image for a free buffer half.
TEST(PipelineSamples, LatencyOfThreeSamplesByHand) {
  auto cfg = hand_arch();
  cfg.samples = 3;
  cfg.arch.pipeline_samples = true;
  std::vector<float> logits;
  const auto st = run_hand(cfg, false, 2, &logits);
  EXPECT_FLOAT_EQ(logits[1], 2.0f);
  EXPECT_NEAR(st.sum("inference_time"), 2 * (2e-9 + 3 * 7e-9), 1e-18);
  EXPECT_NEAR(st.sum("stall.buffer"), 2 * 5e-9, 1e-18);
  EXPECT_NEAR(st.sum("stall.dropout"), 0.0, 1e-18);
}

// With the shared dropout unit (14.5 -> 15 ns per bit on the 1 ns clock, one request at a time,
// granted at the first clock edge after it is raised, the lowest layer first) the two layers
// contend. fc1 reads 2 ns, fc2 6 + 1 ns. By hand (ns):
//   s0: fc1 asks at 0, unit 1-16, reads -18. fc1 s1 and fc2 s0 both ask at 18: at 19 fc1 wins,
//       unit 19-34 (fc1 s1 reads -36); fc2 s0 unit 34-49, reads and BN -56.
//   fc1 s2 waits from 36 for a buffer half until fc2 has finished s0 (56): buffer stall 20.
//   fc1 s2 and fc2 s1 ask at 56: fc1 unit 57-72, reads -74; fc2 s1 unit 72-87, -94.
//   fc2 s2 asks at 94, unit 95-110, -117.
// Per-layer max() arithmetic with the same durations (each request waits only for the one issued
// before it, in sample order, no arbitration) gets it wrong: s0 draw1 0-15, fc1 -17, draw2 -32,
// fc2 -39; s1 32-47-49-64-71; s2 64-79-81-96-103 ns. In the simulated unit fc1's later samples
// win the arbitration and fc2 waits for them. Dropout stalls (arrays waiting for bits): fc1 3 x 16; fc2
// s0 18-49, s1 56-87 (31 each), s2 94-110 (16): 48 + 78 = 126 ns.
// The unit is busy 6 x 15 = 90 ns.
TEST(PipelineSamples, SharedDropoutUnitSerialisesDrawsByHand) {
  auto cfg = hand_arch();
  cfg.samples = 3;
  cfg.arch.pipeline_samples = true;
  const auto st = run_hand(cfg, true, 1, nullptr);
  EXPECT_NEAR(st.sum("inference_time"), 117e-9, 1e-18);
  EXPECT_NEAR(st.sum("stall.dropout"), 126e-9, 1e-18);
  EXPECT_NEAR(st.sum("stall.buffer"), 20e-9, 1e-18);
  EXPECT_NEAR(st.sum("resource_busy.dropout.dropout_unit"), 90e-9, 1e-18);
}

// The interconnect (eq. N1): a 3-16-2 network without dropout on 16 x 16 arrays, so that fc1
// sends many bits. Per sample: the image is 3 bits (first sample only); fc1's output is 16 +-1
// activations, 1 bit each; fc2's two logits lie in [-16, 16], 33 values: ceil(log2 33) = 6 bits
// each, 12 bits. Without the bus, fc1 is one SA read, 1.66 -> 2 ns; fc2 one read and its two
// columns converted in turn by one ADC, 1.66 + 2 x 2 -> 6 ns, + 1 clock of digital: 9 ns.
StatsSink run_wide(int bus_bits, int samples) {
  static const auto net = testing::random_network({3, 16, 2}, 5, false);
  static const models::CompiledNetwork c(net);
  static const std::vector<std::uint8_t> px = {255, 0, 255};
  static std::vector<Job> jobs = {{px.data(), image_key(0, 0)}};
  AcceleratorConfig cfg;
  cfg.arch.rows = 16;
  cfg.arch.cols = 16;
  cfg.arch.bus_bits_per_cycle = bus_bits;
  cfg.samples = samples;
  cfg.arch.pipeline_samples = samples > 1;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  return collect_stats();
}

// One bit per cycle, each transfer one clock of arbitration + its bits: image 1 + 3, fc1's
// output 1 + 16, fc2's 1 + 12 = 34 cycles on top of the 9 ns.
TEST(Interconnect, OneBitPerCycleOneSampleByHand) {
  const auto st = run_wide(1, 1);
  EXPECT_NEAR(st.sum("inference_time"), 9e-9 + 34e-9, 1e-18);
  EXPECT_NEAR(st.sum("stall.interconnect"), 34e-9, 1e-18);
  EXPECT_NEAR(st.sum("resource_busy.interconnect.interconnect"), (3 + 16 + 12) * 1e-9, 1e-18);
}

// 4 bits per cycle: ceil(3/4) = 1, ceil(16/4) = 4, ceil(12/4) = 3 cycles on the bus (8), each
// after its cycle of arbitration: 11 cycles.
TEST(Interconnect, WiderBusRoundsEachTransferUpToWholeCycles) {
  const auto st = run_wide(4, 1);
  EXPECT_NEAR(st.sum("inference_time"), 9e-9 + 11e-9, 1e-18);
  EXPECT_NEAR(st.sum("resource_busy.interconnect.interconnect"), 8e-9, 1e-18);
}

// Three pipelined samples share the 1-bit bus (lowest layer first at an edge; ns):
//   fc1 s0: image 1-4, reads 4-6, output asks 6, bus 7-23.      fc1 s1: reads 23-25, asks 25, bus 26-42.
//   fc2 s0: reads 23-29, digital -30, asks 30; the bus is fc1's until 42: bus 42-54.
//   fc1 s2: enters 42, waits for a free buffer half until fc2 finishes s0 (54): buffer stall 12;
//           reads 54-56, asks 56, bus 57-73.
//   fc2 s1: reads 54-60, digital -61, asks 61, the bus is fc1's until 73: bus 73-85.
//   fc2 s2: enters 85, reads -91, digital -92, asks 92, bus 93-105.
// Per-layer max() arithmetic (each stage its transfers included: fc1 2 + 17 (+ 4 for the
// image), fc2 7 + 13 = 20, the slower stage sets the pace) gets 23 + 3 x 20 = 83 ns: it cannot
// see fc1 and fc2 contending for the bus.
// Interconnect stalls: fc1 4 + 3 x 17 = 55, fc2 24 + 24 + 13 = 61. The bus: 3 + 3 x 16 + 3 x 12
// = 87 ns busy. fc2's arrays also wait 6 - 1.66 ns for the ADC per sample.
TEST(Interconnect, BusSharedByPipelinedSamplesByHand) {
  const auto st = run_wide(1, 3);
  EXPECT_NEAR(st.sum("inference_time"), 105e-9, 1e-18);
  EXPECT_GT(st.sum("inference_time"), 83e-9 + 1e-9);
  EXPECT_NEAR(st.sum("stall.interconnect"), 116e-9, 1e-18);
  EXPECT_NEAR(st.sum("stall.buffer"), 12e-9, 1e-18);
  EXPECT_NEAR(st.sum("resource_busy.interconnect.interconnect"), 87e-9, 1e-18);
  EXPECT_NEAR(st.sum("resource_stall.array.fc2.arrays"), 61e-9 + 3 * (6e-9 - 1.66e-9), 1e-15);
}

// Width 0: no bus resource and the 9 ns of the unconnected schedule.
TEST(Interconnect, ZeroWidthIsNotModelled) {
  const auto st = run_wide(0, 1);
  EXPECT_NEAR(st.sum("inference_time"), 9e-9, 1e-18);
  EXPECT_EQ(st.sum("resource_busy.interconnect.interconnect"), 0.0);
  EXPECT_EQ(st.sum("stall.interconnect"), 0.0);
}

// Copies of conv2 (9 positions, one SA array) share its positions: 4 copies read 3, 2, 2, 2
// positions, so the layer takes 3 reads instead of 9; energy and outputs do not change.
TEST(Replication, LayerLatencyAndArraysByHand) {
  const auto net = testing::random_cnn(4, models::DropoutKind::None);
  const models::CompiledNetwork c(net);
  const auto px = testing::random_pixels(net.input_size, 3);
  std::vector<Job> jobs = {{px.data(), image_key(0, 0)}};
  AcceleratorConfig cfg;
  cfg.arch.replicate = 4;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  const auto& m = acc.mapping();
  EXPECT_EQ(m.layers[1].replicas, 4);
  EXPECT_EQ(m.arrays.size(), 4u + 4u + 1u);  // conv1 (100 positions) and conv2 copied, fc1 not
  const auto st = collect_stats();
  // On the 1 ns clock: 3 x 1.66 = 4.98 -> 5 ns; 25 x 1.66 = 41.5 -> 42 ns.
  EXPECT_NEAR(st.sum("layer_time.conv2"), 5e-9, 1e-18);
  EXPECT_NEAR(st.sum("layer_time.conv1"), 42e-9, 1e-18);  // 100 positions over 4 copies
  EXPECT_EQ(st.sum("array_reads"), 100.0 + 9.0 + 1.0);            // every position read once
  EXPECT_EQ(st.sum("programming.mtj_writes"), 2.0 * (4 * 9 * 4 + 4 * 36 * 5 + 45 * 6));
}

// A dense 64 -> 16 logits layer with every weight -1 and every input +1: every conducting MTJ
// (the one storing w) is in AP, so every MTJ of the array is eligible for read disturb.
models::Network all_ap_layer() {
  models::Network n;
  n.source = "hand";
  n.input_size = n.input_c = 64;
  n.classes = 16;
  auto l = testing::dense("fc1", 64, 16, false);
  l.weight.assign(64 * 16, -1);
  l.alpha.assign(16, 1.0f);
  l.bn_gamma.assign(16, 1.0f);
  l.bn_beta.assign(16, 0.0f);
  l.bn_mean.assign(16, 0.0f);
  l.bn_var.assign(16, 1.0f - 1e-5f);
  n.layers.push_back(l);
  n.validate();
  return n;
}

// The observed disturb count over many single-read images against Binomial(1024 x images, q).
TEST(ReadDisturb, ObservedRateMatchesTheConfiguredRate) {
  const auto net = all_ap_layer();
  const models::CompiledNetwork c(net);
  const std::vector<std::uint8_t> px(64, 255);
  std::vector<Job> jobs;
  const int images = 300;
  for (int i = 0; i < images; ++i) jobs.push_back({px.data(), image_key(0, static_cast<std::uint64_t>(i))});
  AcceleratorConfig cfg;
  cfg.arch.rows = 64;
  cfg.arch.cols = 16;
  cfg.device.variation.read_disturb_rate = 0.01;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  const auto st = collect_stats();
  const double n = 1024.0 * images, q = 0.01;
  EXPECT_LT(std::abs(st.sum("read_disturbs") - n * q), 5 * std::sqrt(n * q * (1 - q)));
  // Each disturbed MTJ is rewritten to AP once: one pulse from the 0.8 V write supply, V_w I_w t_w (W1).
  EXPECT_NEAR(st.energy_by_component()["read_disturb"], st.sum("read_disturbs") * 0.8 * 80e-6 * 10e-9, 1e-20);
}

// With q = 1 the first read switches every conducting AP MTJ to P: the next samples of the same
// image read all matches; the next image starts from the restored array.
TEST(ReadDisturb, CertainDisturbPersistsWithinAnImageAndIsRestoredBetweenImages) {
  const auto net = all_ap_layer();
  const models::CompiledNetwork c(net);
  const std::vector<std::uint8_t> px(64, 255);
  std::vector<Job> jobs = {{px.data(), image_key(0, 0)}, {px.data(), image_key(0, 1)}};
  AcceleratorConfig cfg;
  cfg.arch.rows = 64;
  cfg.arch.cols = 16;
  cfg.samples = 3;
  cfg.device.variation.read_disturb_rate = 1.0;
  std::vector<float> first;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    first.push_back(l[0]);
  });
  sc_core::sc_start();
  ASSERT_EQ(first.size(), 6u);
  const std::vector<float> want = {-64, 64, 64, -64, 64, 64};  // a = 2m - N
  for (std::size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(first[i], want[i]) << i;
  EXPECT_EQ(collect_stats().sum("read_disturbs"), 2.0 * 1024);
}

// Write errors: without verify a fraction WER of the MTJs is left wrong; with verify and M pulses,
// WER^M, using (1 - WER^M) / (1 - WER) pulses per MTJ on average.
TEST(WriteErrors, ResidualErrorsAndPulsesWithWriteVerify) {
  const auto net = all_ap_layer();
  const models::CompiledNetwork c(net);
  std::vector<Job> jobs;
  AcceleratorConfig cfg;
  cfg.arch.rows = 64;
  cfg.arch.cols = 16;
  cfg.arch.write_verify = true;
  cfg.arch.write_max_attempts = 4;
  cfg.device.variation.write_error_to_p = cfg.device.variation.write_error_to_ap = 0.5;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  const auto st = collect_stats();
  const double n = 2048, e = 0.5, res = std::pow(e, 4);
  EXPECT_LT(std::abs(st.sum("programming.write_errors") - n * res), 5 * std::sqrt(n * res * (1 - res)));
  EXPECT_NEAR(st.sum("programming.mtj_writes") / n, (1 - res) / (1 - e), 0.06);
  EXPECT_EQ(st.sum("programming.verify_reads"), st.sum("programming.mtj_writes"));
  // Each row's two pulses (to P, to AP) repeat until all 16 of its MTJs are right, up to 4 times.
  const double round = 10e-9 + 1.66e-9;
  EXPECT_GE(st.sum("programming_time"), 64 * 2 * round - 1e-15);
  EXPECT_LE(st.sum("programming_time"), 64 * 2 * 4 * round + 1e-15);
  EXPECT_GT(st.sum("programming_time"), 64 * 2 * 3 * round);  // 16 MTJs at 1/2: most rows need >= 3
}

// A perfect device with write-verify: one pulse and one verify read per MTJ, by hand.
TEST(WriteErrors, VerifyReadEnergyAndTimeByHand) {
  auto cfg = hand_arch();
  cfg.arch.write_verify = true;
  cfg.arch.write_max_attempts = 5;
  const auto st = run_hand(cfg, false, 0, nullptr);
  const double V = 0.25, t = 1.66e-9, gp = 1 / 3000.0, gap = 1 / 6000.0;
  const double writes = 20 * (0.8 * 80e-6 * 10e-9);  // 20 pulses from the 0.8 V write supply (W1)
  const double verify = 10 * (V * V * t * (gp + gap) + 2 * 5e-15);
  EXPECT_NEAR(st.energy_by_component(true)["programming"], writes + verify, 1e-24);
  EXPECT_EQ(st.sum("programming.verify_reads"), 20.0);
  EXPECT_EQ(st.sum("programming.write_errors"), 0.0);
  // fc1 3 rows, fc2 2 rows, 2 pulse rounds per row, each 10 ns + a 1.66 ns verify read.
  EXPECT_NEAR(st.sum("programming_time"), 5 * 2 * (10e-9 + 1.66e-9), 1e-18);
}

// Without verify, WER = 1 leaves every MTJ in the opposite state: each cell stores not w, so the
// all-(-1) layer reads a = +64 instead of -64, through the analog path (taken because the cells no
// longer hold the weights).
TEST(WriteErrors, EveryWriteFailingInvertsTheWeights) {
  const auto net = all_ap_layer();
  const models::CompiledNetwork c(net);
  const std::vector<std::uint8_t> px(64, 255);
  std::vector<Job> jobs = {{px.data(), image_key(0, 0)}};
  AcceleratorConfig cfg;
  cfg.arch.rows = 64;
  cfg.arch.cols = 16;
  cfg.device.variation.write_error_to_p = cfg.device.variation.write_error_to_ap = 1.0;
  std::vector<float> logits;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    logits.assign(l, l + 16);
  });
  sc_core::sc_start();
  const auto st = collect_stats();
  EXPECT_EQ(st.sum("programming.write_errors"), 2048.0);
  EXPECT_EQ(st.sum("programming.mtj_writes"), 2048.0);  // no verify: one pulse each
  for (float v : logits) EXPECT_FLOAT_EQ(v, 64.0f);
  // The read energy now comes from the per-MTJ conductances: 64 P MTJs per column. It is counted
  // in whole 10 aJ units per tile operation (ArrayEngine::analog_read_units): one operation here,
  // so within half a unit.
  EXPECT_NEAR(st.energy_by_component()["crossbar_read"], 16 * 64 * 0.25 * 0.25 / 3000 * 1.66e-9, 0.5e-17);
}

// SA input offset: a decision whose current is d away from its reference flips with probability
// Phi(-d / sigma). In the hand network, fc1 neuron 0 (m = 3 against M = 2) is 1.5 V (G_P - G_AP)
// = 62.5 uA above its reference and neuron 1 (m = 1) 0.5 V (G_P - G_AP) = 20.8 uA below; with
// sigma = 62.5 uA they flip with Phi(-1) = 0.1587 and Phi(-1/3) = 0.3694. fc2's logits
// (h0 + h1, h0 - h1) reveal both outputs.
TEST(SenseAmp, OffsetFlipsDecisionsAtTheGaussianTailRate) {
  const auto net = testing::hand_network(false);
  const models::CompiledNetwork c(net);
  const std::vector<std::uint8_t> px = {255, 0, 255};
  const int n = 4000;
  std::vector<Job> jobs;
  for (int i = 0; i < n; ++i) jobs.push_back({px.data(), image_key(0, static_cast<std::uint64_t>(i))});
  auto cfg = hand_arch();
  cfg.arch.sa_offset_sigma_A = 62.5e-6;
  int flips0 = 0, flips1 = 0, seen = 0;
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    const int h0 = static_cast<int>(std::lround((l[0] + l[1]) / 2)), h1 = static_cast<int>(std::lround((l[0] - l[1]) / 2));
    flips0 += h0 == -1;
    flips1 += h1 == +1;
    ++seen;
  });
  sc_core::sc_start();
  ASSERT_EQ(seen, n);
  const double p0 = 0.5 * std::erfc(1.0 / std::sqrt(2.0)), p1 = 0.5 * std::erfc((1.0 / 3.0) / std::sqrt(2.0));
  EXPECT_NEAR(p0, 0.1587, 1e-4);
  EXPECT_NEAR(p1, 0.3694, 1e-4);
  EXPECT_LT(std::abs(flips0 - p0 * n), 5 * std::sqrt(n * p0 * (1 - p0)));
  EXPECT_LT(std::abs(flips1 - p1 * n), 5 * std::sqrt(n * p1 * (1 - p1)));
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// Runs `f` in a forked child (a fresh SystemC kernel) and returns what it wrote.
std::string in_child(const std::function<std::string()>& f) {
  int fd[2];
  if (pipe(fd) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    const std::string out = f();
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = write(fd[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(2);
      done += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fd[1]);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("child failed");
  return out;
}

// The logits of every sample and every statistic, as text.
std::string simulate(models::DropoutKind kind, bool reuse, bool pipelined, int rows) {
  const auto net = testing::random_cnn(5, kind, 0.3);
  const models::CompiledNetwork c(net);
  std::vector<std::vector<std::uint8_t>> images;
  for (int i = 0; i < 4; ++i) images.push_back(testing::random_pixels(net.input_size, 40 + i));
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < images.size(); ++i) jobs.push_back({images[i].data(), image_key(0, i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = rows;
  cfg.arch.cols = 3;
  cfg.arch.pipeline_samples = pipelined;
  cfg.samples = 4;
  cfg.dropout_p = 0.3;
  cfg.accelerate = reuse;
  std::ostringstream os;
  os.precision(17);
  Accelerator acc("acc", cfg, c, jobs, [&](std::size_t, int, const float* l, const std::uint8_t*) {
    for (int o = 0; o < net.classes; ++o) os << l[o] << ' ';
    os << '\n';
  });
  sc_core::sc_start();
  return os.str() + collect_stats().serialise();
}

// Replaying the layers before the first dropout layer (conv1 under spatial dropout on conv2; the
// whole network without dropout), tiles answering a repeated operation (conv1 under
// Scale-Dropout when two samples draw the same bit), the first dropout layer's gather kept per
// image, and SA-path arrays read column by column give the same logits and the same statistics,
// bit for bit, as recomputing them, with and without pipelined samples. With 20-row arrays conv2
// (36 rows) is split into row tiles and read through ADCs; with 64-row arrays it fits one array
// and takes the SA path.
TEST(PrefixReuse, ReplayEqualsRecomputation) {
  for (auto kind : {models::DropoutKind::Spatial, models::DropoutKind::None, models::DropoutKind::Scale,
                    models::DropoutKind::McDropout})
    for (bool pipelined : {false, true})
      for (int rows : {20, 64}) {
        const std::string fresh = in_child([&] { return simulate(kind, false, pipelined, rows); });
        const std::string reused = in_child([&] { return simulate(kind, true, pipelined, rows); });
        EXPECT_GT(fresh.size(), 1000u);
        EXPECT_EQ(fresh, reused) << static_cast<int>(kind) << " pipelined " << pipelined << " rows " << rows;
      }
}

}  // namespace
}  // namespace bayescim::hw
