// The crossbar MTJ's switching from its free layer (issue 19, item 6): read disturb and write
// errors from the read and write pulses, per direction, below and above the critical current.
// Plain C++, no SystemC. docs/hardware.md "The crossbar MTJ from its free layer" (eq. C1-C7).
//
// The free layer is the macrospin of hw/physics/macrospin.h (circular perpendicular disc, constant
// spin-torque efficiency along a trajectory), described by its barrier, its critical current per
// direction and its precession time; at reduced current i = I / I_c0,dir (I_c0 of the direction
// the current pushes: AP -> P or P -> AP) the polar coordinate s = 1 - cos(theta) of m, measured
// from the starting state, obeys Brown's Fokker-Planck equation with the spin-torque potential
//   Delta(T) = Delta_300K (300 K / T) m(T)^2,  m(T) = M_s(T) / M_s(300 K)                 (C1)
//   with Bloch's M_s(T) = M_s(0) (1 - (T / T_c)^{3/2}) and the Callen-Callen K_i ~ M_s^2, so that
//   the barrier (anisotropy and demagnetisation alike) scales as M_s^2; I_c0 ~ alpha E_b scales as
//   m^2 and tau_D ~ 1 / H_k,eff as 1 / m. Without a Curie temperature m = 1 (M_s, K_i constant).
//   dW/dt = d/ds [ D(s) (dW/ds + U'(s) W) ],  D = s (2 - s) / (2 tau_N),  tau_N = Delta tau_D,
//   U(s) = Delta (s (2 - s) - 2 i s)                          (C2)
// (the drift is eq. M8, d theta/dt = (i - cos theta) sin theta / tau_D, and the noise Brown's;
// tau_D = (1 + alpha^2) / (alpha gamma mu0 H_k,eff)). The MTJ starts Boltzmann-distributed in its
// well at zero current, W(s, 0) ~ exp(-Delta s (2 - s)); it has switched once it crosses the
// equator s = 1 (absorbing). The switching probability of a pulse t_p is the probability absorbed
// by t_p (C3). Its two limits, closed forms the tests check it against:
//   thermal (Delta (1 - i)^2 >> 1): P_sw = 1 - exp(-t_p / tau), Brown's escape time with the
//     current-lowered barrier,
//     tau = tau_N sqrt(pi) Delta^{-3/2} exp(Delta (1 - i)^2) / ((1 - i)^2 (1 + i))      (C4)
//   precessional (i > 1, no noise during the pulse): the T = 0 trajectory from s_0 reaches the
//     equator after t(s_0) = tau_D [ -ln(i / (i - u_0)) / (i^2 - 1) - ln(s_0) / (2 (i - 1))
//     + ln(1 + u_0) / (2 (i + 1)) ], u_0 = 1 - s_0, so the write fails iff s_0 < s_c, t(s_c) = t_p:
//     WER = int_0^s_c e^{-Delta s (2 - s)} ds / int_0^1 e^{-Delta s (2 - s)} ds          (C5)
// Read disturb per read: q = P_sw(I_read, t_read) of the state the read current destabilises; the
// other state is pushed towards itself (not disturbed)  (C6). Write error per pulse: 1 - P_sw(I_w, t_w)
// of the direction written  (C7).
#pragma once

namespace bayescim::hw {

// Which state a read current destabilises: it flows in the write direction AP -> P (the AP MTJs
// are disturbed towards P) or P -> AP.
enum class ReadPolarity { ApToP, PToAp };

struct CrossbarFreeLayer {
  double delta_300K = 60.0;            // thermal stability factor at 300 K
  double temperature_K = 300.0;
  double ic0_ap_to_p_A = 38e-6;        // critical current of the AP -> P write
  double ic0_p_to_ap_A = 76e-6;        // critical current of the P -> AP write
  double precession_time_s = 0.87e-9;  // tau_D at 300 K
  double curie_temperature_K = 0;      // T_c of (C1); 0: M_s and K_i constant
  ReadPolarity read_polarity = ReadPolarity::ApToP;
};

// m(T) of (C1): M_s(T) / M_s(300 K), 1 without a Curie temperature.
double crossbar_ms_ratio(const CrossbarFreeLayer& f);
// (C1)
double crossbar_delta(const CrossbarFreeLayer& f);

// (C2, C3): switching and staying probabilities of a pulse at reduced current i (>= 0) for
// t_p / tau_D, barrier delta. Both are computed (switched = absorbed flux, stayed = mass left), so
// neither loses digits when the other is near 1.
struct FpResult {
  double switched = 0, stayed = 1;
};
FpResult fokker_planck_switching(double delta, double i, double t_over_tau_d);

// (C6, C7) at an operating point: read-disturb probability per read of a P and of an AP MTJ (one
// of them 0, by the polarity) from the cell read currents, and the write error per pulse per
// direction.
struct CrossbarRates {
  double read_disturb_p = 0, read_disturb_ap = 0;
  double write_error_to_p = 0, write_error_to_ap = 0;
};
CrossbarRates crossbar_rates(const CrossbarFreeLayer& f, double read_current_p_A, double read_current_ap_A,
                             double read_pulse_s, double write_current_A, double write_pulse_s);

}  // namespace bayescim::hw
