#include "hw/physics/crossbar_physics.h"

#include <algorithm>
#include <cmath>

#include "hw/physics/rng.h"

namespace bayescim::hw {

CrossbarPhysics::CrossbarPhysics(const CellParams& p)
    : g_p_(1.0 / (p.r_p_ohm + p.r_access_ohm)),
      g_ap_(1.0 / (p.r_p_ohm * (1.0 + p.tmr) + p.r_access_ohm)),
      v_(p.v_cell()),
      vs_(p.v_read_V) {}

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
