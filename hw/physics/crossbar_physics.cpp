#include "hw/physics/crossbar_physics.h"

#include <algorithm>
#include <cmath>

namespace bayescim::hw {

CrossbarPhysics::CrossbarPhysics(const CellParams& p)
    : g_p_(1.0 / p.r_p_ohm), g_ap_(1.0 / (p.r_p_ohm * (1.0 + p.tmr))), v_(p.v_read_V) {}

double CrossbarPhysics::column_current(int matches, int active_rows) const {
  return v_ * (matches * g_p_ + (active_rows - matches) * g_ap_);
}

double CrossbarPhysics::reference_current(int threshold_matches, int active_rows) const {
  return 0.5 * (column_current(threshold_matches - 1, active_rows) + column_current(threshold_matches, active_rows));
}

int CrossbarPhysics::ideal_adc(double current, int active_rows) const {
  const double m = (current / v_ - active_rows * g_ap_) / (g_p_ - g_ap_);
  return std::clamp(static_cast<int>(std::lround(m)), 0, active_rows);
}

}  // namespace bayescim::hw
