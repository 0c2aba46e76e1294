#include "hw/area.h"

namespace bayescim::hw {

std::map<std::string, double> area_by_component(const Mapping& m, const ArchParams& a, const DeviceParams& d,
                                                std::size_t dropout_modules) {
  const double um2 = 1e-12, f = a.feature_nm * 1e-9;
  const double arrays = static_cast<double>(m.arrays.size());
  double adc_arrays = 0, sa_arrays = 0;
  for (const auto& l : m.layers)
    (l.sa_path ? sa_arrays : adc_arrays) += static_cast<double>(l.arrays.size());
  const double adcs_per_array = static_cast<double>((a.cols + a.cols_per_adc - 1) / a.cols_per_adc);
  return {{"arrays", arrays * a.rows * a.cols * mtjs_per_cell(a.cell) * d.cell_area_F2 * f * f},
          {"sense_amp", arrays * a.cols * a.sa_area_um2 * um2},
          {"adc", adc_arrays * adcs_per_array * a.adc_area_um2 * um2},
          {"sample_hold", adc_arrays * a.cols * a.sample_hold_area_um2 * um2},
          {"sa_reference", sa_arrays * a.sa_reference_area_um2 * um2},
          {"periphery", arrays * a.periphery_area_um2 * um2},
          {"dropout", static_cast<double>(dropout_modules) * a.dropout_module_area_um2 * um2}};
}

}  // namespace bayescim::hw
