// Per-action energies (J) and latencies (s): energy = sum over actions of count * energy, plus
// leakage * time. Fixed-cost actions are listed here; the crossbar read energy is data-dependent
// and comes from CrossbarPhysics for every column actually read.
#pragma once
#include <string>
#include <vector>

namespace bayescim::hw {

struct ArchParams;
struct DeviceParams;

struct ActionTable {
  double sa_decision_J = 0;     // latch energy per SA decision
  double adc_conversion_J = 0;  // E_floor + FoM * 2^bits (eq. E3)
  double sample_hold_J = 0;     // one column sampled and held for its conversion
  double digital_add_J = 0;     // one partial-sum addition
  double digital_neuron_J = 0;  // one digital BN/threshold evaluation
  double buffer_bit_J = 0;      // one activation bit read or written
  double leakage_array_W = 0;
  double wordline_row_J = 0;    // one wordline raised for one read: C_wl/cell * cols * V_wl^2 (eq. E1)
  int adc_bits = 0;
};

ActionTable derive_action_table(const ArchParams& a);
// Energy of one write pulse into the given state, drawn from the write supply: V_w I_w t_w (eq. W1).
double mtj_write_energy(const DeviceParams& d, bool antiparallel);
// One bitline charged to V_read for one read: C_bl/cell * rows * V_read^2 (eq. E2).
double bitline_energy(const ArchParams& a, const DeviceParams& d);
// The "<component>.<action>" names whose energy per action an architecture file may override
// (energy_overrides_fJ); StatsSink::override_energy applies them to the counts.
const std::vector<std::string>& overridable_actions();

}  // namespace bayescim::hw
