// `bayescim device DEVICE.yaml`: characterises a stochastic-MTJ device file with the macrospin
// solver (hw/physics/macrospin.h) and writes DIR/switching.csv and DIR/switching.png, or, with
// --table FILE, the run-time switching table the dropout unit interpolates (eq. T1-T3).
// docs/hardware.md "The stochastic MTJ from device physics (issue 19)".
#pragma once
#include <string>
#include <vector>

#include "sim/cli.h"

namespace bayescim::sim {

// One characterised point: the columns of switching.csv.
struct DevicePoint {
  double current_A = 0, density_A_per_m2 = 0, pulse_s = 0, temperature_K = 0;
  int switched = 0, samples = 0;
  double p = 0, ci_low = 0, ci_high = 1, energy_J = 0, latency_s = 0;
};

// The exact header of switching.csv.
extern const char* const kSwitchingCsvHeader;

// Runs the command; returns the exit code (0, or 1 when the plot could not be made). Throws
// InputError for a bad device file or a range the device refuses.
int device_command(const std::string& file, const DeviceOptions& opt, int jobs);

}  // namespace bayescim::sim
