#include "hw/operating_point.h"

#include <cstdio>

#include "hw/physics/crossbar_physics.h"
#include "hw/physics/ir_drop.h"

namespace bayescim::hw {

namespace {
std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}
}  // namespace

IrDropParams ir_drop_params(const DeviceParams& d, const ArchParams& a) {
  IrDropParams p;
  p.v_cell = d.cell.v_cell();
  p.r_bitline = a.wire_ohm_per_cell;
  p.r_source_line = a.source_line_ohm_per_cell;
  p.r_sense = a.sense_node_ohm;
  return p;
}

OperatingPoint operating_point(const DeviceParams& d, const ArchParams& a) {
  const CrossbarPhysics ph(d.cell);
  OperatingPoint op;
  op.cell_read_current_p_A = ph.v_cell() * ph.g_p();
  op.cell_read_current_ap_A = ph.v_cell() * ph.g_ap();
  op.access_transistor_drop_V = d.cell.v_access_V + op.cell_read_current_p_A * d.cell.r_access_ohm;
  op.read_to_write_current_ratio = d.write_current_A > 0 ? op.cell_read_current_p_A / d.write_current_A : 0;
  op.bitline_current_max_A = rows_per_read(a) * op.cell_read_current_p_A;
  // eq. IR6: the largest voltage a cell of one read group loses to the local bitline, the local
  // source line and the sense node's input resistance, every row of the group matching (nominal
  // currents, so an upper bound on the first-order drop); with a strapped source line the cell at
  // the far end of the bitline.
  op.ir_drop_max_V = ir_drop_worst_V(ir_drop_params(d, a), rows_per_read(a), op.cell_read_current_p_A);
  op.lsb_current_A = op.cell_read_current_p_A - op.cell_read_current_ap_A;
  op.sense_margin_V = 0.5 * op.lsb_current_A * a.sense_transimpedance_ohm;
  return op;
}

OperatingCheck check_operating_point(const DeviceParams& d, const ArchParams& a) {
  OperatingCheck c;
  if (d.cell.v_cell() <= 0) {
    c.errors.push_back(fmt("hardware.device.read_voltage_V (%g V) must exceed access_transistor_drop_V (%g V): "
                           "no voltage is left across the MTJ",
                           d.cell.v_read_V, d.cell.v_access_V));
    return c;
  }
  const OperatingPoint op = operating_point(d, a);
  constexpr double kTol = 1 + 1e-9;  // a value at the limit (up to rounding) is allowed
  if (op.read_to_write_current_ratio > a.max_read_to_write_current * kTol)
    c.errors.push_back(
        fmt("hardware.device.read_voltage_V gives a P-cell read current of %.1f uA, %.2f of the write current "
            "(write_current_uA); at most %.2f (hardware.architecture.limits.max_read_to_write_current) keeps reads "
            "from writing: lower read_voltage_V or raise access_transistor_drop_V",
            op.cell_read_current_p_A * 1e6, op.read_to_write_current_ratio, a.max_read_to_write_current));
  if (op.bitline_current_max_A > a.max_bitline_current_A * kTol)
    c.errors.push_back(fmt("a read of %g rows (hardware.architecture.array.rows_per_read) can draw %.3f mA on one "
                           "bitline, above the %.3f mA limit (hardware.architecture.limits.max_bitline_current_mA): "
                           "read fewer rows at once or lower read_voltage_V",
                           rows_per_read(a), op.bitline_current_max_A * 1e3, a.max_bitline_current_A * 1e3));
  if (a.sa_offset_sigma_A > 0 && op.lsb_current_A < a.sa_offset_sigma_A)
    c.warnings.push_back(fmt("one match changes a column current by %.2f uA (LSB), less than the SA offset sigma "
                             "%.2f uA (hardware.architecture.sense_amp.offset_sigma_uA): decisions near the "
                             "threshold will often flip",
                             op.lsb_current_A * 1e6, a.sa_offset_sigma_A * 1e6));
  // eq. W1: the write driver must push I_w through an AP branch (MTJ plus access on-resistance).
  const double v_write_needed = d.write_current_A * (d.cell.r_p_ohm * (1.0 + d.cell.tmr) + d.cell.r_access_ohm);
  if (d.write_voltage_V < v_write_needed)
    c.warnings.push_back(fmt("the write supply (hardware.device.write_voltage_V, %.3g V) is below write_current_uA x "
                             "(R_AP + access_transistor_ohm) = %.3g V: a real driver could not deliver the write "
                             "current to an AP MTJ (the model charges V_w I_w t_w regardless)",
                             d.write_voltage_V, v_write_needed));
  if (op.sense_margin_V < a.sa_min_sense_V)
    c.warnings.push_back(fmt("the sense margin (half an LSB through the sense node) is %.1f mV, below the %.1f mV "
                             "the SA resolves (hardware.architecture.sense_amp.min_sense_mV)",
                             op.sense_margin_V * 1e3, a.sa_min_sense_V * 1e3));
  return c;
}

CrossbarRates crossbar_mtj_rates(const DeviceParams& d, const ArchParams& a) {
  const OperatingPoint op = operating_point(d, a);
  return crossbar_rates(d.thermal.value(), op.cell_read_current_p_A, op.cell_read_current_ap_A, a.read_pulse_s,
                        d.write_current_A, d.write_pulse_s);
}

}  // namespace bayescim::hw
