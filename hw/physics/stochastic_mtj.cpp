#include "hw/physics/stochastic_mtj.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "hw/physics/rng.h"

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

std::vector<double> module_probabilities(const StochasticMtjParams& p, const MtjVariation& v, double drive_A,
                                         double nominal_p, std::size_t n, std::uint64_t seed) {
  std::vector<double> out(n, nominal_p);
  if ((v.delta_sigma_rel == 0.0 && v.ic0_sigma_rel == 0.0) || nominal_p <= 0.0 || nominal_p >= 1.0) return out;
  auto gauss = [&](std::size_t i, std::uint64_t which) {  // Box-Muller on two counter-based uniforms
    const double u1 = 1.0 - uniform01(hash_key(seed, 0x5157'4ec0'0000'0000ULL + which, i, 1));
    const double u2 = uniform01(hash_key(seed, 0x5157'4ec0'0000'0000ULL + which, i, 2));
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  };
  for (std::size_t i = 0; i < n; ++i) {
    StochasticMtjParams d = p;
    d.delta_300K = p.delta_300K * std::max(0.0, 1.0 + v.delta_sigma_rel * gauss(i, 0));
    d.ic0_A = p.ic0_A * std::max(1e-6, 1.0 + v.ic0_sigma_rel * gauss(i, 1));
    out[i] = switching_probability(d, drive_A, p.write_pulse_s);
  }
  return out;
}

}  // namespace bayescim::hw
