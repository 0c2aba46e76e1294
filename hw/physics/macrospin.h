// Macrospin (single-domain) solver of the stochastic MTJ's free layer: the stochastic
// Landau-Lifshitz-Gilbert equation with Slonczewski spin-transfer torque (issue 19, items 1 and 8).
// Plain C++, no SystemC. Used through `bayescim device` (sim/device_command.h), which tabulates
// p(I, t_p, T) for the dropout unit's run-time model (hw/physics/switching_table.h); a run never
// calls the solver.
//
// References
//   [Brown63]  W. F. Brown Jr., "Thermal fluctuations of a single-domain particle",
//              Phys. Rev. 130, 1677 (1963): thermal field, Fokker-Planck equation, escape time.
//   [Slon96]   J. C. Slonczewski, "Current-driven excitation of magnetic multilayers",
//              J. Magn. Magn. Mater. 159, L1 (1996): the damping-like spin-transfer torque.
//   [Sun00]    J. Z. Sun, "Spin-current interaction with a monodomain magnetic body: a model
//              study", Phys. Rev. B 62, 570 (2000): critical current of the macrospin.
//   [GPL98]    J. L. Garcia-Palacios, F. J. Lazaro, "Langevin-dynamics study of the dynamical
//              properties of small magnetic particles", Phys. Rev. B 58, 14937 (1998):
//              stochastic LL equation in both terms, Stratonovich interpretation, Heun scheme.
//
// Geometry and energy (SI; fields H in A/m, mu0 H in T)
//   Free layer: an elliptical disc, full axes a (along x) and b (along y), thickness t_f:
//     area A = pi a b / 4,  V = A t_f.                                                (M1)
//   Energy density of the unit magnetisation m (interfacial anisotropy K_i in J/m^2, demag
//   factors N = (N_x, N_y, N_z), N_x + N_y + N_z = 1):
//     e(m) = -(K_i / t_f) m_z^2 + (mu0 M_s^2 / 2)(N_x m_x^2 + N_y m_y^2 + N_z m_z^2).  (M2)
//   Effective field H = -(1 / (mu0 M_s)) de/dm:
//     H = H_i m_z z - M_s (N_x m_x, N_y m_y, N_z m_z),  H_i = 2 K_i / (mu0 M_s t_f).   (M3)
//   For a perpendicular free layer the barrier is crossed through the in-plane easy axis
//   (the smaller of N_x, N_y; N_x if x is the long axis), and
//     H_k,eff = 2 K_i / (mu0 M_s t_f) - (N_z - min(N_x, N_y)) M_s.                     (M4)
//   For a circular disc (N_x = N_y) (M2) is const + K_eff sin^2(theta),
//   K_eff = mu0 M_s H_k,eff / 2, and the barrier is E_b = K_eff V, so
//     Delta = E_b / (k_B T) = mu0 M_s H_k,eff V / (2 k_B T).                          (M5)
//
// Dynamics (Landau-Lifshitz form of the Gilbert equation, [Brown63], [Slon96])
//   Gilbert form with the damping-like Slonczewski torque [Slon96] and the thermal field h:
//     dm/dt = -gamma mu0 m x (H + h) + alpha m x dm/dt - gamma mu0 a_J m x (m x p)
//   Solved for dm/dt (m . dm/dt = 0), exactly:
//     dm/dt = -gamma' [ m x h_prec + m x (m x h_damp) ],  gamma' = gamma mu0 / (1 + alpha^2),
//     h_prec = H + h - alpha a_J p,   h_damp = alpha (H + h) + a_J p.                  (M6)
//   (the -alpha a_J p part of h_prec is the small field-like term the conversion produces; it
//   only changes the precession). gamma = 1.76e11 rad/(s T) (free-electron value, CODATA
//   gamma_e = 1.7609e11).
//   Spin-torque amplitude in field units, with the current density J = I / A [Slon96, Sun00]:
//     a_J = hbar P J / (2 e mu0 M_s t_f).                                              (M7)
//   The angular dependence of the spin-transfer efficiency (Slonczewski's g(theta)) is
//   neglected: P enters as a constant efficiency, as in [Sun00].
//   Sign convention: the reference layer is magnetised along +z, m = +z is P (the reset state),
//   and positive current is the P -> AP write direction (electrons flowing from the free layer
//   into the reference layer): p = -z for I > 0, so the torque pushes m from +z towards -z.
//   The isotropic part -min(N_x, N_y) M_s m of (M3) is dropped in the solver: m x m = 0, so it
//   does not change the dynamics, and removing it lowers |H| and with it the precession the
//   time step must resolve.
//
// Critical current (T = 0, circular disc [Sun00]). With H = H_k,eff m_z z (after dropping the
// isotropic part) and p = -z, (M6) gives for the polar angle theta of m
//     d theta / dt = gamma' (a_J - alpha H_k,eff cos theta) sin theta,                 (M8)
//   so +z becomes unstable when a_J > alpha H_k,eff:
//     J_c0 = 2 e alpha mu0 M_s t_f H_k,eff / (hbar P),
//     I_c0 = J_c0 A = 2 e alpha mu0 M_s H_k,eff V / (hbar P) = 4 e alpha E_b / (hbar P).  (M9)
//
// Thermal field [Brown63]: each component of h is Gaussian, fresh every step, with
//     <h_i^2> = 2 alpha k_B T / (gamma mu0^2 M_s V dt)  (A/m)^2                       (M10)
//   with the Gilbert gamma (not gamma'); h enters both terms of (M6) [GPL98]. Written with
//   gamma mu0 (the gyromagnetic ratio in field units, m/(A s)) and mu0 M_s (the magnetisation in
//   tesla) this is 2 alpha k_B T / ((gamma mu0)(mu0 M_s) V dt). Its polar part gives Brown's
//   Fokker-Planck equation with the Neel time tau_N = (1 + alpha^2) mu0 M_s V / (2 alpha gamma mu0 k_B T),
//   whose stationary density is the Boltzmann density of (M2).
//
// Integrator: stochastic Heun (predictor-corrector, Stratonovich [GPL98]) with the same thermal
// field in both stages; m is renormalised to |m| = 1 after the predictor and after each step.
// Time step (unless given): dt = min(1 ps, 0.02 / (gamma mu0 H_max)),
//     H_max = max(H_k,eff, |N_x - N_y| M_s) + (1 + alpha) |a_J|,                        (M11)
//   i.e. at most 0.02 rad of precession per step in the largest deterministic field.
//
// Initial state: theta is drawn from the Boltzmann density of the uniaxial energy restricted to
// the P well, p(theta) ~ sin(theta) exp(-Delta sin^2 theta), 0 <= theta < pi/2, phi uniform
// (exact for a circular disc; for an ellipse it ignores the in-plane anisotropy). With T = 0 or
// a given initial tilt, m starts at that tilt from +z (phi = 0).
//
// Temperature: M_s and K_i are held constant (no Callen-Callen scaling: no sourced Curie
// temperature for this stack), so Delta ~ 1/T, the same law as eq. S2 of the compact model.
//
// Early end of the relax (M12, optional, LlgRunOptions::settle_mz): once |m_z| >= settle_mz after
// the pulse the trial's outcome is taken as decided; from |m_z| = 0.9 a return over the barrier
// needs 0.81 Delta k_B T.
//
// Seeding: trial i of seed s draws its initial state and every thermal field from
// rng.h (hash_key(s, i, stream, 0) then a SplitMix64 sequence), so a trajectory depends only on
// (seed, trial index), not on the number of samples or their order.
#pragma once
#include <cstdint>

namespace bayescim::hw {

namespace llg_const {
constexpr double kMu0 = 1.25663706212e-6;        // T m / A (CODATA 2018)
constexpr double kBoltzmann = 1.380649e-23;      // J / K (SI exact)
constexpr double kElectron = 1.602176634e-19;    // C (SI exact)
constexpr double kHbar = 1.054571817e-34;        // J s (SI exact)
constexpr double kGamma = 1.76e11;               // rad / (s T), free-electron gyromagnetic ratio
}  // namespace llg_const

struct LlgParams {
  // Defaults: the example 50 nm circular perpendicular MTJ of issue 19 (values from the issue
  // text; its R_P = RA / area = 5 kOhm matches r_p_ohm of configs/devices/uta_stochastic_mtj.yaml).
  double a_m = 50e-9;            // ellipse full axis along x
  double b_m = 50e-9;            // ellipse full axis along y
  double t_f_m = 1.1e-9;         // free-layer thickness
  double ms_A_per_m = 1.2e6;     // saturation magnetisation
  double ki_J_per_m2 = 1.0056e-3;  // interfacial anisotropy energy density
  double alpha = 0.03;           // Gilbert damping
  double polarisation = 0.6;     // spin polarisation P
  double nx = 0.0106, ny = 0.0106, nz = 0.9788;  // demag factors
  double ra_ohm_m2 = 9.818e-12;  // resistance-area product (P state)
  double temperature_K = 300.0;
};

double llg_area(const LlgParams& p);     // (M1), m^2
double llg_volume(const LlgParams& p);   // (M1), m^3
double llg_hk_eff(const LlgParams& p);   // (M4), A/m
// (M5); +infinity at T = 0.
double llg_delta(const LlgParams& p);
double llg_ic0(const LlgParams& p);      // (M9), A
double llg_rp(const LlgParams& p);       // RA / area, Ohm
// (M7), A/m, for a current I (A).
double llg_aj(const LlgParams& p, double current_A);
// (M11), s.
double llg_default_dt(const LlgParams& p, double current_A);
// Brown's Neel time tau_N = (1 + alpha^2) mu0 M_s V / (2 alpha gamma mu0 k_B T), s.
double llg_tau_n(const LlgParams& p);

// The solver's version, written into every table it makes (bump it when results change).
constexpr const char* kLlgSolverVersion = "macrospin 2 (stochastic Heun, Stratonovich; M1-M12)";

struct LlgRunOptions {
  double dt_s = 0.0;               // 0: (M11)
  double initial_tilt_rad = -1.0;  // < 0: Boltzmann initial state (T > 0); else fixed tilt
  // (M12) switching_probability_llg only: the relax ends early once |m_z| >= settle_mz (0: never).
  // From |m_z| = 0.9 a return over the barrier needs 0.81 Delta k_B T, so the read is decided.
  double settle_mz = 0.0;
};

// Write-error experiment (also the reset, by symmetry: with p constant, an AP -> P reset at -I is
// the mirror image of the P -> AP write at +I, so it fails with 1 - p(I, t_reset)): each trial
// starts in the P well (see the initial state above), gets `pulse_s` of current_A then `relax_s`
// at zero current; a bit is switched if m_z < 0 at the end. Returns the fraction switched;
// *switched_out (if given) receives the count.
double switching_probability_llg(const LlgParams& p, double current_A, double pulse_s, double relax_s,
                                 int samples, std::uint64_t seed, int* switched_out = nullptr,
                                 const LlgRunOptions& opt = {});

struct LlgPassage {
  double mean_s = 0.0;     // mean first-passage time over the trials that crossed
  double stderr_s = 0.0;   // its standard error (sample std / sqrt(crossed))
  int crossed = 0;         // trials with m_z < 0 before t_max
  int samples = 0;
};
// First time m_z < 0 of each trial at a constant current (0 for the thermal escape test),
// trials capped at t_max_s. A trial that does not cross is counted in samples, not in the mean.
// A crossing seen at a step is timed by linear interpolation of m_z; with T > 0 a step that
// stays above 0 still counts as a crossing (at its midpoint) with the Brownian-bridge
// probability exp(-2 z_k z_k+1 tau_N / dt) (m_z diffuses at rate 1/tau_N near m_z = 0), which
// removes the O(sqrt(dt)) lengthening of a passage checked only at the steps.
LlgPassage first_passage_llg(const LlgParams& p, double current_A, double t_max_s, int samples,
                             std::uint64_t seed, const LlgRunOptions& opt = {});

struct LlgMoments {
  double mean_mz = 0.0;        // time- and trial-averaged m_z
  double mean_sin2 = 0.0;      // time- and trial-averaged sin^2(theta) = 1 - m_z^2
  long long steps_averaged = 0;
};
// Equilibrium moments at a constant current (0 for the Boltzmann test): each trial starts as
// `opt` says, runs burn_in_s unrecorded, then averages over average_s (every step).
LlgMoments equilibrium_moments_llg(const LlgParams& p, double current_A, double burn_in_s, double average_s,
                                   int samples, std::uint64_t seed, const LlgRunOptions& opt = {});

}  // namespace bayescim::hw
