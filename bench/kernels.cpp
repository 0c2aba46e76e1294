// Microbenchmarks of the hot kernels (issue 8 extends these).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "models/bitops.h"

static void BM_XnorMatches(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> x(bayescim::models::words_for(n)), w(x.size());
  for (auto& v : x) v = rng();
  for (auto& v : w) v = rng();
  for (auto _ : state) benchmark::DoNotOptimize(bayescim::models::xnor_matches(x.data(), w.data(), n));
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_XnorMatches)->Arg(512)->Arg(784)->Arg(4096);

BENCHMARK_MAIN();
