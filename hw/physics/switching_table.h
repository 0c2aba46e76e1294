// The run-time switching model of the stochastic MTJ: p(I, t_p, T) tabulated by the macrospin
// solver (hw/physics/macrospin.h) and interpolated, valid wherever the solver is (thermally
// activated and precessional switching alike). Plain C++, no SystemC, no file I/O (the CSV is
// read and written in sim/switching_table_io.h).
//
// Interpolation (eq. T1-T3; docs/hardware.md "The stochastic MTJ from device physics"):
//   T1  before use each (T, t_p) row is made non-decreasing in I by the pool-adjacent-violators
//       algorithm (equal weights: every point has the same number of trials), then each (T, I)
//       column non-decreasing in t_p by a running maximum (the maximum of non-decreasing
//       functions of I is one, so T1 keeps both orders). Only sampling noise is removed: the
//       solver's p is non-decreasing in both.
//   T2  in I: linear; in t_p: linear in ln t_p; in T: linear. Outside the tabulated I, t_p or T
//       ranges p_at throws std::domain_error (the table must be regenerated, not extrapolated);
//       I below the first current (>= 0) takes the first current's p.
//   T3  inversion: p_at is continuous and non-decreasing in I and in t_p, so the current (or
//       pulse) giving a target p is found by bisection to 1e-9 relative.
#pragma once
#include <string>
#include <vector>

namespace bayescim::hw {

struct SwitchingTable {
  // Axes, strictly ascending; p_raw[(iT * pulses + ip) * currents + iI] = switched / samples.
  std::vector<double> temperatures_K, pulses_s, currents_A;
  std::vector<double> p_raw;
  int samples = 0;         // trials per point
  std::string provenance;  // device file, solver version, samples, seed, command (one line each)

  // Checks the axes and sizes (throws std::invalid_argument) and applies T1.
  void finalise();
  double p_at(double current_A, double pulse_s, double temperature_K) const;  // T2
  double max_current() const { return currents_A.back(); }
  double min_pulse() const { return pulses_s.front(); }
  double max_pulse() const { return pulses_s.back(); }
  const std::vector<double>& p_smoothed() const { return p_; }

 private:
  std::vector<double> p_;  // after T1
  double at(std::size_t it, std::size_t ip, std::size_t ii) const {
    return p_[(it * pulses_s.size() + ip) * currents_A.size() + ii];
  }
  double p_at_temperature_row(std::size_t it, double current_A, double pulse_s) const;
};

}  // namespace bayescim::hw
