// Microbenchmarks of the hot kernels (issue 8): XNOR-popcount GEMV, conv rows via the bit-packed
// im2col gather, the analog-mode conductance sum, the ADC partial-sum path and dropout masks.
//
//   build/bench/bench_kernels [--benchmark_filter=Analog] [--benchmark_min_time=0.2]
//
// Compare items/s within one run; absolute times depend on the machine and its load.
#include "hw/physics/kernels.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hw/physics/crossbar_physics.h"
#include "hw/physics/rng.h"
#include "models/bitops.h"
#include "models/compiled.h"
#include "models/onnx_import.h"

namespace {

using bayescim::models::CompiledLayer;
using bayescim::models::CompiledNetwork;
using bayescim::models::Network;

std::vector<std::uint64_t> random_words(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> v(n);
  for (auto& w : v) w = rng();
  return v;
}

// The shipped models, loaded once per process.
const CompiledNetwork& shipped(const std::string& name) {
  static std::vector<std::unique_ptr<Network>> nets;
  static std::vector<std::pair<std::string, std::unique_ptr<CompiledNetwork>>> compiled;
  for (const auto& [n, c] : compiled)
    if (n == name) return *c;
  nets.push_back(std::make_unique<Network>(
      bayescim::models::load_onnx(std::string(BAYESCIM_SOURCE_DIR) + "/models/pretrained/" + name + ".onnx")));
  compiled.emplace_back(name, std::make_unique<CompiledNetwork>(*nets.back()));
  return *compiled.back().second;
}

void BM_XnorMatches(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto x = random_words(bayescim::models::words_for(n), 1), w = random_words(x.size(), 2);
  for (auto _ : state) benchmark::DoNotOptimize(bayescim::models::xnor_matches(x.data(), w.data(), n));
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_XnorMatches)->Arg(512)->Arg(784)->Arg(4096);

// One array read (the tile's ideal path): rows x cols XNOR-popcount with the active-row mask,
// the matches of every column. Items are binary MACs.
void BM_XnorGemv(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
  const std::size_t words = bayescim::models::words_for(rows);
  const auto x = random_words(words, 1), a = random_words(words, 3), w = random_words(words * cols, 2);
  std::vector<int> m(cols);
  for (auto _ : state) {
    for (int c = 0; c < cols; ++c) {
      const std::uint64_t* col = w.data() + c * words;
      int s = 0;
      for (std::size_t k = 0; k < words; ++k) s += __builtin_popcountll(~(x[k] ^ col[k]) & a[k]);
      m[c] = s;
    }
    benchmark::DoNotOptimize(m.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}
BENCHMARK(BM_XnorGemv)->Args({512, 128})->Args({784, 512})->Args({512, 512})->Args({512, 10});

// The SA path of an ideal array (hw/tile.cpp compute_sa_ideal, hw/physics/kernels.h sa_column):
// every column of the Fashion CNN's conv2 (288 rows, 64 columns) at its 196 positions, the
// XNOR-popcount and the SA decision against the reference. Arg 0: the scalar loop; arg 1: sa_column
// (AVX-512 VPOPCNTDQ when the CPU has it; the label says which). Items are binary MACs.
void BM_SaColumns(benchmark::State& state) {
  const std::size_t rows = 288, cols = 64, positions = 196, words = bayescim::models::words_for(rows);
  const auto x = random_words(words * positions, 1), a = random_words(words * positions, 3),
             w = random_words(words * cols, 2);
  std::vector<std::int32_t> act(positions, static_cast<std::int32_t>(rows / 2));
  std::vector<std::uint64_t> out(positions / 64 + 1);
  const bool fast = state.range(0) == 1;
  for (auto _ : state) {
    for (std::size_t c = 0; c < cols; ++c) {
      const std::uint64_t* wc = w.data() + c * words;
      const std::int32_t thr = static_cast<std::int32_t>(c % 9) - 4;
      if (fast)
        benchmark::DoNotOptimize(
            bayescim::hw::sa_column(x.data(), a.data(), positions, wc, words, positions, act.data(), thr, false, out.data()));
      else
        benchmark::DoNotOptimize(bayescim::hw::sa_column_scalar(x.data(), a.data(), positions, wc, words, positions,
                                                                act.data(), thr, false, out.data()));
    }
    benchmark::ClobberMemory();
  }
  state.SetLabel(fast ? (bayescim::hw::sa_column_vectorised() ? "avx512" : "scalar (no AVX-512 VPOPCNTDQ)") : "scalar");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows * cols * positions));
}
BENCHMARK(BM_SaColumns)->Arg(0)->Arg(1);

// A whole conv layer of the shipped Fashion CNN: for each output position, the bit-packed im2col
// row vector (CompiledLayer::rows_at, with spatial dropout of a quarter of the channels), then the
// XNOR-popcount of every output channel. Items are binary MACs.
void BM_ConvLayer(benchmark::State& state) {
  const CompiledNetwork& net = shipped("fashion_cnn_spatial");
  const CompiledLayer& l = net.layers[static_cast<std::size_t>(state.range(0))];
  const int positions = l.src->positions();
  const auto input = random_words(bayescim::models::words_for(l.src->input_elems()), 5);
  std::vector<std::uint64_t> mask = random_words(bayescim::models::words_for(l.src->c_in), 6);
  const auto mask2 = random_words(mask.size(), 7);
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] &= mask2[i];
  std::vector<std::uint64_t> x(l.words), act(l.words);
  std::vector<int> m(l.out);
  for (auto _ : state) {
    for (int p = 0; p < positions; ++p) {
      l.rows_at(p, input.data(), l.dropout ? mask.data() : nullptr, x.data(), act.data());
      for (int o = 0; o < l.out; ++o) {
        const std::uint64_t* col = l.column(o);
        int s = 0;
        for (std::size_t k = 0; k < l.words; ++k) s += __builtin_popcountll(~(x[k] ^ col[k]) & act[k]);
        m[o] = s;
      }
    }
    benchmark::DoNotOptimize(m.data());
  }
  state.SetItemsProcessed(state.iterations() * positions * l.in * l.out);
  state.SetLabel(l.src->name + " " + std::to_string(l.in) + "x" + std::to_string(l.out) + " x" +
                 std::to_string(positions) + " positions");
}
BENCHMARK(BM_ConvLayer)->Arg(0)->Arg(1);

// The im2col gather alone (rows_at), per output position, for the second conv layer.
void BM_ConvRowsAt(benchmark::State& state) {
  const CompiledNetwork& net = shipped("fashion_cnn_spatial");
  const CompiledLayer& l = net.layers[1];
  const int positions = l.src->positions();
  const auto input = random_words(bayescim::models::words_for(l.src->input_elems()), 5);
  const auto mask = random_words(bayescim::models::words_for(l.src->c_in), 6);
  std::vector<std::uint64_t> x(l.words), act(l.words);
  int p = 0;
  for (auto _ : state) {
    l.rows_at(p, input.data(), l.dropout ? mask.data() : nullptr, x.data(), act.data());
    benchmark::DoNotOptimize(x.data());
    if (++p == positions) p = 0;
  }
  state.SetItemsProcessed(state.iterations() * l.in);
}
BENCHMARK(BM_ConvRowsAt);

// Analog read of a rows x cols array with per-MTJ conductances: the bitwise loop of hw/tile.cpp
// (naive) against the selector kernels of hw/physics/kernels.h. Items are cells.
struct AnalogArray {
  int rows, cols;
  std::vector<std::uint64_t> x, a;
  std::vector<double> ga, gb, sa, sb, g;
  AnalogArray(int r, int c)
      : rows(r),
        cols(c),
        x(random_words(bayescim::models::words_for(r), 1)),
        a(random_words(x.size(), 2)),
        sa(r),
        sb(r),
        g(c) {
    std::mt19937_64 rng(3);
    std::lognormal_distribution<double> spread(0.0, 0.05);
    for (auto& w : a) w |= rng();  // three quarters of the rows active
    for (int i = 0; i < r * c; ++i) {
      ga.push_back(spread(rng) / 3000);
      gb.push_back(spread(rng) / 6000);
    }
  }
};

void BM_AnalogNaive(benchmark::State& state) {
  AnalogArray arr(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const int n = arr.rows;
  for (auto _ : state) {
    for (int c = 0; c < arr.cols; ++c) {
      const double* ga = arr.ga.data() + static_cast<std::size_t>(c) * n;
      const double* gb = arr.gb.data() + static_cast<std::size_t>(c) * n;
      double g = 0;
      for (int r = 0; r < n; ++r)
        if ((arr.a[r / 64] >> (r % 64)) & 1U) g += ((arr.x[r / 64] >> (r % 64)) & 1U) ? ga[r] : gb[r];
      arr.g[c] = g;
    }
    benchmark::DoNotOptimize(arr.g.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * arr.rows * arr.cols);
}
BENCHMARK(BM_AnalogNaive)->Args({512, 128})->Args({100, 128});

void BM_AnalogKernel(benchmark::State& state) {
  AnalogArray arr(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    bayescim::hw::expand_selectors(arr.x.data(), arr.a.data(), 0, arr.rows, arr.sa.data(), arr.sb.data());
    bayescim::hw::conductance_sums(arr.ga.data(), arr.gb.data(), arr.sa.data(), arr.sb.data(), arr.rows, arr.cols,
                                   arr.g.data());
    benchmark::DoNotOptimize(arr.g.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * arr.rows * arr.cols);
}
BENCHMARK(BM_AnalogKernel)->Args({512, 128})->Args({100, 128});

// The tile's analog read path since the nibble kernel: every column of the read group from the
// packed bits, 4 columns side by side (range(2) = 1: the AVX-512VL version where the CPU has it,
// 0: the portable loop). Same bits as BM_AnalogKernel's sums (tests/unit/test_kernels.cpp).
void BM_AnalogNibbles(benchmark::State& state) {
  AnalogArray arr(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::vector<std::uint8_t> nib(static_cast<std::size_t>((arr.rows + 3) / 4));
  const bool dispatch = state.range(2) != 0;
  for (auto _ : state) {
    bayescim::hw::expand_selector_nibbles(arr.x.data(), arr.a.data(), 0, arr.rows, nib.data());
    if (dispatch)
      bayescim::hw::conductance_sums_nibbles(arr.ga.data(), arr.gb.data(), static_cast<std::size_t>(arr.rows),
                                             nib.data(), arr.rows, arr.cols, arr.g.data());
    else
      bayescim::hw::conductance_sums_nibbles_scalar(arr.ga.data(), arr.gb.data(), static_cast<std::size_t>(arr.rows),
                                                    nib.data(), arr.rows, arr.cols, arr.g.data());
    benchmark::DoNotOptimize(arr.g.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * arr.rows * arr.cols);
}
BENCHMARK(BM_AnalogNibbles)->Args({512, 128, 0})->Args({512, 128, 1})->Args({100, 128, 1});

void BM_AnalogKernelSerial(benchmark::State& state) {
  AnalogArray arr(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const int n = arr.rows;
  for (auto _ : state) {
    bayescim::hw::expand_selectors(arr.x.data(), arr.a.data(), 0, n, arr.sa.data(), arr.sb.data());
    for (int c = 0; c < arr.cols; ++c)
      arr.g[c] = bayescim::hw::conductance_sum_serial(arr.ga.data() + static_cast<std::size_t>(c) * n,
                                                      arr.gb.data() + static_cast<std::size_t>(c) * n, arr.sa.data(),
                                                      arr.sb.data(), n);
    benchmark::DoNotOptimize(arr.g.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * arr.rows * arr.cols);
}
BENCHMARK(BM_AnalogKernelSerial)->Args({512, 128});

// The T = 20 samples of one image on a layer-sized analog array (784 x 512, 6.4 MB of conductances,
// more than the L2 cache): 20 passes of conductance_sums against one conductance_sums_batch.
// Items are cell reads (cells x samples).
void BM_AnalogSamples(benchmark::State& state) {
  const bool batched = state.range(0) != 0;
  const int rows = 784, cols = 512, sets = 20;
  AnalogArray arr(rows, cols);
  std::vector<double> sa(static_cast<std::size_t>(rows) * sets), sb(sa.size()),
      g(static_cast<std::size_t>(sets) * cols);
  for (int s = 0; s < sets; ++s) {
    const auto x = random_words(arr.x.size(), 100 + s);
    bayescim::hw::expand_selectors(x.data(), arr.a.data(), 0, rows, sa.data() + s * rows, sb.data() + s * rows);
  }
  for (auto _ : state) {
    if (batched) {
      bayescim::hw::conductance_sums_batch(arr.ga.data(), arr.gb.data(), sa.data(), sb.data(), rows, cols, sets,
                                           g.data());
    } else {
      for (int s = 0; s < sets; ++s)
        bayescim::hw::conductance_sums(arr.ga.data(), arr.gb.data(), sa.data() + s * rows, sb.data() + s * rows, rows,
                                       cols, g.data() + s * cols);
    }
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols * sets);
  state.SetLabel(batched ? "batched" : "one sample at a time");
}
BENCHMARK(BM_AnalogSamples)->Arg(0)->Arg(1);

// The ADC partial-sum path of one array read (128 columns): from exact match counts (ideal
// devices) and from column currents (analog mode). Items are conversions.
void BM_AdcOfMatches(benchmark::State& state) {
  const int cols = 128;
  int rows = 512, levels = 15;
  benchmark::DoNotOptimize(rows);  // as in the tile, the step is a run-time value (a division per code)
  benchmark::DoNotOptimize(levels);
  const int step = bayescim::hw::CrossbarPhysics::adc_step(rows, levels);
  std::mt19937 rng(1);
  std::vector<int> m(cols), code(cols);
  for (auto& v : m) v = static_cast<int>(rng() % 401);
  for (auto _ : state) {
    for (int c = 0; c < cols; ++c) code[c] = bayescim::hw::CrossbarPhysics::adc_of_matches(m[c], 400, step);
    benchmark::DoNotOptimize(code.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * cols);
}
BENCHMARK(BM_AdcOfMatches);

void BM_AdcOfCurrent(benchmark::State& state) {
  const int rows = 512, cols = 128, levels = 15;
  const bayescim::hw::CrossbarPhysics phys(bayescim::hw::CellParams{});
  std::mt19937 rng(1);
  std::vector<double> i_col(cols);
  std::vector<int> code(cols);
  for (auto& v : i_col) v = phys.column_current(static_cast<int>(rng() % 401), 400) * (1 + 1e-3 * (rng() % 7));
  for (auto _ : state) {
    for (int c = 0; c < cols; ++c) code[c] = phys.adc(i_col[c], 400, rows, levels);
    benchmark::DoNotOptimize(code.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * cols);
}
BENCHMARK(BM_AdcOfCurrent);

// The SA path of one array read (128 columns, ideal devices): the decision m >= M and the
// reference-branch counts, with M from the column's integer threshold. "double" derives M with
// std::ceil / std::floor on (a + N) / 2.0 as hw/tile.cpp does; "integer" with shifts, the same M
// for every int. Items are decisions.
struct SaColumns {
  std::vector<bayescim::models::Threshold> thr;
  std::vector<int> m;
  int active = 400;
  SaColumns() {
    std::mt19937 rng(1);
    for (int c = 0; c < 128; ++c) {
      bayescim::models::Threshold t;
      t.mode = rng() % 8 == 0 ? bayescim::models::Threshold::Mode::AtMost : bayescim::models::Threshold::Mode::AtLeast;
      t.a = static_cast<int>(rng() % 161) - 80;
      thr.push_back(t);
      m.push_back(static_cast<int>(rng() % 401));
    }
  }
};

template <bool kInteger>
void BM_SaDecisions(benchmark::State& state) {
  SaColumns cols;
  std::uint64_t out[2] = {}, ref_p = 0, ref_ap = 0;
  for (auto _ : state) {
    for (int c = 0; c < 128; ++c) {
      const auto& t = cols.thr[static_cast<std::size_t>(c)];
      const int active = cols.active, m = cols.m[static_cast<std::size_t>(c)];
      const bool invert = t.mode == bayescim::models::Threshold::Mode::AtMost;
      int m_ref;
      if (kInteger)
        m_ref = invert ? ((t.a + active) >> 1) + 1 : (t.a + active + 1) >> 1;
      else
        m_ref = invert ? static_cast<int>(std::floor((t.a + active) / 2.0)) + 1
                       : static_cast<int>(std::ceil((t.a + active) / 2.0));
      bool raw;
      if (m_ref <= 0) {
        raw = true;
      } else if (m_ref > active) {
        raw = false;
      } else {
        raw = m >= m_ref;
        ref_p += static_cast<std::uint64_t>(2 * m_ref - 1);
        ref_ap += static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
      }
      bayescim::models::set_bit(out, c, invert ? !raw : raw);
    }
    benchmark::DoNotOptimize(out);
    benchmark::DoNotOptimize(ref_p);
    benchmark::DoNotOptimize(ref_ap);
  }
  state.SetItemsProcessed(state.iterations() * 128);
}
BENCHMARK(BM_SaDecisions<false>)->Name("BM_SaDecisions/double");
BENCHMARK(BM_SaDecisions<true>)->Name("BM_SaDecisions/integer");

// Dropout masks of one MC sample: the counter-based draws packed per layer (fill_masks), for
// the shipped models' dropout kinds. Items are draws.
void BM_FillMasks(benchmark::State& state, const char* model) {
  const CompiledNetwork& net = shipped(model);
  bayescim::models::SampleMasks masks;
  std::uint64_t sample = 0;
  for (auto _ : state) {
    net.fill_masks(masks, [&](std::size_t d) { return bayescim::hw::dropout_draw(1, 7, sample, d, 0.2); });
    ++sample;
    benchmark::DoNotOptimize(masks.layer.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(net.draws_per_sample));
}
BENCHMARK_CAPTURE(BM_FillMasks, mlp_scale, "mnist_mlp_scale");
BENCHMARK_CAPTURE(BM_FillMasks, mlp_mc_dropout, "mnist_mlp_mc_dropout");
BENCHMARK_CAPTURE(BM_FillMasks, cnn_spatial, "fashion_cnn_spatial");

// Gating rows by a dropout mask while building the row vector of one read (rows_at): a dense
// layer with per-row MC-Dropout (word-wise AND) and a conv layer with spatial masks (per row).
void BM_MaskRows(benchmark::State& state, const char* model, int layer) {
  const CompiledNetwork& net = shipped(model);
  const CompiledLayer& l = net.layers[static_cast<std::size_t>(layer)];
  const auto input = random_words(bayescim::models::words_for(l.src->input_elems()), 5);
  const auto mask = random_words(bayescim::models::words_for(static_cast<int>(l.draws_per_sample())), 6);
  std::vector<std::uint64_t> x(l.words), act(l.words);
  for (auto _ : state) {
    l.rows_at(0, input.data(), mask.data(), x.data(), act.data());
    benchmark::DoNotOptimize(act.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * l.in);
}
BENCHMARK_CAPTURE(BM_MaskRows, mlp_mc_dropout_fc2, "mnist_mlp_mc_dropout", 1);
BENCHMARK_CAPTURE(BM_MaskRows, cnn_spatial_conv2, "fashion_cnn_spatial", 1);

}  // namespace

BENCHMARK_MAIN();
