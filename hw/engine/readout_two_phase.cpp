// 1T-1MTJ cell, two phases: rows with x = +1 conduct through their MTJ in the first read, rows
// with x = -1 in the second. Each phase's ADC code estimates q, the P (w = +1) MTJs among its k
// rows; matches = q(+) + k(-) - q(-). Always on the ADC path.
#include "hw/engine/bit_range.h"
#include "hw/engine/readout.h"
#include "hw/physics/kernels.h"

namespace bayescim::hw {

namespace {

class TwoPhaseReadout final : public Readout {
 public:
  explicit TwoPhaseReadout(const ReadEnv& env) : Readout(env), ir_plus_(ir_params(env)), ir_minus_(ir_params(env)) {
    i_plus_.assign(static_cast<std::size_t>(env.slice.cols), 0.0);
    i_minus_.assign(static_cast<std::size_t>(env.slice.cols), 0.0);
    sel_a_.assign(static_cast<std::size_t>(env.slice.rows), 0.0);
    sel_b_.assign(static_cast<std::size_t>(env.slice.rows), 0.0);
    zeros_.assign(static_cast<std::size_t>(env.slice.rows), 0.0);
  }
  int read(const ReadRequest& r, ReadOutput& out) override;

 private:
  std::vector<double> zeros_;
  IrDropGroup ir_plus_, ir_minus_;          // eq. IR5 for the two phases (analog devices with IR drop)
  std::vector<double> i_plus_, i_minus_;    // every column's current of each phase through it
};

int TwoPhaseReadout::read(const ReadRequest& r, ReadOutput& out) {
  const auto& s = env_.slice;
  const bool analog = env_.cells.analog();
  const double pulse = env_.arch.read_pulse_s;
  const int lo = r.lo, hi = r.hi, size = hi - lo;
  const int step = CrossbarPhysics::adc_step(size, env_.adc_levels);
  const bool disturb = disturb_on();
  const std::uint64_t dkey = disturb ? disturb_key(r) : 0;
  const ReadCache::Slot slot = cache_slot(r);
  // IR drop (eq. IR5): each phase's rows conduct through the column's one MTJ (A). A column's read
  // disturb changes only its own MTJs after its currents are taken, so all columns at once is the same.
  const bool ir_on = analog && ir_plus_.params().on();
  const bool ir = ir_on && !slot.hit;
  const bool cal = ir_on && env_.arch.calibrated_references;  // eq. IR7, per phase
  if (ir_on) {
    ir_plus_.set_group(r.x, r.a, lo, hi, IrDropGroup::Select::Plus);
    ir_minus_.set_group(r.x, r.a, lo, hi, IrDropGroup::Select::Minus);
  }
  if (cal) {
    ir_plus_.calibrate(env_.ref.g_p(), env_.ref.g_ap());
    ir_minus_.calibrate(env_.ref.g_p(), env_.ref.g_ap());
  }
  if (ir) {
    const std::size_t cols = static_cast<std::size_t>(s.cols);
    if (env_.cells.g_a_rows() && ir_plus_.params().r_source_line == 0) {  // eight adjacent columns per load
      const double* ga = env_.cells.g_a_rows() + static_cast<std::size_t>(lo) * cols;
      ir_plus_.column_currents(ga, ga, 1, cols, s.cols, i_plus_.data());
      ir_minus_.column_currents(ga, ga, 1, cols, s.cols, i_minus_.data());
    } else {
      const double* ga = env_.cells.g_a() + lo;
      const std::size_t stride = static_cast<std::size_t>(s.rows);
      ir_plus_.column_currents(ga, ga, stride, s.cols, i_plus_.data());
      ir_minus_.column_currents(ga, ga, stride, s.cols, i_minus_.data());
    }
  } else if (analog && !slot.hit) {
    expand_selectors(r.x, r.a, lo, hi, sel_a_.data() + lo, sel_b_.data() + lo);
  }
  const std::uint64_t* x = r.x;
  const std::uint64_t* a = r.a;
  const int active = count_range(lo, hi, [&](std::size_t w) { return a[w]; });
  const int k_plus = count_range(lo, hi, [&](std::size_t w) { return a[w] & x[w]; });
  const int k_minus = active - k_plus;
  ReadCounts& n = env_.counts;
  for (int c = 0; c < s.cols; ++c) {
    const std::uint64_t* wcol = env_.cells.column(c);
    int code_plus, code_minus;
    if (analog) {
      const double* ga = env_.cells.g_a() + static_cast<std::size_t>(c) * s.rows + lo;
      double i_plus, i_minus;
      if (slot.hit) {
        i_plus = slot.current[2 * c];
        i_minus = slot.current[2 * c + 1];
      } else if (ir) {
        i_plus = i_plus_[static_cast<std::size_t>(c)];
        i_minus = i_minus_[static_cast<std::size_t>(c)];
        if (slot.current) slot.current[2 * c] = i_plus, slot.current[2 * c + 1] = i_minus;
      } else {
        i_plus = env_.phys.v_cell() * conductance_sum(ga, ga, sel_a_.data() + lo, zeros_.data(), size);
        i_minus = env_.phys.v_cell() * conductance_sum(ga, ga, sel_b_.data() + lo, zeros_.data(), size);
        if (slot.current) slot.current[2 * c] = i_plus, slot.current[2 * c + 1] = i_minus;
      }
      env_.analog_aJ += (env_.phys.column_energy(i_plus, pulse) + env_.phys.column_energy(i_minus, pulse)) * 1e18;
      if (slot.hit) {
        code_plus = slot.code[2 * c];
        code_minus = slot.code[2 * c + 1];
      } else {
        if (cal) {
          code_plus = CrossbarPhysics::quantize(ir_plus_.match_estimate(i_plus), k_plus, size, env_.adc_levels);
          code_minus = CrossbarPhysics::quantize(ir_minus_.match_estimate(i_minus), k_minus, size, env_.adc_levels);
        } else {
          code_plus = env_.ref.adc(i_plus, k_plus, size, env_.adc_levels);
          code_minus = env_.ref.adc(i_minus, k_minus, size, env_.adc_levels);
        }
        if (slot.code) slot.code[2 * c] = code_plus, slot.code[2 * c + 1] = code_minus;
      }
    } else {
      const int q_plus = count_range(lo, hi, [&](std::size_t w) { return a[w] & x[w] & wcol[w]; });
      const int q_minus = count_range(lo, hi, [&](std::size_t w) { return a[w] & ~x[w] & wcol[w]; });
      n.cell_match += static_cast<std::uint64_t>(q_plus + q_minus);
      n.cell_mismatch += static_cast<std::uint64_t>(active - q_plus - q_minus);
      code_plus = CrossbarPhysics::adc_of_matches(q_plus, k_plus, step);
      code_minus = CrossbarPhysics::adc_of_matches(q_minus, k_minus, step);
    }
    out.codes[c] = code_plus + (k_minus - code_minus);
    n.adc_conversions += 2;
    ++n.tile_adds;
    if (disturb) env_.cells.disturb(c, x, a, lo, hi, dkey);
  }
  n.reads += 2;
  n.wordlines += static_cast<std::uint64_t>(active);
  n.bitlines += 2 * static_cast<std::uint64_t>(s.cols);
  return active;
}

}  // namespace

std::unique_ptr<Readout> make_two_phase_readout(const ReadEnv& env) { return std::make_unique<TwoPhaseReadout>(env); }

}  // namespace bayescim::hw
