#include "hw/physics/energy_table.h"

#include <cmath>
#include <string>
#include <vector>

#include "hw/params.h"

namespace bayescim::hw {

int adc_bits_for(const ArchParams& a) {
  if (a.adc_bits > 0) return a.adc_bits;
  return bits_for_levels(static_cast<std::uint64_t>(rows_per_read(a)) + 1);
}

ActionTable derive_action_table(const ArchParams& a) {
  ActionTable t;
  t.adc_bits = adc_bits_for(a);
  t.sa_decision_J = a.sa_latch_energy_J;
  t.adc_conversion_J = a.adc_floor_J + a.adc_fom_J_per_step * std::ldexp(1.0, t.adc_bits);  // eq. E3
  t.sample_hold_J = a.sample_hold_J;
  t.digital_add_J = a.digital_add_energy_J;
  t.digital_neuron_J = a.digital_neuron_energy_J;
  t.buffer_bit_J = a.buffer_energy_per_bit_J;
  t.leakage_array_W = a.leakage_per_array_W;
  t.wordline_row_J = a.wordline_cap_F_per_cell * a.cols * a.wordline_voltage_V * a.wordline_voltage_V;
  return t;
}

// eq. W1: the write driver delivers I_w from its supply V_w for t_w. The energy dissipated in the
// MTJ alone (I_w^2 R t_w) is the smaller part of it; the rest heats the driver and the access
// transistor. Both polarities draw the same current for the same time, so the state does not
// enter (the argument is kept for the callers' bookkeeping).
double mtj_write_energy(const DeviceParams& d, bool /*antiparallel*/) {
  return d.write_voltage_V * d.write_current_A * d.write_pulse_s;
}

double bitline_energy(const ArchParams& a, const DeviceParams& d) {
  return a.bitline_cap_F_per_cell * a.rows * d.cell.v_read_V * d.cell.v_read_V;
}

const std::vector<std::string>& overridable_actions() {
  static const std::vector<std::string> k = {
      "crossbar_read.matching_cell", "crossbar_read.mismatching_cell", "sense_amp.reference_half_p",
      "sense_amp.reference_half_ap", "sense_amp.latch",               "adc.conversion",              "adc.sample_hold",
      "drivers.wordline",            "drivers.bitline",               "digital.partial_sum_add",
      "digital.pool_or",             "digital.neuron",                "buffer.bit",
      "dropout_rng.draw_0",          "dropout_rng.draw_1",            "dropout_driver.bias",
      "dropout_driver.control",      "dropout_mask.latch_write",      "dropout_mask.gather_read",
      "dropout_gating.wordline_gate", "dropout_select.reference",     "dropout_select.threshold",
      "shortcut.buffer_bit",         "shortcut.add",                  "leakage.array_ps",
      "read_disturb.restore_write",  "programming.mtj_write_p",       "programming.mtj_write_ap",
      "programming.verify_read_p",
      "programming.verify_read_ap"};
  return k;
}

}  // namespace bayescim::hw
