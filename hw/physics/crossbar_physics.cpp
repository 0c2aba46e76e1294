#include "hw/physics/crossbar_physics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "hw/physics/rng.h"

namespace bayescim::hw {

CrossbarPhysics::CrossbarPhysics(const CellParams& p)
    : g_p_(1.0 / (p.r_p_ohm + p.r_access_ohm)),
      g_ap_(1.0 / (p.r_p_ohm * (1.0 + p.tmr) + p.r_access_ohm)),
      v_(p.v_cell()),
      vs_(p.v_read_V) {}

CrossbarPhysics::CrossbarPhysics(const CellParams& p, double g_p, double g_ap)
    : g_p_(g_p), g_ap_(g_ap), v_(p.v_cell()), vs_(p.v_read_V) {}

MeanConductances mean_conductances(const CellParams& c, const CellVariation& v) {
  const CrossbarPhysics nominal(c);
  if (v.r_p_sigma_log == 0 && v.tmr_sigma_rel == 0) return {nominal.g_p(), nominal.g_ap()};
  constexpr int kHalf = 400;  // nodes at z = k h, |k| <= 400, h = 0.02
  constexpr double h = 0.02;
  std::vector<double> w(2 * kHalf + 1);
  double norm = 0;
  for (int k = -kHalf; k <= kHalf; ++k) norm += w[static_cast<std::size_t>(k + kHalf)] = std::exp(-0.5 * (k * h) * (k * h));
  for (double& x : w) x /= norm;  // discrete normal weights (the trapezoid rule; the ends are ~1e-14)
  // The TMR factor's mean 1 / (r (1 + t) + R_T) needs the joint; E over z2 for each z1.
  double gp = 0, gap = 0;
  for (int i = -kHalf; i <= kHalf; ++i) {
    const double r = c.r_p_ohm * std::exp(v.r_p_sigma_log * i * h);
    const double wi = w[static_cast<std::size_t>(i + kHalf)];
    gp += wi / (r + c.r_access_ohm);
    if (v.tmr_sigma_rel == 0) {
      gap += wi / (r * (1.0 + c.tmr) + c.r_access_ohm);
      continue;
    }
    double inner = 0;
    for (int j = -kHalf; j <= kHalf; ++j) {
      const double tmr = std::max(0.0, c.tmr * (1.0 + v.tmr_sigma_rel * j * h));
      inner += w[static_cast<std::size_t>(j + kHalf)] / (r * (1.0 + tmr) + c.r_access_ohm);
    }
    gap += wi * inner;
  }
  return {gp, gap};
}

double CrossbarPhysics::column_current(int matches, int active_rows) const {
  return v_ * (matches * g_p_ + (active_rows - matches) * g_ap_);
}

double CrossbarPhysics::reference_current(int threshold_matches, int active_rows) const {
  return 0.5 * (column_current(threshold_matches - 1, active_rows) + column_current(threshold_matches, active_rows));
}

int CrossbarPhysics::ideal_adc(double current, int active_rows) const {
  const double m = (current / v_ - active_rows * g_ap_) / (g_p_ - g_ap_);
  return std::clamp(static_cast<int>(std::lround(m)), 0, active_rows);
}

double gaussian(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  const double u1 = 1.0 - uniform01(hash_key(seed, a, b, 2 * c));
  const double u2 = uniform01(hash_key(seed, a, b, 2 * c + 1));
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

MtjDevice mtj_device(const CellParams& c, const CellVariation& v, std::uint64_t seed, std::uint64_t id) {
  constexpr std::uint64_t kSalt = 0xce11'0000'0000'0000ULL;
  MtjDevice d;
  const double u = uniform01(hash_key(seed, kSalt, id, 0));
  if (u < v.stuck_p_rate) d.stuck = MtjDevice::Stuck::P;
  else if (u < v.stuck_p_rate + v.stuck_ap_rate) d.stuck = MtjDevice::Stuck::AP;
  d.r_p = c.r_p_ohm * std::exp(v.r_p_sigma_log * gaussian(seed, kSalt + 1, id, 0));
  const double tmr = std::max(0.0, c.tmr * (1.0 + v.tmr_sigma_rel * gaussian(seed, kSalt + 2, id, 0)));
  d.r_ap = d.r_p * (1.0 + tmr);
  return d;
}

double mtj_conductance(const CellParams& c, const CellVariation& v, std::uint64_t seed, std::uint64_t id,
                       bool programmed_p) {
  const MtjDevice d = mtj_device(c, v, seed, id);
  return d.conductance(d.state_after_write(programmed_p), c.r_access_ohm);
}

int write_attempts(std::uint64_t seed, std::uint64_t id, double wer, bool verify, int max_attempts, bool* ok) {
  constexpr std::uint64_t kSalt = 0x3717'0000'0000'0000ULL;
  const int limit = verify ? std::max(1, max_attempts) : 1;
  for (int k = 0; k < limit; ++k)
    if (wer <= 0 || uniform01(hash_key(seed, kSalt, id, static_cast<std::uint64_t>(k))) >= wer) {
      *ok = true;
      return k + 1;
    }
  *ok = false;
  return limit;
}

}  // namespace bayescim::hw
