#include "hw/area.h"

namespace bayescim::hw {

std::map<std::string, double> area_by_component(const Mapping& m, const ArchParams& a, const DeviceParams& d,
                                                const DropoutCircuits& dropout) {
  const double um2 = 1e-12, f = a.feature_nm * 1e-9;
  const double arrays = static_cast<double>(m.arrays.size());
  double adc_arrays = 0, sa_arrays = 0;
  for (const auto& l : m.layers)
    (l.sa_path ? sa_arrays : adc_arrays) += static_cast<double>(l.arrays.size());
  const auto& c = a.dropout_circuits;
  const DropoutCircuitLayer t = dropout.total();
  const double adcs_per_array = static_cast<double>((a.cols + a.cols_per_adc - 1) / a.cols_per_adc);
  std::map<std::string, double> area{{"arrays", arrays * a.rows * a.cols * mtjs_per_cell(a.cell) * d.cell_area_F2 * f * f},
          {"sense_amp", arrays * a.cols * a.sa_area_um2 * um2},
          {"adc", adc_arrays * adcs_per_array * a.adc_area_um2 * um2},
          {"sample_hold", adc_arrays * a.cols * a.sample_hold_area_um2 * um2},
          {"sa_reference", sa_arrays * a.sa_reference_area_um2 * um2},
          {"periphery", arrays * a.periphery_area_um2 * um2},
          {"dropout_rng", static_cast<double>(dropout.modules) * a.dropout_module_area_um2 * um2},
          {"dropout_driver", static_cast<double>(dropout.modules) * c.driver_area_um2 * um2},
          {"dropout_mask", static_cast<double>(t.latches) * c.mask_latch_area_um2 * um2},
          {"dropout_gating", static_cast<double>(t.gates) * c.wordline_gate_area_um2 * um2},
          {"dropout_select", (static_cast<double>(t.select_columns) * c.select_reference_area_um2 +
                              static_cast<double>(t.select_neurons) * c.select_threshold_area_um2) * um2}};
  if (m.shortcut_adders > 0) {  // a residual network only
    area["shortcut_buffer"] = static_cast<double>(m.shortcut_buffer_bits) * a.shortcut_buffer_bit_area_um2 * um2;
    area["shortcut_adders"] = static_cast<double>(m.shortcut_adders) * a.shortcut_adder_area_um2 * um2;
  }
  return area;
}

}  // namespace bayescim::hw
