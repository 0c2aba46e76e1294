// Analog-mode column summation kernels (plain C++, no SystemC): the bitline conductance of one
// crossbar column over its active rows, when every MTJ has its own conductance (device variation,
// stuck-at faults).
//
// Row r of a column contributes ga[r] (x_r = +1, the true MTJ conducts), gb[r] (x_r = -1, the
// complement MTJ conducts) or nothing (wordline off). The per-row term is computed exactly
// (sel * g with sel in {0, 1}); only the order of the additions is chosen here, and it is fixed:
//
//   conductance_sum: kConductanceLanes = 4 partial sums, lane k adds the terms of rows
//     r = k, k+4, k+8, ... in increasing r, starting from +0.0; the result is (s0 + s1) + (s2 + s3).
//     The order is part of the contract: it does not depend on the SIMD width the compiler
//     picks, so the result is the same on every x86-64 machine and build (no -ffast-math). It is
//     the order of hw/tile.cpp's local conductance_sum, so switching to this one changes no bit.
//     (8 lanes measured no faster: the loop is bound by loading ga and gb.)
//   conductance_sum_serial: one running sum over r = 0, 1, ..., n-1, bit-identical to the loop
//     `for r: if (a_r) g += x_r ? ga[r] : gb[r];` (kept for callers that must not change a bit).
#pragma once
#include <cstddef>
#include <cstdint>

namespace bayescim::hw {

inline constexpr int kConductanceLanes = 4;

// Expands rows [lo, hi) of the packed input x and active mask a (bit r of word r/64) into
// selector arrays of hi - lo doubles: sel_a[i] = 1 iff row lo+i is active and x = +1,
// sel_b[i] = 1 iff it is active and x = -1, else 0. Call once per read position; the selectors
// are shared by every column of the array.
void expand_selectors(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, double* sel_a, double* sel_b);

// Sum over i in [0, n) of sel_a[i] * ga[i] + sel_b[i] * gb[i], in the fixed 4-lane order above.
double conductance_sum(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n);

// The same sum in plain row order (one accumulator; slower, bit-identical to the bitwise loop).
double conductance_sum_serial(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n);

// conductance_sum for `cols` columns stored column-major with stride n (ga + c * n), into g[c].
void conductance_sums(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n, int cols,
                      double* g);

// conductance_sum for `sets` selector sets at once (e.g. the T samples of one image), bit for bit:
//   g[s * cols + c] = conductance_sum(ga + c * n, gb + c * n, sel_a + s * n, sel_b + s * n, n).
// Each column's conductances are read once for all sets instead of once per set, which is what
// bounds the single-set sum on arrays larger than the cache.
void conductance_sums_batch(const double* ga, const double* gb, const double* sel_a, const double* sel_b, int n,
                            int cols, int sets, double* g);

}  // namespace bayescim::hw
