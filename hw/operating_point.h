// The read operating point of a crossbar configuration: the currents and voltages a chip would
// see (eq. X0, X1, OP1-OP4 in docs/hardware.md). sim/config refuses a configuration outside the
// limits; the report gives it at hardware.operating_point. Plain C++.
#pragma once
#include <string>
#include <vector>

#include "hw/params.h"
#include "hw/physics/ir_drop.h"

namespace bayescim::hw {

struct OperatingPoint {
  double cell_read_current_p_A = 0;   // V_cell G_P: one conducting P branch
  double cell_read_current_ap_A = 0;  // V_cell G_AP
  double access_transistor_drop_V = 0;     // V_acc plus the on-resistance's share at the P current
  double read_to_write_current_ratio = 0;  // I_P / I_write (the P branch carries the larger read current)
  double bitline_current_max_A = 0;   // every row of a read matching: rows_per_read I_P (OP1)
  double ir_drop_max_V = 0;           // the most a cell of one read loses to the wires and sense node (OP2, eq. IR6)
  double lsb_current_A = 0;           // one match more: V_cell (G_P - G_AP) (OP3)
  double sense_margin_V = 0;          // half an LSB through the sense node's transimpedance (OP4)
};

OperatingPoint operating_point(const DeviceParams& d, const ArchParams& a);

// The IR-drop parameters of a configuration (hw/physics/ir_drop.h).
IrDropParams ir_drop_params(const DeviceParams& d, const ArchParams& a);

// What a configuration violates, each as one sentence naming its keys and the numbers.
struct OperatingCheck {
  std::vector<std::string> errors;    // outside the limits: the run is refused
  std::vector<std::string> warnings;  // possible, but the SA will err
};
OperatingCheck check_operating_point(const DeviceParams& d, const ArchParams& a);

// The crossbar MTJ's read-disturb and write-error probabilities from its free layer (d.thermal
// must be set; eq. C6, C7): the read at the operating point's cell currents (V_cell / (R + R_T),
// eq. X0) for the read pulse, the write at write_current_A for write_pulse_s.
CrossbarRates crossbar_mtj_rates(const DeviceParams& d, const ArchParams& a);

}  // namespace bayescim::hw
