#include "hw/physics/kernels.h"

#include <algorithm>

namespace bayescim::hw {

void expand_selectors(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, double* sel_a, double* sel_b) {
  for (int r = lo; r < hi; ++r) {
    const std::uint64_t xa = x[r / 64] >> (r % 64), aa = a[r / 64] >> (r % 64);
    const double on = static_cast<double>(aa & 1U), plus = static_cast<double>(xa & 1U);
    sel_a[r - lo] = on * plus;
    sel_b[r - lo] = on * (1.0 - plus);
  }
}

// The lanes are plain scalars written out so that the summation order is the one documented in
// the header whatever the compiler vectorises; each row's term is exact (one product is g, the
// other +0.0), so only the additions round.
double conductance_sum(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n) {
  double s[kConductanceLanes] = {};
  int i = 0;
  for (; i + kConductanceLanes <= n; i += kConductanceLanes)
    for (int k = 0; k < kConductanceLanes; ++k) s[k] += sel_a[i + k] * ga[i + k] + sel_b[i + k] * gb[i + k];
  for (int k = 0; i + k < n; ++k) s[k] += sel_a[i + k] * ga[i + k] + sel_b[i + k] * gb[i + k];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

double conductance_sum_serial(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n) {
  double g = 0;
  for (int i = 0; i < n; ++i) g += sel_a[i] * ga[i] + sel_b[i] * gb[i];
  return g;
}

void conductance_sums(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n, int cols,
                      double* g) {
  for (int c = 0; c < cols; ++c) {
    const std::size_t off = static_cast<std::size_t>(c) * static_cast<std::size_t>(n);
    g[c] = conductance_sum(ga + off, gb + off, sel_a, sel_b, n);
  }
}

// Compute-bound once batched, so an AVX2 clone is picked at load time where the CPU has it; the lane
// arithmetic is written out per lane, so both clones give the same bits (tested against the scalar sum).
__attribute__((target_clones("avx2", "default"))) void conductance_sums_batch(const double* ga, const double* gb,
                                                                              const double* sel_a, const double* sel_b,
                                                                              int n, int cols, int sets, double* g) {
  constexpr int kBlock = 8;  // sets per pass over a column: 32 accumulators
  const std::size_t stride = static_cast<std::size_t>(n);
  for (int c = 0; c < cols; ++c) {
    const double* a = ga + static_cast<std::size_t>(c) * stride;
    const double* b = gb + static_cast<std::size_t>(c) * stride;
    for (int s0 = 0; s0 < sets; s0 += kBlock) {
      const int nb = std::min(kBlock, sets - s0);
      double acc[kBlock][kConductanceLanes] = {};
      int i = 0;
      for (; i + kConductanceLanes <= n; i += kConductanceLanes)
        for (int s = 0; s < nb; ++s) {
          const double* sa = sel_a + static_cast<std::size_t>(s0 + s) * stride + i;
          const double* sb = sel_b + static_cast<std::size_t>(s0 + s) * stride + i;
          for (int k = 0; k < kConductanceLanes; ++k) acc[s][k] += sa[k] * a[i + k] + sb[k] * b[i + k];
        }
      for (int s = 0; s < nb; ++s) {
        const double* sa = sel_a + static_cast<std::size_t>(s0 + s) * stride;
        const double* sb = sel_b + static_cast<std::size_t>(s0 + s) * stride;
        for (int k = 0; i + k < n; ++k) acc[s][k] += sa[i + k] * a[i + k] + sb[i + k] * b[i + k];
        g[static_cast<std::size_t>(s0 + s) * static_cast<std::size_t>(cols) + c] =
            (acc[s][0] + acc[s][1]) + (acc[s][2] + acc[s][3]);
      }
    }
  }
}

}  // namespace bayescim::hw
