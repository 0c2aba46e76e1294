#include "hw/physics/stochastic_mtj.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace bayescim::hw {

double thermal_stability(const StochasticMtjParams& p) { return p.delta_300K * 300.0 / p.temperature_K; }

double switching_probability(const StochasticMtjParams& p, double current_A, double pulse_s) {
  const double tau = p.tau0_s * std::exp(thermal_stability(p) * (1.0 - current_A / p.ic0_A));
  return 1.0 - std::exp(-pulse_s / tau);
}

double drive_current_for(const StochasticMtjParams& p, double target_p) {
  if (!(target_p > 0.0 && target_p < 1.0))
    throw std::domain_error("target switching probability must be in (0, 1), got " + std::to_string(target_p));
  const double tau = -p.write_pulse_s / std::log1p(-target_p);
  const double i = p.ic0_A * (1.0 - std::log(tau / p.tau0_s) / thermal_stability(p));
  if (!(i > 0.0) || i >= p.ic0_A)
    throw std::domain_error("target p = " + std::to_string(target_p) +
                            " needs a drive current outside the thermally activated regime (0, I_c0)");
  return i;
}

BitPhaseEnergy bit_energy(const StochasticMtjParams& p, double drive_A, bool bit) {
  const double r_ap = p.r_p_ohm * (1.0 + p.tmr);
  BitPhaseEnergy e;
  e.reset_J = p.reset_current_A * p.reset_current_A * (bit ? r_ap : p.r_p_ohm) * p.reset_pulse_s;
  e.write_J = drive_A * drive_A * p.r_p_ohm * p.write_pulse_s;
  e.read_J = p.v_read_V * p.v_read_V / (bit ? r_ap : p.r_p_ohm) * p.read_pulse_s;
  e.sa_J = p.sa_energy_J;
  return e;
}

double bit_latency(const StochasticMtjParams& p) {
  return p.reset_pulse_s + p.write_pulse_s + p.relax_s + p.read_pulse_s + p.sa_latency_s;
}

}  // namespace bayescim::hw
