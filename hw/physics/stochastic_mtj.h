// Stochastic-write MTJ used as a Bernoulli(p) source (plain C++, no SystemC).
//
// One random bit takes three phases (BRIEF §2): a write pulse that switches the MTJ from P to AP
// with probability p, a read by a sense amplifier (AP = 1 = drop), and a reset back to P. We
// place the reset after the read, so every draw starts from P; the latency is the same in either
// order.
//
// Two switching models (docs/hardware.md "The stochastic MTJ from device physics"):
//   * the macrospin table (eq. T1-T3, hw/physics/switching_table.h), when the device file has an
//     `llg` section and its table: valid in the thermally activated and precessional regimes;
//   * the thermally activated compact model, for devices without `llg` (Neel-Brown, I < I_c0):
//       P_sw(I, t_p) = 1 - exp(-t_p / tau),  tau = tau_0 exp(Delta (1 - I / I_c0))   (eq. S1)
//       Delta(T) = Delta_300K * 300 K / T                                            (eq. S2)
//     inverted by the driver:  I = I_c0 (1 - ln(tau / tau_0) / Delta), tau = -t_p / ln(1 - p)  (eq. S3)
//     It cannot give p >= 1 - exp(-t_p / tau_0) (1 - 1/e for t_p = tau_0).
//
// Junction-voltage limit (eq. V1): no write or reset may put more than V_max across the junction.
// A current-driven pulse puts I R across it, largest in AP, so I <= V_max / R_AP for the write
// (it ends in AP when it switches) and for the reset (it starts in AP). (R_AP is taken at zero
// bias; the TMR falls with bias, so this is the conservative side.)
//
// The driver (eq. D1): the target p is reached by the write current at the nominal pulse; when
// that would need more than V_max / R_AP, by the pulse width at I = V_max / R_AP.
//
// Energy of one random bit from the supplies (eq. S4'), bit = 1 after a switch (AP):
//   E_write  = V_DD I_w t_w                      (current-source driver on the supply V_DD)
//   E_driver = r_bias V_DD I_w t_w               (the mirror's reference branch that sets I_w)
//   E_reset  = V_DD I_reset t_reset
//   E_read   = V_read^2 / R_bit t_read,  plus one SA decision and one mask-latch write.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/physics/switching_table.h"

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
  // issue 19 (eq. V1, D1, S4')
  double v_junction_max_V = 0.0;     // 0: no limit
  double supply_V = 1.2;             // V_DD of the write and reset drivers
  double driver_bias_ratio = 0.125;  // reference-branch current / write current
  double latch_energy_J = 0.0;       // mask latch, per bit
  // The temperature the driver was calibrated at (eq. D3): it picks the drive for the target p
  // there, the device switches at temperature_K. 0: calibrated at temperature_K (no drift).
  double calibration_temperature_K = 0.0;
  // Set: p from the macrospin table (eq. T1-T3); null: eq. S1.
  std::shared_ptr<const SwitchingTable> table;
  std::string model_name() const;  // "macrospin table" or "thermal activation (eq. S1)"
};

// The largest current a write or reset may drive (eq. V1): V_max / R_AP, or +inf without a limit.
double max_drive_current(const StochasticMtjParams& p);
// p(I, t_p) of the device's model at its temperature (table, or eq. S1).
double switching_probability_model(const StochasticMtjParams& p, double current_A, double pulse_s);

// What the driver applies for a target p (eq. D1).
struct DriveChoice {
  double current_A = 0.0;
  double pulse_s = 0.0;
  double p = 0.0;                // the model's p at (current_A, pulse_s)
  bool pulse_stretched = false;  // the voltage limit stopped the current: p set by the pulse width
};
// The drive is chosen at the calibration temperature and `p` is the device's at temperature_K (D3).
// Throws std::domain_error naming the reachable range when the device cannot give target_p.
// 0 and 1 are driven deterministically (no current; the reset current for the write pulse).
DriveChoice choose_drive(const StochasticMtjParams& p, double target_p);
// The range of p the driver can realise: [p(0, t_w), p(I_max, longest pulse)] (table), or
// (0, p(min(I_c0, I_max), t_w)) (eq. S1).
void reachable_range(const StochasticMtjParams& p, double* lo, double* hi);
// dp/dI_c0 of a module driven as `drive` (eq. D2): the sensitivity of the realised p to the
// module's critical current, by a central difference of I_c0 by +-0.1 % (one-sided at the edge of
// the table). On the table, I_c0 -> I_c0 (1 + e) is I -> I / (1 + e), so dp/dI_c0 = -(I / I_c0) dp/dI.
double dp_dic0(const StochasticMtjParams& p, const DriveChoice& drive);
// 1 - p of the reset (AP -> P at I_reset for t_reset; the table by symmetry), or 0 for eq. S1
// devices (no model of the reset: assumed reliable).
double reset_failure_probability(const StochasticMtjParams& p);

double thermal_stability(const StochasticMtjParams& p);
// eq. S1.
double switching_probability(const StochasticMtjParams& p, double current_A, double pulse_s);
// eq. S3; throws std::domain_error when p is not in (0, 1) or the result leaves the thermal regime.
double drive_current_for(const StochasticMtjParams& p, double target_p);

struct BitPhaseEnergy {
  double reset_J = 0, write_J = 0, driver_J = 0, read_J = 0, sa_J = 0, latch_J = 0;
  double total() const { return reset_J + write_J + driver_J + read_J + sa_J + latch_J; }
};
// eq. S4' for one draw that gave `bit` (true = switched to AP = drop), driven as `drive` says.
BitPhaseEnergy bit_energy(const StochasticMtjParams& p, const DriveChoice& drive, bool bit);
// The same at drive_A for the nominal write pulse.
BitPhaseEnergy bit_energy(const StochasticMtjParams& p, double drive_A, bool bit);
// Write + relax + read + SA decision + reset, phases in sequence (write pulse as given, or nominal).
double bit_latency(const StochasticMtjParams& p, double write_pulse_s);
double bit_latency(const StochasticMtjParams& p);

// Device-to-device variation of the stochastic MTJs (relative Gaussian sigmas).
struct MtjVariation {
  double delta_sigma_rel = 0.0;
  double ic0_sigma_rel = 0.0;
  double size_sigma_rel = 0.0;  // of the junction area: scales Delta and I_c0 together (eq. V4)
  bool any() const { return delta_sigma_rel != 0.0 || ic0_sigma_rel != 0.0 || size_sigma_rel != 0.0; }
};
// The realised switching probability of each of n modules. Module i has
// Delta_i = Delta (1 + s_Delta z_i1) and I_c0,i = I_c0 (1 + s_Ic0 z_i2), z ~ N(0, 1) drawn from
// (seed, i), fixed for the run; every module is driven as the driver chose for the nominal
// device, so its p deviates: eq. S1 with the module's own parameters, or with the table
// p(I I_c0 / I_c0,i, t_p, T Delta / Delta_i) (the macrospin's p depends on I / I_c0 and Delta;
// I_c0 is proportional to the barrier, Delta to barrier / T, so a Delta alone is a temperature).
// An area A_i = A (1 + s_A z_i3) scales the barrier and I_c0 by the same factor k (eq. V4): the
// macrospin at (I, k V, T) is the one at (I / k, V, T / k) (the thermal field's variance goes as
// T / V, the torque as I / A), so Delta_i and I_c0,i both take the factor k.
std::vector<double> module_probabilities(const StochasticMtjParams& p, const MtjVariation& v, const DriveChoice& drive,
                                         std::size_t n, std::uint64_t seed);
// The same for a drive of drive_A at the nominal pulse that gave nominal_p.
std::vector<double> module_probabilities(const StochasticMtjParams& p, const MtjVariation& v, double drive_A,
                                         double nominal_p, std::size_t n, std::uint64_t seed);

}  // namespace bayescim::hw
