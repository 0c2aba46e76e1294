// Macrospin solver throughput (issue 19 item 8): 1000 trials of a 1 ns write pulse at 300 K on
// the example device (1 ps steps: 1000 stochastic Heun steps per trial).
//
//   build/bench/bench_macrospin
#include "hw/physics/macrospin.h"

#include <benchmark/benchmark.h>

namespace {

void BM_Llg1000Samples1ns(benchmark::State& state) {
  const bayescim::hw::LlgParams p;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    int switched = 0;
    benchmark::DoNotOptimize(bayescim::hw::switching_probability_llg(p, 100e-6, 1e-9, 0.0, 1000, seed++, &switched));
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Llg1000Samples1ns)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
