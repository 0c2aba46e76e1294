// IR drop of one read group and the sense node (docs/hardware.md, "IR drop and the sense node",
// eq. IR1-IR6). Plain C++, no SystemC.
//
// Circuit (hierarchical bitline): the n rows [lo, hi) of one read sit on a local bitline and a
// local source line. Position k = row - lo (k = 0 next to the sense node).
//   - Bitline: cell k's bitline node b_k is k + 1 wire segments (r_bl each) from the sense node's
//     input b_{-1}; segment j (j = 0 .. n-1, between b_{j-1} and b_j) carries the current of every
//     cell at k >= j.
//   - Sense node: a clamp holding b_{-1} at virtual ground through its input resistance R_s, so
//     b_{-1} = R_s I (I = the column current). The global bitline is left out.
//   - Source line: driven at V_cell (V_read less the access transistor's fixed drop, eq. X0) at the
//     end opposite the sense node; cell k's source node s_k is n - k segments (r_sl each) from the
//     driver; segment j (between s_j and s_{j+1}, s_n = the driver) carries every cell at k <= j.
//   - Cell k (active): I_k = g_k (s_k - b_k), g_k its branch conductance (eq. X0); inactive: 0.
// Compact model (eq. IR5). The nodal equations are I_vec = g (V_cell - M I_vec) with M the
// resistance two cells' currents share (R_s everywhere, r_bl per shared bitline segment, r_sl per
// shared source-line segment), so I = V_cell (G - S + T - ...) with G = sum g_k, S = g'Mg and
// T = g'MDMg (D = diag g). The simulator uses the [1/1] Pade approximant of that series,
//   I = V_cell (G - S^2 / (S + T)),   S = sum_k g_k v_k,   T = sum_k g_k v_k^2,
//   v_k = (M g)_k = R_s G + r_bl sum_{j<=k} Gsuf_j + r_sl sum_{j>=k} Gpre_j,
//   Gsuf_j = sum_{i>=j} g_i, Gpre_j = sum_{i<=j} g_i   (v_k V_cell: cell k's first-order loss).
// It is V_cell G exactly (bit for bit) when r_bl = r_sl = R_s = 0, exact for one active cell and
// for any cells when only R_s is non-zero, and agrees with the series to second order in r;
// tests/unit/test_ir_drop.cpp measures it against the full nodal solve.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bayescim::hw {

struct IrDropParams {
  double v_cell = 0;          // V_read - V_acc (eq. X0)
  double r_bitline = 0;       // r_bl, ohm per cell pitch (array.wire_ohm_per_cell)
  double r_source_line = 0;   // r_sl, ohm per cell pitch (array.source_line_ohm_per_cell)
  double r_sense = 0;         // R_s, the sense node's input resistance (sense_amp.sense_node_ohm)
  bool on() const { return r_bitline > 0 || r_source_line > 0 || r_sense > 0; }
};

// eq. IR5 for one column: g[k] = the branch conductance at position k of the group (0 when the
// row is off), n positions. The reference form (plain loops over every position).
double ir_column_current(const double* g, int n, const IrDropParams& p);

// The worst first-order voltage lost by one cell of a group of n cells each carrying `cell_current`
// (every row matching, nominal currents): max over k of
//   R_s n I + r_bl I sum_{j<=k} (n - j) + r_sl I sum_{j>=k} (j + 1)   (eq. IR6)
double ir_drop_worst_V(const IrDropParams& p, int n, double cell_current);

// eq. IR5 for every column of a read group at once, with no allocation per read: set_group()
// once per read (the active positions and which MTJ conducts), then column_currents().
class IrDropGroup {
 public:
  enum class Select {
    Complementary,  // every active row conducts: through A (ga) when x = +1, through B (gb) when x = -1
    Plus,           // only active rows with x = +1 conduct, through A (two-phase, first phase)
    Minus,          // only active rows with x = -1 conduct, through A (two-phase, second phase)
  };
  explicit IrDropGroup(const IrDropParams& p) : p_(p) {}
  const IrDropParams& params() const { return p_; }
  // Rows [lo, hi) of the packed inputs x and enables a (bit r of word r / 64).
  void set_group(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, Select sel);
  // i[c] = eq. IR5 for column c, whose conductances at row lo + k are ga[c * stride + k] (A) and
  // gb[c * stride + k] (B); ga and gb point at row lo of column 0.
  void column_currents(const double* ga, const double* gb, std::size_t stride, int cols, double* i) const;
  // The same for any layout: column c's conductance at position k is ga[c * col_stride + k * row_stride].
  // With a [row][col] copy (col_stride 1) eight adjacent columns come in one load instead of a
  // gather; same operations in the same order, so the same bits.
  void column_currents(const double* ga, const double* gb, std::size_t col_stride, std::size_t row_stride, int cols,
                       double* i) const;

  // eq. IR7, after set_group(): the nominal transfer curve of this read's active positions,
  // level m (m = 0 .. N, N = active cells) = eq. IR5 with every active cell at the same conductance
  // gbar(m) = (m g_p + (N - m) g_ap) / N. With uniform g, S = g^2 U1 and T = g^3 U2 where
  // U1 = sum_k u_k, U2 = sum_k u_k^2 and u_k = (M 1)_k is what M gives an active cell, so
  //   level m = V_cell (N g - g^2 U1^2 / (U1 + g U2)),  g = gbar(m).
  void calibrate(double g_p, double g_ap);
  int active() const { return static_cast<int>(e_.size()); }
  double level(int m) const { return level_[static_cast<std::size_t>(m)]; }
  // The match count a current stands for on the calibrated curve: the piecewise-linear inverse of
  // the levels (exact at every level; midpoints of adjacent levels map to half counts, so the
  // ADC's rounding and the SA's comparison put their thresholds midway between levels, as X2 does
  // on the lossless line); extrapolated from the end segments outside [level 0, level N].
  double match_estimate(double current) const;
  // match_estimate of n currents at once.
  void match_estimates(const double* current, int n, double* estimate) const;

  struct Entry {
    int k;          // position in the group
    bool b;         // conducts through B
    double w_suf;   // bitline segments whose suffix sum ends at this cell (run length)
    double w_pre;   // source-line segments whose prefix sum ends at this cell
  };

 private:
  IrDropParams p_;
  int n_ = 0;
  std::vector<Entry> e_;  // active cells in increasing k (capacity kept across reads)
  mutable std::vector<double> d_;  // source line: sum_{j>=k} Gpre_j of each cell, 4 columns at a time
  std::vector<double> level_;      // eq. IR7 (calibrate)
  std::vector<double> inv_step_;   // 1 / (level m+1 - level m)
};

}  // namespace bayescim::hw
