#include "hw/physics/kernels.h"

#include <algorithm>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BAYESCIM_HAVE_AVX512_POPCNT 1
#endif

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

void expand_selector_nibbles(const std::uint64_t* x, const std::uint64_t* a, int lo, int n, std::uint8_t* nib) {
  for (int j = 0; 4 * j < n; ++j) {
    std::uint8_t on = 0, plus = 0;
    for (int k = 0; k < 4 && 4 * j + k < n; ++k) {
      const int r = lo + 4 * j + k;
      const unsigned xa = static_cast<unsigned>(x[r / 64] >> (r % 64)) & 1U;
      const unsigned aa = static_cast<unsigned>(a[r / 64] >> (r % 64)) & 1U;
      on = static_cast<std::uint8_t>(on | (aa << k));
      plus = static_cast<std::uint8_t>(plus | ((aa & xa) << k));
    }
    nib[j] = static_cast<std::uint8_t>(on | (plus << 4));
  }
}

void conductance_sums_nibbles_scalar(const double* ga, const double* gb, std::size_t stride, const std::uint8_t* nib,
                                     int n, int cols, double* g) {
  constexpr int kCols = 4;  // columns side by side
  int c = 0;
  for (; c < cols; c += kCols) {
    const int nc = std::min(kCols, cols - c);
    double s[kCols][kConductanceLanes] = {};
    for (int j = 0; 4 * j < n; ++j) {
      const unsigned on = nib[j] & 0xFU, plus = nib[j] >> 4;
      for (int q = 0; q < nc; ++q) {
        const double* a = ga + static_cast<std::size_t>(c + q) * stride + 4 * j;
        const double* b = gb + static_cast<std::size_t>(c + q) * stride + 4 * j;
        for (int k = 0; k < kConductanceLanes && 4 * j + k < n; ++k)
          s[q][k] += (plus >> k) & 1U ? a[k] : (on >> k) & 1U ? b[k] : 0.0;
      }
    }
    for (int q = 0; q < nc; ++q) g[c + q] = (s[q][0] + s[q][1]) + (s[q][2] + s[q][3]);
  }
}

std::uint64_t sa_column_scalar(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride,
                               const std::uint64_t* wc, std::size_t words, std::size_t n, const std::int32_t* act,
                               std::int32_t thr, bool invert, std::uint64_t* out) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t m = 0;
    for (std::size_t w = 0; w < words; ++w) m += __builtin_popcountll(~(x[w * stride + i] ^ wc[w]) & a[w * stride + i]);
    total += static_cast<std::uint64_t>(m);
    const std::int32_t sum = thr + act[i];
    const std::int32_t m_ref = invert ? (sum >> 1) + 1 : (sum + 1) >> 1;
    const std::uint64_t bit = static_cast<std::uint64_t>((m >= m_ref) != invert);
    if (i % 64 == 0) out[i / 64] = 0;
    out[i / 64] |= bit << (i % 64);
  }
  return total;
}

std::uint64_t xnor_column_counts_scalar(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride,
                                        const std::uint64_t* wc, std::size_t words, std::size_t n, std::int32_t* m) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t c = 0;
    for (std::size_t w = 0; w < words; ++w) c += __builtin_popcountll(~(x[w * stride + i] ^ wc[w]) & a[w * stride + i]);
    m[i] = c;
    total += static_cast<std::uint64_t>(c);
  }
  return total;
}

void xnor_counts_columns_scalar(const std::uint64_t* x, const std::uint64_t* a, const std::uint64_t* wt,
                                std::size_t words, std::size_t cols, std::int32_t* m) {
  for (std::size_t c = 0; c < cols; ++c) m[c] = 0;
  for (std::size_t w = 0; w < words; ++w) {
    const std::uint64_t xv = x[w], av = a[w];
    const std::uint64_t* row = wt + w * cols;
    for (std::size_t c = 0; c < cols; ++c) m[c] += __builtin_popcountll(~(xv ^ row[c]) & av);
  }
}

#ifdef BAYESCIM_HAVE_AVX512_POPCNT
namespace {

// GCC 12's own AVX-512 headers trip -W(maybe-)uninitialized in the masked loads and in the
// reduction (their undefined pass-through operands are never read).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"))) std::uint64_t sa_column_avx512(
    const std::uint64_t* x, const std::uint64_t* a, std::size_t stride, const std::uint64_t* wc, std::size_t words,
    std::size_t n, const std::int32_t* act, std::int32_t thr, bool invert, std::uint64_t* out) {
  __m512i total = _mm512_setzero_si512();
  const __m512i vthr = _mm512_set1_epi64(thr), one = _mm512_set1_epi64(1);
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < n; i += 8) {
    const __mmask8 k = n - i >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1U << (n - i)) - 1);
    __m512i m = _mm512_setzero_si512();
    for (std::size_t w = 0; w < words; ++w) {
      const __m512i xv = _mm512_maskz_loadu_epi64(k, x + w * stride + i);
      const __m512i av = _mm512_maskz_loadu_epi64(k, a + w * stride + i);
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(wc[w]));
      m = _mm512_add_epi64(m, _mm512_popcnt_epi64(_mm512_andnot_si512(_mm512_xor_si512(xv, wv), av)));
    }
    total = _mm512_add_epi64(total, m);
    const __m512i sum = _mm512_add_epi64(vthr, _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(k, act + i)));
    const __m512i m_ref =
        invert ? _mm512_add_epi64(_mm512_srai_epi64(sum, 1), one) : _mm512_srai_epi64(_mm512_add_epi64(sum, one), 1);
    __mmask8 ge = _mm512_cmpge_epi64_mask(m, m_ref);
    if (invert) ge = static_cast<__mmask8>(~ge);
    bits |= static_cast<std::uint64_t>(ge & k) << (i % 64);
    if (i % 64 == 56 || i + 8 >= n) {
      out[i / 64] = bits;
      bits = 0;
    }
  }
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(total));
}

__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"))) std::uint64_t xnor_column_counts_avx512(
    const std::uint64_t* x, const std::uint64_t* a, std::size_t stride, const std::uint64_t* wc, std::size_t words,
    std::size_t n, std::int32_t* out) {
  __m512i total = _mm512_setzero_si512();
  for (std::size_t i = 0; i < n; i += 8) {
    const __mmask8 k = n - i >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1U << (n - i)) - 1);
    __m512i m = _mm512_setzero_si512();
    for (std::size_t w = 0; w < words; ++w) {
      const __m512i xv = _mm512_maskz_loadu_epi64(k, x + w * stride + i);
      const __m512i av = _mm512_maskz_loadu_epi64(k, a + w * stride + i);
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(wc[w]));
      m = _mm512_add_epi64(m, _mm512_popcnt_epi64(_mm512_andnot_si512(_mm512_xor_si512(xv, wv), av)));
    }
    total = _mm512_add_epi64(total, m);
    _mm256_mask_storeu_epi32(out + i, k, _mm512_cvtepi64_epi32(m));
  }
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(total));
}

__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"))) void xnor_counts_columns_avx512(
    const std::uint64_t* x, const std::uint64_t* a, const std::uint64_t* wt, std::size_t words, std::size_t cols,
    std::int32_t* m) {
  for (std::size_t c = 0; c < cols; c += 8) {
    const __mmask8 k = cols - c >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1U << (cols - c)) - 1);
    __m512i acc = _mm512_setzero_si512();
    for (std::size_t w = 0; w < words; ++w) {
      const __m512i wv = _mm512_maskz_loadu_epi64(k, wt + w * cols + c);
      const __m512i xv = _mm512_set1_epi64(static_cast<long long>(x[w]));
      const __m512i av = _mm512_set1_epi64(static_cast<long long>(a[w]));
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_andnot_si512(_mm512_xor_si512(xv, wv), av)));
    }
    _mm256_mask_storeu_epi32(m + c, k, _mm512_cvtepi64_epi32(acc));
  }
}
__attribute__((target("avx512f,avx512vl"))) double finish_lanes(__m256d v) {
  alignas(32) double s[4];
  _mm256_store_pd(s, v);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// One group of 4 rows of one column added to its 4 lanes: ga where x = +1, gb where x = -1, +0.0
// where the row is inactive or past n (masked loads never touch memory there).
__attribute__((target("avx512f,avx512vl"))) inline __m256d add_rows(__m256d s, const double* a, const double* b,
                                                                    std::uint8_t nib) {
  const auto plus = static_cast<__mmask8>(nib >> 4);
  const auto minus = static_cast<__mmask8>(nib & 0xFU & ~(nib >> 4));
  return _mm256_add_pd(s, _mm256_mask_loadu_pd(_mm256_maskz_loadu_pd(minus, b), plus, a));
}

// Lane k of a column's accumulator is the scalar's s[k]: the same terms added in the same order.
// Four columns at a time, so that their additions overlap.
__attribute__((target("avx512f,avx512vl"))) void conductance_sums_nibbles_avx512(const double* ga, const double* gb,
                                                                                 std::size_t stride,
                                                                                 const std::uint8_t* nib, int n,
                                                                                 int cols, double* g) {
  const int chunks = (n + 3) / 4;
  int c = 0;
  for (; c + 4 <= cols; c += 4) {
    const double* a = ga + static_cast<std::size_t>(c) * stride;
    const double* b = gb + static_cast<std::size_t>(c) * stride;
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (int j = 0; j < chunks; ++j) {
      const std::size_t o = 4 * static_cast<std::size_t>(j);
      s0 = add_rows(s0, a + o, b + o, nib[j]);
      s1 = add_rows(s1, a + stride + o, b + stride + o, nib[j]);
      s2 = add_rows(s2, a + 2 * stride + o, b + 2 * stride + o, nib[j]);
      s3 = add_rows(s3, a + 3 * stride + o, b + 3 * stride + o, nib[j]);
    }
    g[c] = finish_lanes(s0);
    g[c + 1] = finish_lanes(s1);
    g[c + 2] = finish_lanes(s2);
    g[c + 3] = finish_lanes(s3);
  }
  for (; c < cols; ++c) {
    const double* a = ga + static_cast<std::size_t>(c) * stride;
    const double* b = gb + static_cast<std::size_t>(c) * stride;
    __m256d s0 = _mm256_setzero_pd();
    for (int j = 0; j < chunks; ++j)
      s0 = add_rows(s0, a + 4 * static_cast<std::size_t>(j), b + 4 * static_cast<std::size_t>(j), nib[j]);
    g[c] = finish_lanes(s0);
  }
}
#pragma GCC diagnostic pop

bool cpu_has_avx512_analog() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

const bool kAvx512Analog = cpu_has_avx512_analog();

bool cpu_has_avx512_popcnt() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vpopcntdq");
}

const bool kAvx512Popcnt = cpu_has_avx512_popcnt();

}  // namespace
#endif

bool sa_column_vectorised() {
#ifdef BAYESCIM_HAVE_AVX512_POPCNT
  return kAvx512Popcnt;
#else
  return false;
#endif
}

std::uint64_t xnor_column_counts(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride,
                                 const std::uint64_t* wc, std::size_t words, std::size_t n, std::int32_t* m) {
#ifdef BAYESCIM_HAVE_AVX512_POPCNT
  if (kAvx512Popcnt) return xnor_column_counts_avx512(x, a, stride, wc, words, n, m);
#endif
  return xnor_column_counts_scalar(x, a, stride, wc, words, n, m);
}

std::uint64_t sa_column(const std::uint64_t* x, const std::uint64_t* a, std::size_t stride, const std::uint64_t* wc,
                        std::size_t words, std::size_t n, const std::int32_t* act, std::int32_t thr, bool invert,
                        std::uint64_t* out) {
#ifdef BAYESCIM_HAVE_AVX512_POPCNT
  if (kAvx512Popcnt) return sa_column_avx512(x, a, stride, wc, words, n, act, thr, invert, out);
#endif
  return sa_column_scalar(x, a, stride, wc, words, n, act, thr, invert, out);
}

bool conductance_sums_nibbles_vectorised() {
#ifdef BAYESCIM_HAVE_AVX512_POPCNT
  return kAvx512Analog;
#else
  return false;
#endif
}

void conductance_sums_nibbles(const double* ga, const double* gb, std::size_t stride, const std::uint8_t* nib, int n,
                              int cols, double* g) {
#ifdef BAYESCIM_HAVE_AVX512_POPCNT
  if (kAvx512Analog) return conductance_sums_nibbles_avx512(ga, gb, stride, nib, n, cols, g);
#endif
  conductance_sums_nibbles_scalar(ga, gb, stride, nib, n, cols, g);
}

void xnor_counts_columns(const std::uint64_t* x, const std::uint64_t* a, const std::uint64_t* wt, std::size_t words,
                         std::size_t cols, std::int32_t* m) {
#ifdef BAYESCIM_HAVE_AVX512_POPCNT
  if (kAvx512Popcnt) return xnor_counts_columns_avx512(x, a, wt, words, cols, m);
#endif
  xnor_counts_columns_scalar(x, a, wt, words, cols, m);
}

}  // namespace bayescim::hw
