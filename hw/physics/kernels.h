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

// The same sums for every column of a read group, straight from the packed bits, bit for bit:
//   g[c] = conductance_sum(ga + c * stride, gb + c * stride, sel_a, sel_b, n)
// with sel_a / sel_b the selectors of rows [lo, lo + n) (expand_selectors). The rows are first
// packed into one byte per 4 rows (expand_selector_nibbles: low nibble = active rows, high nibble
// = active rows with x = +1, bit k = row 4j + k), then each lane k of a column adds ga (x = +1),
// gb (x = -1) or +0.0 (inactive), which is exactly the product sum's term, in the same order.
// Several columns run side by side, so the additions of one column no longer wait on each other.
// AVX-512VL (4 columns x 4 lanes, masked loads) when the CPU has it, else a portable loop.
void expand_selector_nibbles(const std::uint64_t* x, const std::uint64_t* a, int lo, int n, std::uint8_t* nib);
void conductance_sums_nibbles(const double* ga, const double* gb, std::size_t stride, const std::uint8_t* nib, int n,
                              int cols, double* g);
// True when conductance_sums_nibbles runs the AVX-512VL version on this CPU (the portable loop is
// slower than expand_selectors + conductance_sum, so the tile uses the nibbles only then).
bool conductance_sums_nibbles_vectorised();
void conductance_sums_nibbles_scalar(const double* ga, const double* gb, std::size_t stride, const std::uint8_t* nib,
                                     int n, int cols, double* g);
// The ideal SA path of one crossbar column over n read positions (hw/tile.cpp compute_sa_ideal):
//   m_i     = sum over w < words of popcount(~(x[w * stride + i] ^ wc[w]) & a[w * stride + i]),
//             the matching active rows at position i (the column's conducting P cells);
//   m_ref_i = ceil((thr + act[i]) / 2), or floor((thr + act[i]) / 2) + 1 when `invert`,
//             the reference the SA compares with (see Tile::compute);
//   bit i of out (word i / 64, LSB first) = (m_i >= m_ref_i) XOR invert.
// Returns the sum of m_i. Bits of the last word past n are written as 0. The words of the
// positions are stored word-major (all positions' word 0, then word 1, ...) so consecutive
// positions sit in consecutive SIMD lanes. sa_column uses AVX-512 VPOPCNTDQ (8 positions per
// instruction) when the CPU has it, checked once at run time, else the scalar loop; both give the
// same bits and sums. thr must keep |thr| + rows far from overflow (the tile passes +-2^28 for
// columns whose output is constant).
std::uint64_t sa_column(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride, const std::uint64_t* wc,
                        std::size_t words, std::size_t n, const std::int32_t* act, std::int32_t thr, bool invert,
                        std::uint64_t* out);
std::uint64_t sa_column_scalar(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride,
                               const std::uint64_t* wc, std::size_t words, std::size_t n, const std::int32_t* act,
                               std::int32_t thr, bool invert, std::uint64_t* out);
// True when sa_column (and xnor_counts_columns) run the AVX-512 versions on this CPU.
bool sa_column_vectorised();

// The exact-ADC path of one crossbar column over n read positions: m_i as in sa_column (the
// matching active rows at position i, positions word-major) written to m[i]; returns their sum.
// AVX-512 VPOPCNTDQ (8 positions per instruction) when the CPU has it, else the scalar loop.
std::uint64_t xnor_column_counts(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride,
                                 const std::uint64_t* wc, std::size_t words, std::size_t n, std::int32_t* m);
std::uint64_t xnor_column_counts_scalar(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride,
                                        const std::uint64_t* wc, std::size_t words, std::size_t n, std::int32_t* m);

// One read position against `cols` weight columns stored word-major (wt[w * cols + c], so
// consecutive columns sit in consecutive SIMD lanes): the matching active rows of every column,
//   m[c] = sum over w < words of popcount(~(x[w] ^ wt[w * cols + c]) & a[w]).
// AVX-512 VPOPCNTDQ (8 columns per instruction) when the CPU has it, else the scalar loop.
void xnor_counts_columns(const std::uint64_t* x, const std::uint64_t* a, const std::uint64_t* wt, std::size_t words,
                         std::size_t cols, std::int32_t* m);
void xnor_counts_columns_scalar(const std::uint64_t* x, const std::uint64_t* a, const std::uint64_t* wt,
                                std::size_t words, std::size_t cols, std::int32_t* m);

}  // namespace bayescim::hw
