// Per-action energies (J) and latencies (s): energy = sum over actions of count * energy, plus
// leakage * time. Fixed-cost actions are listed here; the crossbar read energy is data-dependent
// and comes from CrossbarPhysics for every column actually read.
#pragma once

namespace bayescim::hw {

struct ArchParams;
struct DeviceParams;

struct ActionTable {
  double sa_decision_J = 0;     // latch energy per SA decision
  double adc_conversion_J = 0;  // FoM * 2^bits
  double digital_add_J = 0;     // one partial-sum addition
  double digital_neuron_J = 0;  // one digital BN/threshold evaluation
  double buffer_bit_J = 0;      // one activation bit read or written
  double leakage_array_W = 0;
  int adc_bits = 0;
};

ActionTable derive_action_table(const ArchParams& a);
// Energy to program one MTJ into the given state: I_w^2 R t_w.
double mtj_write_energy(const DeviceParams& d, bool antiparallel);

}  // namespace bayescim::hw
