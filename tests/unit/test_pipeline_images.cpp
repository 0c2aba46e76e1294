// Pipelining across images (issue 21 item 2, mapping.pipeline_images): windows of N images whose
// MC samples go through the layers back to back, drained at the window's end; per-image latencies
// (first sample entering the first layer to last sample leaving the last); the timing memo with
// windows spanning images; and the worker split at whole windows (sim::chunk_begin).
// Each TEST runs in its own process (gtest_discover_tests), so each may elaborate once.
#include <gtest/gtest.h>

#include <systemc>
#include <vector>

#include "hw/accelerator.h"
#include "hw/timing/timing_model.h"
#include "models/compiled.h"
#include "sim/runner.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

// The 3-2-2 hand network on 4 x 2 arrays (tests/util/tiny_net.h), no dropout, T = 3, ideal
// devices, 1 ns clock. Stage times (docs/hardware.md, eq. T2 and the clock rounding):
//   fc1 (SA path): one 1.66 ns read -> 2 ns, no digital step: s1 = 2 ns;
//   fc2 (ADC path, logits): 1.66 ns + 2 columns x 2 ns on one ADC = 5.66 -> 6 ns, + 1 clock of
//   BN: s2 = 7 ns.
// Double buffer: fc1 may start sample k only when fc2 has finished sample k - 2.
StatsSink run_images(int images, int window, bool accelerate, std::vector<std::uint64_t>* latencies = nullptr) {
  static const auto net = testing::hand_network(false);
  static const models::CompiledNetwork c(net);
  static const std::vector<std::uint8_t> px = {255, 0, 255};
  static std::vector<Job> jobs;
  for (int i = 0; i < images; ++i) jobs.push_back({px.data(), static_cast<std::uint64_t>(i)});
  AcceleratorConfig cfg;
  cfg.arch.rows = 4;
  cfg.arch.cols = 2;
  cfg.arch.pipeline_samples = true;
  cfg.arch.pipeline_images = window;
  cfg.samples = 3;
  cfg.accelerate = accelerate;
  Accelerator acc("acc", cfg, c, jobs, [](std::size_t, int, const float*, const std::uint8_t*) {});
  sc_core::sc_start();
  if (latencies) {
    auto* t = dynamic_cast<TimingModel*>(sc_core::sc_find_object("acc.controller.timing"));
    if (t) *latencies = t->image_latencies();
  }
  return collect_stats();
}

// N = 1: each image alone, s1 + T s2 = 2 + 3 x 7 = 23 ns, drained before the next: 2 x 23 = 46 ns.
// fc1 holds sample 2 from 4 ns (sample 1 done) to 9 ns (fc2 done with sample 0): a buffer stall of
// 5 ns per image.
TEST(PipelineImages, TwoImagesOneWindowEachByHand) {
  std::vector<std::uint64_t> lat;
  const auto st = run_images(2, 1, false, &lat);
  EXPECT_NEAR(st.sum("inference_time"), 46e-9, 1e-18);
  EXPECT_NEAR(st.sum("image_latency"), 46e-9, 1e-18);
  EXPECT_EQ(st.sum("images_timed"), 2.0);
  EXPECT_NEAR(st.sum("stall.buffer"), 10e-9, 1e-18);
  EXPECT_EQ(lat, (std::vector<std::uint64_t>{23000, 23000}));
}

// N = 2: the 6 samples of both images back to back (ns; fc1 [enter, start-end], fc2 [start-end]):
//   s0 fc1 [0, 0-2]   fc2 2-9       s3 fc1 [11, 16-18] fc2 23-30
//   s1 fc1 [2, 2-4]   fc2 9-16      s4 fc1 [18, 23-25] fc2 30-37
//   s2 fc1 [4, 9-11]  fc2 16-23     s5 fc1 [25, 30-32] fc2 37-44
// (fc1 waits for fc2 to finish sample k - 2: 5 ns each for s2..s5, 20 ns of buffer stall.)
// Total 44 ns instead of 2 x 23; image 0: 0 -> 23 ns, image 1: its first sample enters fc1 at
// 11 ns and its last leaves fc2 at 44 ns: 33 ns. Mean latency 28 ns, throughput 2 / 44 ns.
TEST(PipelineImages, TwoImagesInOneWindowByHand) {
  std::vector<std::uint64_t> lat;
  const auto st = run_images(2, 2, false, &lat);
  EXPECT_NEAR(st.sum("inference_time"), 44e-9, 1e-18);
  EXPECT_NEAR(st.sum("image_latency"), 56e-9, 1e-18);
  EXPECT_EQ(st.sum("images_timed"), 2.0);
  EXPECT_NEAR(st.sum("stall.buffer"), 20e-9, 1e-18);
  EXPECT_EQ(lat, (std::vector<std::uint64_t>{23000, 33000}));
  EXPECT_EQ(st.sum("windows"), 1.0);
}

// Three images in windows of 2: the second window holds one image and drains on its own:
// 44 + 23 = 67 ns; latencies 23, 33, 23 ns.
TEST(PipelineImages, ShortLastWindowByHand) {
  std::vector<std::uint64_t> lat;
  const auto st = run_images(3, 2, false, &lat);
  EXPECT_NEAR(st.sum("inference_time"), 67e-9, 1e-18);
  EXPECT_EQ(lat, (std::vector<std::uint64_t>{23000, 33000, 23000}));
  EXPECT_EQ(st.sum("windows"), 2.0);
}

// Four images in windows of 2 with the memo on: the second window is the first's op stream, a
// memo hit, and must give the same times and per-image latencies as simulating it.
TEST(PipelineImages, MemoHitGivesTheSimulatedLatencies) {
  std::vector<std::uint64_t> lat;
  const auto st = run_images(4, 2, true, &lat);
  EXPECT_NEAR(st.sum("inference_time"), 88e-9, 1e-18);
  EXPECT_NEAR(st.sum("image_latency"), 112e-9, 1e-18);
  EXPECT_NEAR(st.sum("stall.buffer"), 40e-9, 1e-18);
  EXPECT_EQ(lat, (std::vector<std::uint64_t>{23000, 33000, 23000, 33000}));
}

// Drives a TimingModel directly: windows (op stream, image ends) one after another.
struct Driver : sc_core::sc_module {
  TimingModel timing;
  std::vector<std::pair<WindowOps, std::vector<bool>>> windows;
  Driver(sc_core::sc_module_name n, const TimingModel::Config& c) : sc_module(n), timing("timing", c) {
    SC_HAS_PROCESS(Driver);
    SC_THREAD(run);
  }
  void run() {
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    for (const auto& [ops, ends] : windows) timing.run_window(ops, ends, false, delay);
    wait(delay);
  }
};

TimingModel::Config two_stages(bool memo) {
  TimingModel::Config c;
  c.layer_names = {"fc1", "fc2"};
  c.pipeline_samples = true;
  c.clock_ps = 1000;
  c.memo = memo;
  return c;
}

// The memo's key is the op stream alone: the same six samples (the stage times of the hand
// network above: fc1 2 ns, fc2 6 + 1 ns), first as two images of 3 samples, then as three images
// of 2. Sample times from the window's start (ns), from the schedule above: enter fc1 0, 2, 4,
// 11, 18, 25; leave fc2 9, 16, 23, 30, 37, 44. Window 1: 23 and 33 ns. Window 2 (starts at 44):
// images {s0,s1} 16 - 0 = 16, {s2,s3} 30 - 4 = 26, {s4,s5} 44 - 18 = 26 ns. Then an image spread
// over two one-sample windows (as without pipeline_samples): fc1 0-2, fc2 2-9 each, 9 + 9 = 18 ns.
// With the memo on, window 2 is a hit and the last window a hit on the third: the same latencies.
TEST(TimingMemo, KeyIsTheOpStreamAloneImageEndsApplyOnHits) {
  WindowOps six(6, std::vector<LayerOp>(2));
  for (auto& s : six) {
    s[0].array_ps = s[0].read_ps = 2000;  // SA path: the phase is its read pulses
    s[1].array_ps = s[1].read_ps = 6000;
    s[1].digital_ps = 1000;
  }
  const WindowOps one(six.begin(), six.begin() + 1);
  std::vector<std::pair<WindowOps, std::vector<bool>>> ws = {
      {six, {false, false, true, false, false, true}},
      {six, {false, true, false, true, false, true}},
      {one, {false}},
      {one, {true}}};
  Driver on("on", two_stages(true)), off("off", two_stages(false));
  on.windows = off.windows = ws;
  sc_core::sc_start();
  const std::vector<std::uint64_t> want = {23000, 33000, 16000, 26000, 26000, 18000};
  EXPECT_EQ(off.timing.image_latencies(), want);
  EXPECT_EQ(on.timing.image_latencies(), want);
  EXPECT_EQ(sc_core::sc_time_stamp().value(), 44000u + 44000u + 9000u + 9000u);
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::sim {
namespace {

// 10 images in windows of 3 (3, 3, 3, 1) over workers: whole windows, as evenly as whole windows
// allow (4 windows over 2 workers: 2 + 2 = images 0-5 and 6-9; over 3 workers: 4 x w / 3 = 0, 1,
// 2, 4 windows -> 0, 3, 6, 10; over 5 workers one is empty at 4 windows). Window 1: every image.
TEST(ChunkBegin, WholeWindowsEvenly) {
  auto begins = [](std::size_t total, std::size_t window, int workers) {
    std::vector<std::size_t> b;
    for (int w = 0; w <= workers; ++w) b.push_back(chunk_begin(total, window, workers, w));
    return b;
  };
  EXPECT_EQ(begins(10, 3, 1), (std::vector<std::size_t>{0, 10}));
  EXPECT_EQ(begins(10, 3, 2), (std::vector<std::size_t>{0, 6, 10}));
  EXPECT_EQ(begins(10, 3, 3), (std::vector<std::size_t>{0, 3, 6, 10}));
  EXPECT_EQ(begins(10, 3, 5), (std::vector<std::size_t>{0, 0, 3, 6, 9, 10}));
  EXPECT_EQ(begins(16, 8, 2), (std::vector<std::size_t>{0, 8, 16}));
  EXPECT_EQ(begins(7, 1, 2), (std::vector<std::size_t>{0, 3, 7}));  // as before windows: 7 x w / 2
  for (std::size_t total : {1u, 5u, 17u, 64u})
    for (std::size_t window : {1u, 2u, 4u, 8u})
      for (int workers = 1; workers <= 6; ++workers)
        for (int w = 0; w <= workers; ++w) {
          const std::size_t b = chunk_begin(total, window, workers, w);
          EXPECT_TRUE(b % window == 0 || b == total) << total << " " << window << " " << workers << " " << w;
          if (w > 0) {
            EXPECT_LE(chunk_begin(total, window, workers, w - 1), b);
          }
        }
}

}  // namespace
}  // namespace bayescim::sim
