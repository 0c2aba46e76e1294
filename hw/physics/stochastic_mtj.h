// Stochastic-write MTJ used as a Bernoulli(p) source (plain C++, no SystemC).
//
// One random bit takes three phases (BRIEF §2): a write pulse that switches the MTJ from P to AP
// with probability p, a read by a sense amplifier (AP = 1 = drop), and a reset back to P. We
// place the reset after the read, so every draw starts from P and its energy depends only on its
// own bit; the latency is the same in either order.
// Thermally activated switching (Néel-Brown), for I < I_c0:
//   P_sw(I, t_p) = 1 - exp(-t_p / tau),  tau = tau_0 exp(Delta (1 - I / I_c0))      (eq. S1)
//   Delta(T) = Delta_300K * 300 K / T                                               (eq. S2)
// The driver inverts eq. S1 for the current giving the target p:
//   I = I_c0 (1 - ln(tau / tau_0) / Delta),  tau = -t_p / ln(1 - p)                 (eq. S3)
// Energies per phase (Joule heating in the MTJ, or read supply power), R_bit = R_AP if the bit
// is 1 else R_P:
//   E_write = I^2 R_P t_p, E_read = V_read^2 / R_bit t_read,
//   E_reset = I_reset^2 R_bit t_reset, plus one sense-amplifier decision.            (eq. S4)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bayescim::hw {

struct StochasticMtjParams {
  double r_p_ohm = 5e3;
  double tmr = 1.2;
  double delta_300K = 40.0;      // thermal stability factor at 300 K
  double temperature_K = 300.0;
  double ic0_A = 100e-6;         // critical switching current at 0 K
  double tau0_s = 1e-9;          // attempt time
  double write_pulse_s = 1e-9;
  double reset_current_A = 200e-6;
  double reset_pulse_s = 2e-9;
  double relax_s = 10e-9;        // settling after the write pulse, before the read
  double read_pulse_s = 1e-9;
  double v_read_V = 0.1;
  double sa_energy_J = 5e-15;
  double sa_latency_s = 0.5e-9;
};

double thermal_stability(const StochasticMtjParams& p);
// eq. S1.
double switching_probability(const StochasticMtjParams& p, double current_A, double pulse_s);
// eq. S3; throws std::domain_error when p is not in (0, 1) or the result leaves the thermal regime.
double drive_current_for(const StochasticMtjParams& p, double target_p);

struct BitPhaseEnergy {
  double reset_J = 0, write_J = 0, read_J = 0, sa_J = 0;
  double total() const { return reset_J + write_J + read_J + sa_J; }
};
// eq. S4 for one draw that gave `bit` (true = switched to AP = drop).
BitPhaseEnergy bit_energy(const StochasticMtjParams& p, double drive_A, bool bit);
// Write + relax + read + SA decision + reset, phases in sequence.
double bit_latency(const StochasticMtjParams& p);

// Device-to-device variation of the stochastic MTJs (relative Gaussian sigmas).
struct MtjVariation {
  double delta_sigma_rel = 0.0;
  double ic0_sigma_rel = 0.0;
};
// The realised switching probability of each of n modules. Module i has
// Delta_i = Delta (1 + s_Delta z_i1) and I_c0,i = I_c0 (1 + s_Ic0 z_i2), z ~ N(0, 1) drawn from
// (seed, i), fixed for the run; every module is driven with drive_A, the current the driver
// chose for the nominal device, so its p deviates (eq. S1 with the module's own parameters).
std::vector<double> module_probabilities(const StochasticMtjParams& p, const MtjVariation& v, double drive_A,
                                         double nominal_p, std::size_t n, std::uint64_t seed);

}  // namespace bayescim::hw
