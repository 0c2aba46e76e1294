#include "hw/physics/stochastic_mtj.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#include "hw/physics/rng.h"

namespace bayescim::hw {

namespace {

std::string num(double v, const char* fmt = "%.4g") {
  char b[40];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

// Bisection for the x in [lo, hi] where the non-decreasing f(x) reaches target (f(lo) <= target <= f(hi)).
template <class F>
double bisect(F f, double lo, double hi, double target) {
  for (int k = 0; k < 200 && hi - lo > 1e-9 * std::max(std::abs(hi), 1e-30); ++k) {
    const double mid = 0.5 * (lo + hi);
    (f(mid) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

std::string StochasticMtjParams::model_name() const {
  return table ? "macrospin table (eq. T1-T3)" : "thermal activation (eq. S1)";
}

double thermal_stability(const StochasticMtjParams& p) { return p.delta_300K * 300.0 / p.temperature_K; }

double switching_probability(const StochasticMtjParams& p, double current_A, double pulse_s) {
  const double tau = p.tau0_s * std::exp(thermal_stability(p) * (1.0 - current_A / p.ic0_A));
  return 1.0 - std::exp(-pulse_s / tau);
}

double max_drive_current(const StochasticMtjParams& p) {
  if (p.v_junction_max_V <= 0.0) return std::numeric_limits<double>::infinity();
  return p.v_junction_max_V / (p.r_p_ohm * (1.0 + p.tmr));
}

double switching_probability_model(const StochasticMtjParams& p, double current_A, double pulse_s) {
  if (p.table) return p.table->p_at(current_A, pulse_s, p.temperature_K);
  return switching_probability(p, current_A, pulse_s);
}

void reachable_range(const StochasticMtjParams& p, double* lo, double* hi) {
  const double imax = max_drive_current(p);
  if (p.table) {
    const double i = std::min(imax, p.table->max_current());
    *lo = p.table->p_at(0.0, p.write_pulse_s, p.temperature_K);
    *hi = p.table->p_at(i, p.table->max_pulse(), p.temperature_K);
  } else {
    *lo = 0.0;
    *hi = switching_probability(p, std::min(imax, p.ic0_A), p.write_pulse_s);
  }
}

double drive_current_for(const StochasticMtjParams& p, double target_p) {
  if (!(target_p > 0.0 && target_p < 1.0))
    throw std::domain_error("target switching probability must be in (0, 1), got " + std::to_string(target_p));
  const double tau = -p.write_pulse_s / std::log1p(-target_p);
  const double i = p.ic0_A * (1.0 - std::log(tau / p.tau0_s) / thermal_stability(p));
  const double imax = max_drive_current(p);
  if (!(i > 0.0) || i >= p.ic0_A || i > imax) {
    double lo = 0, hi = 0;
    reachable_range(p, &lo, &hi);
    throw std::domain_error("target p = " + num(target_p) + " is outside what the thermally activated model " +
                            "(eq. S1) of this device reaches with a " + num(p.write_pulse_s * 1e9) +
                            " ns pulse: p in (0, " + num(hi) + ") (below I_c0" +
                            (std::isfinite(imax) ? " and the junction-voltage limit" : std::string()) +
                            "); give the device an llg section and a switching table for precessional writes");
  }
  return i;
}

namespace {

DriveChoice choose_drive_here(const StochasticMtjParams& p, double target_p);

}  // namespace

DriveChoice choose_drive(const StochasticMtjParams& p, double target_p) {
  if (p.calibration_temperature_K <= 0.0 || p.calibration_temperature_K == p.temperature_K)
    return choose_drive_here(p, target_p);
  StochasticMtjParams cal = p;  // eq. D3: designed at the calibration temperature, run at temperature_K
  cal.temperature_K = p.calibration_temperature_K;
  DriveChoice d = choose_drive_here(cal, target_p);
  if (d.p > 0.0 && d.p < 1.0) d.p = switching_probability_model(p, d.current_A, d.pulse_s);
  return d;
}

namespace {

DriveChoice choose_drive_here(const StochasticMtjParams& p, double target_p) {
  DriveChoice d;
  d.pulse_s = p.write_pulse_s;
  if (target_p <= 0.0) return d;  // no write pulse: never switches
  if (target_p >= 1.0) {          // a deterministic write: the reset current (no model needed)
    d.current_A = p.reset_current_A;
    d.p = 1.0;
    return d;
  }
  if (!p.table) {
    d.current_A = drive_current_for(p, target_p);
    d.p = switching_probability(p, d.current_A, d.pulse_s);
    return d;
  }
  const SwitchingTable& t = *p.table;
  const double imax = std::min(max_drive_current(p), t.max_current());
  double lo = 0, hi = 0;
  reachable_range(p, &lo, &hi);
  if (target_p < lo || target_p > hi)
    throw std::domain_error("target p = " + num(target_p) + " is outside what this device reaches: p in [" + num(lo) +
                            ", " + num(hi) + "] (currents up to " + num(imax * 1e6) +
                            " uA, the junction-voltage limit or the table's largest; pulses " +
                            num(p.write_pulse_s * 1e9) + " to " + num(t.max_pulse() * 1e9) + " ns)");
  const double temp = p.temperature_K;
  if (t.p_at(imax, p.write_pulse_s, temp) >= target_p) {  // by current at the nominal pulse
    d.current_A = bisect([&](double i) { return t.p_at(i, p.write_pulse_s, temp); }, 0.0, imax, target_p);
  } else {  // by pulse width at the largest current (in ln t, as the table interpolates)
    d.current_A = imax;
    d.pulse_stretched = true;
    const double x = bisect([&](double lt) { return t.p_at(imax, std::exp(lt), temp); }, std::log(p.write_pulse_s),
                            std::log(t.max_pulse()), target_p);
    d.pulse_s = std::min(std::exp(x), t.max_pulse());
  }
  d.p = t.p_at(d.current_A, d.pulse_s, temp);
  return d;
}

}  // namespace

double dp_dic0(const StochasticMtjParams& p, const DriveChoice& drive) {
  if (drive.p <= 0.0 || drive.p >= 1.0 || drive.current_A <= 0.0) return 0.0;
  constexpr double e = 1e-3;
  // p of a module whose I_c0 is I_c0 * s.
  auto p_at_scale = [&](double s) {
    if (p.table) return p.table->p_at(drive.current_A / s, drive.pulse_s, p.temperature_K);
    StochasticMtjParams d = p;
    d.ic0_A = p.ic0_A * s;
    return switching_probability(d, drive.current_A, drive.pulse_s);
  };
  const bool room_below = !p.table || drive.current_A / (1.0 - e) <= p.table->max_current();
  const double lo = room_below ? 1.0 - e : 1.0, hi = 1.0 + e;
  return (p_at_scale(hi) - p_at_scale(lo)) / ((hi - lo) * p.ic0_A);
}

double reset_failure_probability(const StochasticMtjParams& p) {
  if (!p.table) return 0.0;
  return 1.0 - p.table->p_at(p.reset_current_A, p.reset_pulse_s, p.temperature_K);
}

BitPhaseEnergy bit_energy(const StochasticMtjParams& p, const DriveChoice& drive, bool bit) {
  const double r_ap = p.r_p_ohm * (1.0 + p.tmr);
  BitPhaseEnergy e;
  e.reset_J = p.supply_V * p.reset_current_A * p.reset_pulse_s;
  e.write_J = p.supply_V * drive.current_A * drive.pulse_s;
  e.driver_J = p.driver_bias_ratio * e.write_J;
  e.read_J = p.v_read_V * p.v_read_V / (bit ? r_ap : p.r_p_ohm) * p.read_pulse_s;
  e.sa_J = p.sa_energy_J;
  e.latch_J = p.latch_energy_J;
  return e;
}

BitPhaseEnergy bit_energy(const StochasticMtjParams& p, double drive_A, bool bit) {
  DriveChoice d;
  d.current_A = drive_A;
  d.pulse_s = p.write_pulse_s;
  return bit_energy(p, d, bit);
}

double bit_latency(const StochasticMtjParams& p, double write_pulse_s) {
  return p.reset_pulse_s + write_pulse_s + p.relax_s + p.read_pulse_s + p.sa_latency_s;
}
double bit_latency(const StochasticMtjParams& p) { return bit_latency(p, p.write_pulse_s); }

std::vector<double> module_probabilities(const StochasticMtjParams& p, const MtjVariation& v, const DriveChoice& drive,
                                         std::size_t n, std::uint64_t seed) {
  std::vector<double> out(n, drive.p);
  if (!v.any() || drive.p <= 0.0 || drive.p >= 1.0) return out;
  auto gauss = [&](std::size_t i, std::uint64_t which) {  // Box-Muller on two counter-based uniforms
    const double u1 = 1.0 - uniform01(hash_key(seed, 0x5157'4ec0'0000'0000ULL + which, i, 1));
    const double u2 = uniform01(hash_key(seed, 0x5157'4ec0'0000'0000ULL + which, i, 2));
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  };
  for (std::size_t i = 0; i < n; ++i) {
    // Only a nonzero sigma draws its channel, so adding one keeps the others' modules as they were.
    const double area_scale = v.size_sigma_rel > 0 ? std::max(1e-6, 1.0 + v.size_sigma_rel * gauss(i, 2)) : 1.0;
    const double delta_scale = std::max(0.0, 1.0 + v.delta_sigma_rel * gauss(i, 0)) * area_scale;
    const double ic0_scale = std::max(1e-6, 1.0 + v.ic0_sigma_rel * gauss(i, 1)) * area_scale;
    if (p.table) {
      const SwitchingTable& t = *p.table;
      const double temp =
          std::clamp(p.temperature_K / std::max(delta_scale, 1e-6), t.temperatures_K.front(), t.temperatures_K.back());
      out[i] = t.p_at(std::min(drive.current_A / ic0_scale, t.max_current()),
                      std::clamp(drive.pulse_s, t.min_pulse(), t.max_pulse()), temp);
    } else {
      StochasticMtjParams d = p;
      d.delta_300K = p.delta_300K * delta_scale;
      d.ic0_A = p.ic0_A * ic0_scale;
      out[i] = switching_probability(d, drive.current_A, drive.pulse_s);
    }
  }
  return out;
}

std::vector<double> module_probabilities(const StochasticMtjParams& p, const MtjVariation& v, double drive_A,
                                         double nominal_p, std::size_t n, std::uint64_t seed) {
  DriveChoice d;
  d.current_A = drive_A;
  d.pulse_s = p.write_pulse_s;
  d.p = nominal_p;
  return module_probabilities(p, v, d, n, seed);
}

}  // namespace bayescim::hw
