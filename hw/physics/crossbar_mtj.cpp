#include "hw/physics/crossbar_mtj.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace bayescim::hw {

double crossbar_ms_ratio(const CrossbarFreeLayer& f) {
  if (f.curie_temperature_K <= 0) return 1.0;
  const auto bloch = [&](double t) { return 1.0 - std::pow(t / f.curie_temperature_K, 1.5); };
  return bloch(f.temperature_K) / bloch(300.0);
}

double crossbar_delta(const CrossbarFreeLayer& f) {
  const double m = crossbar_ms_ratio(f);
  return f.delta_300K * 300.0 / f.temperature_K * m * m;
}

namespace {

// Bernoulli function x / (e^x - 1) of the Scharfetter-Gummel flux.
double bernoulli(double x) {
  if (std::fabs(x) < 1e-8) return 1.0 - 0.5 * x;
  return x / std::expm1(x);
}

// The grid of s = 1 - cos(theta) in [1e-24, 1]: geometric (ratio 1.2) up to 4e-3, where the drift
// and the noise both scale with s and the precessional tail lives, then uniform (step 2e-3) to the
// equator. (Halving both spacings moves the shipped rates by less than 1 %.)
std::vector<double> fp_grid() {
  std::vector<double> s;
  for (double x = 1e-24; x < 4e-3; x *= 1.2) s.push_back(x);
  const double start = s.back();
  const int n = static_cast<int>(std::ceil((1.0 - start) / 2e-3));
  for (int k = 1; k <= n; ++k) s.push_back(start + (1.0 - start) * k / n);
  return s;
}

// One backward-Euler solve of (C2) with `steps` equal steps.
FpResult fp_solve(double delta, double i, double t_over_tau_d, int steps) {
  static const std::vector<double> s = fp_grid();
  const std::size_t n = s.size() - 1;  // node n (s = 1) is absorbing
  // Time in units of tau_D: D = s (2 - s) / (2 Delta) (tau_N = Delta tau_D), U = Delta (s (2 - s) - 2 i s).
  const auto u = [&](double x) { return delta * (x * (2.0 - x) - 2.0 * i * x); };
  std::vector<double> a(n), b(n), vol(n), w(n);
  for (std::size_t k = 0; k < n; ++k) {
    const double h = s[k + 1] - s[k], mid = 0.5 * (s[k] + s[k + 1]);
    const double d = mid * (2.0 - mid) / (2.0 * delta) / h;
    const double du = u(s[k + 1]) - u(s[k]);
    a[k] = d * bernoulli(du);   // J_{k+1/2} = a_k W_k - b_k W_{k+1}
    b[k] = d * bernoulli(-du);
    vol[k] = 0.5 * (s[k + 1] - (k > 0 ? s[k - 1] : s[0]));
  }
  // Boltzmann in the starting well at zero current (C2 with i = 0).
  double mass = 0;
  for (std::size_t k = 0; k < n; ++k) {
    w[k] = std::exp(-delta * s[k] * (2.0 - s[k]));
    mass += vol[k] * w[k];
  }
  for (double& x : w) x /= mass;
  const double dt = t_over_tau_d / steps;
  // The matrix is the same every step: factor it once (Thomas). Row k:
  // (vol/dt + b_{k-1} + a_k) W_k - a_{k-1} W_{k-1} - b_k W_{k+1} = vol/dt W_k^old.
  std::vector<double> inv(n), cp(n), lower(n), c(n);
  for (std::size_t k = 0; k < n; ++k) {
    c[k] = vol[k] / dt;
    lower[k] = k > 0 ? -a[k - 1] : 0.0;
    const double m = c[k] + a[k] + (k > 0 ? b[k - 1] : 0.0) - (k > 0 ? lower[k] * cp[k - 1] : 0.0);
    inv[k] = 1.0 / m;
    cp[k] = k + 1 < n ? -b[k] * inv[k] : 0.0;
  }
  FpResult r;
  r.switched = 0;
  for (int step = 0; step < steps; ++step) {
    double prev = 0;
    for (std::size_t k = 0; k < n; ++k) prev = w[k] = (c[k] * w[k] - lower[k] * prev) * inv[k];
    for (std::size_t k = n - 1; k-- > 0;) w[k] -= cp[k] * w[k + 1];
    r.switched += dt * a[n - 1] * w[n - 1];  // the flux into the equator
  }
  double left = 0;
  for (std::size_t k = 0; k < n; ++k) left += vol[k] * w[k];
  r.stayed = left;
  return r;
}

}  // namespace

FpResult fokker_planck_switching(double delta, double i, double t_over_tau_d) {
  if (t_over_tau_d <= 0) return {};
  // Backward Euler is first order in the step: solve with at least 100 steps per tau_D and with
  // twice as many, and extrapolate (Richardson) the logarithms of both probabilities, whose tails
  // are exponents. Against 1000 steps per tau_D unextrapolated, the shipped rates agree within 10 %.
  const int n = std::max(100, static_cast<int>(std::ceil(100.0 * t_over_tau_d)));
  const FpResult coarse = fp_solve(delta, i, t_over_tau_d, n), fine = fp_solve(delta, i, t_over_tau_d, 2 * n);
  const auto extrapolate = [](double c, double f) {
    if (c <= 0 || f <= 0) return f;
    return std::clamp(std::exp(2.0 * std::log(f) - std::log(c)), 0.0, 1.0);
  };
  return {extrapolate(coarse.switched, fine.switched), extrapolate(coarse.stayed, fine.stayed)};
}

CrossbarRates crossbar_rates(const CrossbarFreeLayer& f, double read_current_p_A, double read_current_ap_A,
                             double read_pulse_s, double write_current_A, double write_pulse_s) {
  const double delta = crossbar_delta(f), m = crossbar_ms_ratio(f);
  // (C1): I_c0 ~ m^2, tau_D ~ 1 / m.
  const auto fp = [&](double current, double ic0, double pulse) {
    return fokker_planck_switching(delta, current / (ic0 * m * m), pulse * m / f.precession_time_s);
  };
  CrossbarRates r;
  if (f.read_polarity == ReadPolarity::ApToP)
    r.read_disturb_ap = fp(read_current_ap_A, f.ic0_ap_to_p_A, read_pulse_s).switched;
  else
    r.read_disturb_p = fp(read_current_p_A, f.ic0_p_to_ap_A, read_pulse_s).switched;
  r.write_error_to_p = fp(write_current_A, f.ic0_ap_to_p_A, write_pulse_s).stayed;
  r.write_error_to_ap = fp(write_current_A, f.ic0_p_to_ap_A, write_pulse_s).stayed;
  return r;
}

}  // namespace bayescim::hw
