#include "hw/physics/ir_drop.h"

#include <algorithm>

#include <immintrin.h>

namespace bayescim::hw {

namespace {
// eq. IR5 from a column's sums. Without any resistance S = 0 and the current is v G, bit for bit.
inline double ir_current(double v, double g, double s, double t) { return s > 0 ? v * (g - s * s / (s + t)) : v * g; }
// GCC 12's own AVX-512 headers trip -W(maybe-)uninitialized in the gathers (their undefined
// pass-through operands are never read).
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
// The one-pass walk of eight columns at once (AVX-512F gathers, one column per lane). The same
// multiplications and additions in the same order as the portable loop, no FMA (this file is
// compiled with -ffp-contract=off), so both give the same bits.
__attribute__((target("avx512f"))) void walk8_avx512(const IrDropGroup::Entry* e, std::size_t m, const double* ga,
                                                     const double* gb, std::size_t col_stride, std::size_t row_stride,
                                                     double* suf, double* tau, double* gt, double* gt2) {
  const long long s = static_cast<long long>(col_stride);
  const __m512i idx = _mm512_set_epi64(7 * s, 6 * s, 5 * s, 4 * s, 3 * s, 2 * s, s, 0);
  __m512d vs = _mm512_setzero_pd(), vt = _mm512_setzero_pd(), vg = _mm512_setzero_pd(), vg2 = _mm512_setzero_pd();
  const bool contiguous = col_stride == 1;  // [row][col] copy: eight adjacent columns in one load
  for (std::size_t i = m; i-- > 0;) {
    const double* base = (e[i].b ? gb : ga) + static_cast<std::size_t>(e[i].k) * row_stride;
    const __m512d x = contiguous ? _mm512_loadu_pd(base) : _mm512_i64gather_pd(idx, base, 8);
    const __m512d xt = _mm512_mul_pd(x, vt);
    vg = _mm512_add_pd(vg, xt);
    vg2 = _mm512_add_pd(vg2, _mm512_mul_pd(xt, vt));
    vs = _mm512_add_pd(vs, x);
    vt = _mm512_add_pd(vt, _mm512_mul_pd(_mm512_set1_pd(e[i].w_suf), vs));
  }
  _mm512_storeu_pd(suf, vs);
  _mm512_storeu_pd(tau, vt);
  _mm512_storeu_pd(gt, vg);
  _mm512_storeu_pd(gt2, vg2);
}

bool has_avx512f() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#pragma GCC diagnostic pop
}  // namespace

double ir_column_current(const double* g, int n, const IrDropParams& p) {
  std::vector<double> suf(static_cast<std::size_t>(n) + 1, 0.0), d(static_cast<std::size_t>(n) + 1, 0.0);
  for (int k = n - 1; k >= 0; --k) suf[k] = suf[k + 1] + g[k];  // Gsuf_k: bitline segment k carries cells >= k
  const double G = suf[0];
  // d_k = sum_{j>=k} Gpre_j, Gpre_j = G - Gsuf_{j+1}: source-line segment j carries cells <= j
  for (int k = n - 1; k >= 0; --k) d[k] = d[k + 1] + (G - suf[k + 1]);
  double c = 0, s = 0, t = 0;
  for (int k = 0; k < n; ++k) {
    c += suf[k];  // sum_{j<=k} Gsuf_j: the bitline segments between cell k and the sense node
    const double v = p.r_sense * G + p.r_bitline * c + p.r_source_line * d[k];
    s += g[k] * v;
    t += g[k] * v * v;
  }
  return ir_current(p.v_cell, G, s, t);
}

double ir_drop_worst_V(const IrDropParams& p, int n, double cell_current) {
  double worst = 0;
  for (int k = 0; k < n; ++k) {
    double bl = 0, sl = 0;
    for (int j = 0; j <= k; ++j) bl += n - j;     // bitline segments 0..k, each carrying n - j cells
    for (int j = k; j < n; ++j) sl += j + 1;      // source-line segments k..n-1, each carrying j + 1 cells
    worst = std::max(worst, cell_current * (p.r_sense * n + p.r_bitline * bl + p.r_source_line * sl));
  }
  return worst;
}

void IrDropGroup::set_group(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, Select sel) {
  n_ = hi - lo;
  e_.clear();
  for (int r = lo; r < hi; ++r) {
    const std::uint64_t bit = std::uint64_t{1} << (r % 64);
    if (!(a[r / 64] & bit)) continue;
    const bool plus = (x[r / 64] & bit) != 0;
    if ((sel == Select::Plus && !plus) || (sel == Select::Minus && plus)) continue;
    e_.push_back({r - lo, sel == Select::Complementary && !plus, 0.0, 0.0});
  }
  // Run lengths: the bitline segments k_{e-1}+1 .. k_e (between the previous active cell and cell
  // e) all carry Gsuf_e; the source-line segments k_e .. k_{e+1}-1 all carry Gpre_e.
  for (std::size_t i = 0; i < e_.size(); ++i) {
    e_[i].w_suf = static_cast<double>(e_[i].k - (i == 0 ? -1 : e_[i - 1].k));
    e_[i].w_pre = static_cast<double>((i + 1 == e_.size() ? n_ : e_[i + 1].k) - e_[i].k);
  }
  if (p_.r_source_line > 0 && d_.size() < 4 * e_.size()) d_.resize(4 * e_.size());
}

void IrDropGroup::calibrate(double g_p, double g_ap) {
  const std::size_t N = e_.size();
  level_.assign(N + 1, 0.0);
  if (N == 0) return;
  // u_t = R_s N + r_bl sum_i (min(k_t, k_i) + 1) + r_sl sum_i (n - max(k_t, k_i)) over the active
  // cells i, with the positions k in increasing order: prefix sums of (k_i + 1), suffix sums of (n - k_i).
  double pre = 0, suf = 0;
  for (const Entry& e : e_) suf += static_cast<double>(n_ - e.k);
  double U1 = 0, U2 = 0;
  for (std::size_t t = 0; t < N; ++t) {
    const double k = static_cast<double>(e_[t].k);
    pre += k + 1;
    const double bl = pre + (k + 1) * static_cast<double>(N - 1 - t);
    const double sl = static_cast<double>(t) * (n_ - k) + suf;
    suf -= static_cast<double>(n_) - k;
    const double u = p_.r_sense * static_cast<double>(N) + p_.r_bitline * bl + p_.r_source_line * sl;
    U1 += u;
    U2 += u * u;
  }
  const double n = static_cast<double>(N);
  for (std::size_t m = 0; m <= N; ++m) {
    const double g = (static_cast<double>(m) * g_p + (n - static_cast<double>(m)) * g_ap) / n;
    level_[m] = U1 > 0 ? p_.v_cell * (n * g - g * g * U1 * U1 / (U1 + g * U2)) : p_.v_cell * n * g;
  }
  inv_step_.resize(N);
  for (std::size_t m = 0; m < N; ++m) inv_step_[m] = 1.0 / (level_[m + 1] - level_[m]);
}

double IrDropGroup::match_estimate(double current) const {
  const int N = static_cast<int>(level_.size()) - 1;
  if (N <= 0) return 0.0;
  // the segment [level j, level j+1] holding the current (end segments extended outward)
  int j = static_cast<int>((current - level_[0]) / (level_[static_cast<std::size_t>(N)] - level_[0]) * N);
  j = std::clamp(j, 0, N - 1);
  while (j > 0 && current < level_[static_cast<std::size_t>(j)]) --j;
  while (j < N - 1 && current >= level_[static_cast<std::size_t>(j) + 1]) ++j;
  return j + (current - level_[static_cast<std::size_t>(j)]) * inv_step_[static_cast<std::size_t>(j)];
}

void IrDropGroup::match_estimates(const double* current, int n, double* estimate) const {
  for (int c = 0; c < n; ++c) estimate[c] = match_estimate(current[c]);
}

void IrDropGroup::column_currents(const double* ga, const double* gb, std::size_t stride, int cols,
                                  double* out) const {
  column_currents(ga, gb, stride, 1, cols, out);
}

void IrDropGroup::column_currents(const double* ga, const double* gb, std::size_t col_stride, std::size_t row_stride,
                                  int cols, double* out) const {
  constexpr int L = 4;  // columns side by side: their additions do not wait on each other
  const std::size_t m = e_.size();
  const bool sl = p_.r_source_line > 0;
  const double rs = p_.r_sense, rb = p_.r_bitline, rl = p_.r_source_line;
  if (!sl) {  // one pass from the far end (the default: strapped source line)
    // With v_k = a + b c_k (a = R_s G, b = r_bl) and c_k = C - tau_k, where tau_k is the sum of
    // Gsuf_j over the bitline segments j > k and C = sum over every segment, alpha = a + b C gives
    //   S = alpha G - b sum g tau,   T = alpha^2 G - 2 alpha b sum g tau + b^2 sum g tau^2,
    // so one walk from the far end collects G, C, sum g tau and sum g tau^2.
    constexpr int W = 8;
    static const bool kAvx512 = has_avx512f();
    for (int c0 = 0; c0 < cols; c0 += W) {
      const int w = std::min(W, cols - c0);
      const std::size_t o = static_cast<std::size_t>(c0) * col_stride;
      double suf[W] = {}, tau[W] = {}, gt[W] = {}, gt2[W] = {};
      if (w == W && kAvx512) walk8_avx512(e_.data(), m, ga + o, gb + o, col_stride, row_stride, suf, tau, gt, gt2);
      for (std::size_t i = (w == W && kAvx512) ? 0 : m; i-- > 0;) {  // the portable walk
        const Entry& e = e_[i];
        const double* g = (e.b ? gb : ga) + o + static_cast<std::size_t>(e.k) * row_stride;
        const double ws = e.w_suf;
        if (w == W) {
          for (int l = 0; l < W; ++l) {
            const double x = g[static_cast<std::size_t>(l) * col_stride];
            gt[l] += x * tau[l];
            gt2[l] += x * tau[l] * tau[l];
            suf[l] += x;
            tau[l] += ws * suf[l];
          }
        } else {
          for (int l = 0; l < w; ++l) {
            const double x = g[static_cast<std::size_t>(l) * col_stride];
            gt[l] += x * tau[l];
            gt2[l] += x * tau[l] * tau[l];
            suf[l] += x;
            tau[l] += ws * suf[l];
          }
        }
      }
      for (int l = 0; l < w; ++l) {
        const double G = suf[l], alpha = rs * G + rb * tau[l];
        const double S = alpha * G - rb * gt[l];
        const double T = alpha * alpha * G - 2 * alpha * rb * gt[l] + rb * rb * gt2[l];
        out[c0 + l] = ir_current(p_.v_cell, G, S, T);
      }
    }
    return;
  }
  for (int c0 = 0; c0 < cols; c0 += L) {
    const int w = std::min(L, cols - c0);
    const double* base_a = ga + static_cast<std::size_t>(c0) * col_stride;
    const double* base_b = gb + static_cast<std::size_t>(c0) * col_stride;
    auto cell = [&](std::size_t i, int l) {
      const Entry& e = e_[i];
      return (e.b ? base_b : base_a)[static_cast<std::size_t>(l) * col_stride +
                                     static_cast<std::size_t>(e.k) * row_stride];
    };
    double G[L] = {0, 0, 0, 0};
    if (w == L) {
      for (std::size_t i = 0; i < m; ++i)
        for (int l = 0; l < L; ++l) G[l] += cell(i, l);
    } else {
      for (std::size_t i = 0; i < m; ++i)
        for (int l = 0; l < w; ++l) G[l] += cell(i, l);
    }
    if (sl) {  // d_e = sum_{j >= k_e} Gpre_j, walking from the far end
      double suf[L] = {0, 0, 0, 0}, d[L] = {0, 0, 0, 0};
      for (std::size_t i = m; i-- > 0;)
        for (int l = 0; l < w; ++l) {
          const double g = cell(i, l);
          d[l] += e_[i].w_pre * (G[l] - suf[l]);
          d_[4 * i + static_cast<std::size_t>(l)] = d[l];
          suf[l] += g;
        }
    }
    double pre[L] = {0, 0, 0, 0}, cs[L] = {0, 0, 0, 0}, S[L] = {0, 0, 0, 0}, T[L] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < m; ++i) {
      const double ws = e_[i].w_suf;
      for (int l = 0; l < L; ++l) {  // lanes past w add zeros from a repeated column, discarded below
        const double g = cell(i, l < w ? l : 0);
        cs[l] += ws * (G[l] - pre[l]);
        double v = rs * G[l] + rb * cs[l];
        if (sl) v += rl * d_[4 * i + static_cast<std::size_t>(l < w ? l : 0)];
        S[l] += g * v;
        T[l] += g * v * v;
        pre[l] += g;
      }
    }
    for (int l = 0; l < w; ++l) out[c0 + l] = ir_current(p_.v_cell, G[l], S[l], T[l]);
  }
}

}  // namespace bayescim::hw
