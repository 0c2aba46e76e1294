// First-order area estimate, per component, in m^2 (plain C++).
//   arrays:    arrays * rows * cols * 2 * cell_area_F2 * F^2   (2T-2MTJ: two 1T-1MTJ cells per weight)
//   sense_amp: arrays * cols * A_SA   (arrays sensed by ADC keep their SAs for the ADC's comparator: counted once)
//   adc:       ADC-path arrays * ceil(cols / columns_per_adc) * A_ADC
//   periphery: arrays * A_periphery
//   shortcut_buffer: shortcut buffer capacity in bits * A_bit (residual networks only)
//   shortcut_adders: shortcut adders * A_adder
//   dropout_rng:     stochastic modules * A_module (MTJ, write/reset switches, read SA)
//   dropout_driver:  modules * A_driver (eq. DC2)
//   dropout_mask:    mask latches * A_latch (DC3)
//   dropout_gating:  gated wordlines * A_gate (DC5)
//   dropout_select:  SA-path columns * A_ref_select + ADC-path neurons * A_thr_select (DC6, DC7)
#pragma once
#include <map>
#include <string>

#include "hw/dropout_circuits.h"
#include "hw/mapper.h"
#include "hw/params.h"

namespace bayescim::hw {

std::map<std::string, double> area_by_component(const Mapping& m, const ArchParams& a, const DeviceParams& d,
                                                const DropoutCircuits& dropout);

}  // namespace bayescim::hw
