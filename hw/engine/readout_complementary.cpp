// 2T-2MTJ complementary cell: one read per group; every active row conducts through A (x = +1)
// or B (x = -1), so a column's current tracks its XNOR matches m (eq. X1).
#include <algorithm>

#include "hw/engine/bit_range.h"
#include "hw/engine/readout.h"
#include "hw/physics/kernels.h"

namespace bayescim::hw {

namespace {

class ComplementaryReadout final : public Readout {
 public:
  explicit ComplementaryReadout(const ReadEnv& env) : Readout(env), ir_(ir_params(env)) {
    sel_a_.assign(static_cast<std::size_t>(env.slice.rows), 0.0);
    sel_b_.assign(static_cast<std::size_t>(env.slice.rows), 0.0);
    col_i_.assign(static_cast<std::size_t>(env.slice.cols), 0.0);
  }
  int read(const ReadRequest& r, ReadOutput& out) override;

 private:
  // sums_ready: sum_conductances() filled col_g_ for this read.
  bool all_columns_at_once(const ReadCache::Slot& slot, bool ir, bool cal, bool sums_ready, bool disturb, int active,
                           int size, ReadOutput& out);
  // Ideal devices: every column's matches over the group's rows at once.
  void count_matches(const ReadRequest& r);
  // Analog devices: every column's conductance sum (all at once with the AVX-512 nibble kernel).
  void sum_conductances(const ReadRequest& r, bool all_columns);

  std::vector<std::uint64_t> range_a_;  // the enables of rows [lo, hi)
  std::vector<std::int32_t> col_m_;     // every column's matches
  std::vector<std::uint8_t> sel_nib_;   // the selectors, 4 rows per byte
  std::vector<double> col_g_;           // every column's conductance sum
  std::vector<double> cur_;             // analog: every column's current of this read
  IrDropGroup ir_;                      // analog devices with wire or sense-node resistance (eq. IR5)
  std::vector<double> col_i_;           // every column's current through the IR-drop model
  std::vector<double> est_;             // calibrated: every column's match estimate (eq. IR7)
};

void ComplementaryReadout::count_matches(const ReadRequest& r) {
  const int cols = env_.slice.cols;
  const int w0 = r.lo / 64, w1 = (r.hi + 63) / 64;
  range_a_.resize(static_cast<std::size_t>(w1 - w0));
  for (int w = w0; w < w1; ++w) {
    const int b0 = std::max(r.lo, w * 64) - w * 64, b1 = std::min(r.hi, (w + 1) * 64) - w * 64;
    const std::uint64_t upto = b1 == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << b1) - 1;
    range_a_[static_cast<std::size_t>(w - w0)] = r.a[w] & upto & (~std::uint64_t{0} << b0);
  }
  col_m_.resize(static_cast<std::size_t>(cols));
  xnor_counts_columns(r.x + w0, range_a_.data(), env_.cells.cells_by_word() + static_cast<std::size_t>(w0) * cols,
                      static_cast<std::size_t>(w1 - w0), static_cast<std::size_t>(cols), col_m_.data());
}

void ComplementaryReadout::sum_conductances(const ReadRequest& r, bool all_columns) {
  const int size = r.hi - r.lo;
  if (all_columns) {
    sel_nib_.resize(static_cast<std::size_t>((size + 3) / 4));
    col_g_.resize(static_cast<std::size_t>(env_.slice.cols));
    expand_selector_nibbles(r.x, r.a, r.lo, size, sel_nib_.data());
    conductance_sums_nibbles(env_.cells.g_a() + r.lo, env_.cells.g_b() + r.lo, static_cast<std::size_t>(env_.slice.rows),
                             sel_nib_.data(), size, env_.slice.cols, col_g_.data());
  } else {
    expand_selectors(r.x, r.a, r.lo, r.hi, sel_a_.data() + r.lo, sel_b_.data() + r.lo);
  }
}

// The ADC path of analog devices without read disturb, in whole-array passes (currents, codes,
// energy) instead of one column at a time: the same values, in the same order, as the loop below.
bool ComplementaryReadout::all_columns_at_once(const ReadCache::Slot& slot, bool ir, bool cal, bool sums_ready,
                                               bool disturb, int active, int size, ReadOutput& out) {
  if (env_.sa_path || disturb || !(slot.hit || ir || sums_ready)) return false;
  const std::size_t cols = static_cast<std::size_t>(env_.slice.cols);
  cur_.resize(cols);
  if (slot.hit) {
    std::copy_n(slot.current, cols, cur_.data());
    std::copy_n(slot.code, cols, out.codes.data());
  } else {
    if (ir) {
      std::copy_n(col_i_.data(), cols, cur_.data());
    } else {
      const double v = env_.phys.v_cell();
      for (std::size_t c = 0; c < cols; ++c) cur_[c] = v * col_g_[c];
    }
    int* code = out.codes.data();
    if (cal) {
      est_.resize(cols);
      ir_.match_estimates(cur_.data(), env_.slice.cols, est_.data());
      for (std::size_t c = 0; c < cols; ++c) code[c] = CrossbarPhysics::quantize(est_[c], active, size, env_.adc_levels);
    } else {
      for (std::size_t c = 0; c < cols; ++c) code[c] = env_.ref.adc(cur_[c], active, size, env_.adc_levels);
    }
    if (slot.current) std::copy_n(cur_.data(), cols, slot.current);
    if (slot.code) std::copy_n(code, cols, slot.code);
  }
  const double pulse = env_.arch.read_pulse_s;
  double aJ = env_.analog_aJ;
  for (std::size_t c = 0; c < cols; ++c) aJ += env_.phys.column_energy(cur_[c], pulse) * 1e18;
  env_.analog_aJ = aJ;
  ReadCounts& n = env_.counts;
  n.adc_conversions += cols;
  ++n.reads;
  n.wordlines += static_cast<std::uint64_t>(active);
  n.bitlines += cols;
  return true;
}

int ComplementaryReadout::read(const ReadRequest& r, ReadOutput& out) {
  const auto& s = env_.slice;
  const bool analog = env_.cells.analog();
  const double pulse = env_.arch.read_pulse_s;
  const int size = r.hi - r.lo;
  const int step = r.exact ? 1 : CrossbarPhysics::adc_step(size, env_.adc_levels);
  const bool disturb = disturb_on();
  const std::uint64_t dkey = disturb ? disturb_key(r) : 0;
  const ReadCache::Slot slot = cache_slot(r);
  // Without read disturb the devices do not change during the read: every column's sum at once
  // from the packed bits (same terms, same order as conductance_sum).
  static const bool kNibbles = conductance_sums_nibbles_vectorised();
  const bool all_columns = kNibbles && analog && !slot.hit && !disturb;
  // IR drop (eq. IR5): every column's current from its cells' conductances and positions. A column's
  // read disturb changes only its own MTJs after its current is taken, so all columns at once is the same.
  const bool ir_on = analog && ir_.params().on();
  const bool ir = ir_on && !slot.hit;
  // eq. IR7: with IR drop the references follow the read's nominal IR-dropped curve (calibrated).
  const bool cal = ir_on && env_.arch.calibrated_references;
  if (ir_on) ir_.set_group(r.x, r.a, r.lo, r.hi, IrDropGroup::Select::Complementary);
  if (cal) ir_.calibrate(env_.ref.g_p(), env_.ref.g_ap());
  if (ir) {
    const std::size_t cols = static_cast<std::size_t>(s.cols), lo = static_cast<std::size_t>(r.lo);
    if (env_.cells.g_a_rows() && ir_.params().r_source_line == 0)  // eight adjacent columns per load
      ir_.column_currents(env_.cells.g_a_rows() + lo * cols, env_.cells.g_b_rows() + lo * cols, 1, cols, s.cols,
                          col_i_.data());
    else
      ir_.column_currents(env_.cells.g_a() + r.lo, env_.cells.g_b() + r.lo, static_cast<std::size_t>(s.rows), s.cols,
                          col_i_.data());
  } else if (analog && !slot.hit) {
    sum_conductances(r, all_columns);
  }
  if (!analog) count_matches(r);
  const int active = count_range(r.lo, r.hi, [&](std::size_t w) { return r.a[w]; });
  if (analog && all_columns_at_once(slot, ir, cal, all_columns, disturb, active, size, out)) return active;
  // Counters are kept in locals (a store to a member could alias the packed inputs and force reloads).
  const bool sa = env_.sa_path;
  const double sa_offset = env_.arch.sa_offset_sigma_A;
  std::uint64_t match = 0, mismatch = 0, conversions = 0;
  // The read energy is added after the loop, in column order, from the currents kept in cur_ (a
  // running sum inside a loop with calls would live in memory: one store and reload per column).
  if (analog) cur_.resize(static_cast<std::size_t>(s.cols));
  for (int c = 0; c < s.cols; ++c) {
    const int m = analog ? 0 : col_m_[static_cast<std::size_t>(c)];
    double i_col = 0;
    if (analog) {  // Kirchhoff over the conducting MTJ of every active row
      if (slot.hit) {
        i_col = slot.current[c];
      } else if (ir) {
        i_col = col_i_[static_cast<std::size_t>(c)];
        if (slot.current) slot.current[c] = i_col;
      } else {
        const std::size_t base = static_cast<std::size_t>(c) * s.rows + r.lo;
        i_col = env_.phys.v_cell() * (all_columns ? col_g_[static_cast<std::size_t>(c)]
                                                  : conductance_sum(env_.cells.g_a() + base, env_.cells.g_b() + base,
                                                                    sel_a_.data() + r.lo, sel_b_.data() + r.lo, size));
        if (slot.current) slot.current[c] = i_col;
      }
      cur_[static_cast<std::size_t>(c)] = i_col;
    } else {
      if (sa_offset > 0) i_col = env_.phys.column_current(m, active);
      match += static_cast<std::uint64_t>(m);
      mismatch += static_cast<std::uint64_t>(active - m);
    }
    if (sa) {  // the sense amplifier decides from the count or the current
      out.codes[c] = m;
      // calibrated: the current the nominal reference X2 sees once moved onto the IR7 curve
      out.sa_current[c] = cal ? env_.ref.current_of_estimate(ir_.match_estimate(i_col), active) : i_col;
    } else {
      if (analog) {  // a cached read has its code: same current, same active rows
        if (slot.hit) {
          out.codes[c] = slot.code[c];
        } else {
          out.codes[c] = cal ? CrossbarPhysics::quantize(ir_.match_estimate(i_col), active, size, env_.adc_levels)
                             : env_.ref.adc(i_col, active, size, env_.adc_levels);
          if (slot.code) slot.code[c] = out.codes[c];
        }
      } else {
        out.codes[c] = step == 1 ? m  // an exact ADC: the code is the count (m <= active)
                                 : CrossbarPhysics::adc_of_matches(m, active, step);
      }
      ++conversions;
    }
    if (disturb) env_.cells.disturb(c, r.x, r.a, r.lo, r.hi, dkey);
  }
  if (analog) {
    double aJ = env_.analog_aJ;
    for (int c = 0; c < s.cols; ++c) aJ += env_.phys.column_energy(cur_[static_cast<std::size_t>(c)], pulse) * 1e18;
    env_.analog_aJ = aJ;
  }
  ReadCounts& n = env_.counts;
  n.cell_match += match;
  n.cell_mismatch += mismatch;
  n.adc_conversions += conversions;
  ++n.reads;
  n.wordlines += static_cast<std::uint64_t>(active);
  n.bitlines += static_cast<std::uint64_t>(s.cols);
  return active;
}

}  // namespace

std::unique_ptr<Readout> make_complementary_readout(const ReadEnv& env) {
  return std::make_unique<ComplementaryReadout>(env);
}

}  // namespace bayescim::hw
