#include "hw/physics/macrospin.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "hw/physics/rng.h"

namespace bayescim::hw {

using namespace llg_const;

namespace {

constexpr double kPi = 3.14159265358979323846;

struct V3 {
  double x, y, z;
};
inline V3 operator+(V3 a, V3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline V3 operator*(double s, V3 a) { return {s * a.x, s * a.y, s * a.z}; }
inline V3 cross(V3 a, V3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline V3 normalised(V3 a) {
  const double r = 1.0 / std::sqrt(a.x * a.x + a.y * a.y + a.z * a.z);
  return r * a;
}

// A SplitMix64 sequence started from a counter-based key (rng.h): draw k of trial i depends only
// on (seed, i, stream, k).
class TrialRng {
 public:
  TrialRng(std::uint64_t seed, std::uint64_t trial, std::uint64_t stream)
      : state_(hash_key(seed, trial, stream, 0)) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return splitmix64(state_);
  }
  double uniform() { return uniform01(next()); }
  // Standard normal (Box-Muller, both values used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * kPi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * kPi * u2);
  }

 private:
  std::uint64_t state_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

constexpr std::uint64_t kStreamInit = 1;
constexpr std::uint64_t kStreamField = 2;
constexpr std::uint64_t kStreamBridge = 3;

// The per-run constants of (M3), (M6), (M7), (M10), with the isotropic part dropped.
struct Model {
  double gp;           // gamma' = gamma mu0 / (1 + alpha^2)
  double alpha;
  double kx, ky, kz;   // H_det = (kx m_x, ky m_y, kz m_z)
  double sigma;        // thermal field std per component (A/m), 0 at T = 0
  double dt;
};

Model make_model(const LlgParams& p, double dt) {
  Model m;
  m.alpha = p.alpha;
  m.gp = kGamma * kMu0 / (1.0 + p.alpha * p.alpha);
  const double n0 = std::min(p.nx, p.ny);
  const double hi = 2.0 * p.ki_J_per_m2 / (kMu0 * p.ms_A_per_m * p.t_f_m);
  m.kx = -(p.nx - n0) * p.ms_A_per_m;
  m.ky = -(p.ny - n0) * p.ms_A_per_m;
  m.kz = hi - (p.nz - n0) * p.ms_A_per_m;
  m.dt = dt;
  m.sigma = p.temperature_K > 0.0
                ? std::sqrt(2.0 * p.alpha * kBoltzmann * p.temperature_K /
                            (kGamma * kMu0 * kMu0 * p.ms_A_per_m * llg_volume(p) * dt))
                : 0.0;
  return m;
}

// dm/dt of (M6) for spin-torque amplitude aj along p = -z (aj > 0 for I > 0) and thermal field h.
inline V3 rhs(const Model& md, V3 m, double aj, V3 h) {
  const V3 htot{md.kx * m.x + h.x, md.ky * m.y + h.y, md.kz * m.z + h.z};
  // p = -z: h_prec = H + h + alpha aj z, h_damp = alpha (H + h) - aj z.
  const V3 hp{htot.x, htot.y, htot.z + md.alpha * aj};
  const V3 hd{md.alpha * htot.x, md.alpha * htot.y, md.alpha * htot.z - aj};
  const V3 mxhd = cross(m, hd);
  return (-md.gp) * (cross(m, hp) + cross(m, mxhd));
}

// One stochastic Heun step.
inline V3 step(const Model& md, V3 m, double aj, TrialRng& rng) {
  V3 h{0.0, 0.0, 0.0};
  if (md.sigma > 0.0) h = {md.sigma * rng.normal(), md.sigma * rng.normal(), md.sigma * rng.normal()};
  const V3 f0 = rhs(md, m, aj, h);
  const V3 mp = normalised(m + md.dt * f0);
  const V3 f1 = rhs(md, mp, aj, h);
  return normalised(m + (0.5 * md.dt) * (f0 + f1));
}

// Initial state of a trial (see the header).
V3 initial_state(const LlgParams& p, const LlgRunOptions& opt, std::uint64_t seed, std::uint64_t trial) {
  if (opt.initial_tilt_rad >= 0.0) return {std::sin(opt.initial_tilt_rad), 0.0, std::cos(opt.initial_tilt_rad)};
  const double delta = llg_delta(p);
  if (!std::isfinite(delta)) return {0.0, 0.0, 1.0};
  TrialRng rng(seed, trial, kStreamInit);
  // s = 1 - cos(theta) in [0, 1] has density ~ exp(-Delta s (2 - s)) <= exp(-Delta s): sample the
  // truncated exponential exp(-Delta s) and accept with exp(-Delta s (1 - s)).
  double s = 0.0;
  for (;;) {
    const double u = rng.uniform();
    s = delta > 1e-9 ? -std::log1p(-u * (-std::expm1(-delta))) / delta : u;
    if (rng.uniform() < std::exp(-delta * s * (1.0 - s))) break;
  }
  const double cz = 1.0 - s;
  const double sz = std::sqrt(std::max(0.0, 1.0 - cz * cz));
  const double phi = 2.0 * kPi * rng.uniform();
  return {sz * std::cos(phi), sz * std::sin(phi), cz};
}

void check(const LlgParams& p, int samples) {
  if (samples <= 0) throw std::invalid_argument("macrospin: samples must be positive");
  if (!(p.a_m > 0 && p.b_m > 0 && p.t_f_m > 0 && p.ms_A_per_m > 0 && p.alpha > 0 && p.polarisation > 0 &&
        p.temperature_K >= 0))
    throw std::invalid_argument("macrospin: geometry, M_s, alpha and P must be positive, T >= 0");
}

}  // namespace

double llg_area(const LlgParams& p) { return kPi * p.a_m * p.b_m / 4.0; }
double llg_volume(const LlgParams& p) { return llg_area(p) * p.t_f_m; }

double llg_hk_eff(const LlgParams& p) {
  return 2.0 * p.ki_J_per_m2 / (kMu0 * p.ms_A_per_m * p.t_f_m) - (p.nz - std::min(p.nx, p.ny)) * p.ms_A_per_m;
}

double llg_delta(const LlgParams& p) {
  if (p.temperature_K <= 0.0) return std::numeric_limits<double>::infinity();
  return kMu0 * p.ms_A_per_m * llg_hk_eff(p) * llg_volume(p) / (2.0 * kBoltzmann * p.temperature_K);
}

double llg_ic0(const LlgParams& p) {
  return 2.0 * kElectron * p.alpha * kMu0 * p.ms_A_per_m * llg_hk_eff(p) * llg_volume(p) / (kHbar * p.polarisation);
}

double llg_rp(const LlgParams& p) { return p.ra_ohm_m2 / llg_area(p); }

double llg_aj(const LlgParams& p, double current_A) {
  const double j = current_A / llg_area(p);
  return kHbar * p.polarisation * j / (2.0 * kElectron * kMu0 * p.ms_A_per_m * p.t_f_m);
}

double llg_default_dt(const LlgParams& p, double current_A) {
  const double hmax = std::max(std::abs(llg_hk_eff(p)), std::abs(p.nx - p.ny) * p.ms_A_per_m) +
                      (1.0 + p.alpha) * std::abs(llg_aj(p, current_A));
  return std::min(1e-12, 0.02 / (kGamma * kMu0 * hmax));
}

double llg_tau_n(const LlgParams& p) {
  return (1.0 + p.alpha * p.alpha) * kMu0 * p.ms_A_per_m * llg_volume(p) /
         (2.0 * p.alpha * kGamma * kMu0 * kBoltzmann * p.temperature_K);
}

double switching_probability_llg(const LlgParams& p, double current_A, double pulse_s, double relax_s,
                                 int samples, std::uint64_t seed, int* switched_out, const LlgRunOptions& opt) {
  check(p, samples);
  const double dt = opt.dt_s > 0.0 ? opt.dt_s : llg_default_dt(p, current_A);
  const Model md = make_model(p, dt);
  const long n_pulse = std::lround(std::max(0.0, pulse_s) / dt);
  const long n_relax = std::lround(std::max(0.0, relax_s) / dt);
  const double aj = llg_aj(p, current_A);
  int switched = 0;
  for (int i = 0; i < samples; ++i) {
    V3 m = initial_state(p, opt, seed, static_cast<std::uint64_t>(i));
    TrialRng rng(seed, static_cast<std::uint64_t>(i), kStreamField);
    for (long k = 0; k < n_pulse; ++k) m = step(md, m, aj, rng);
    for (long k = 0; k < n_relax; ++k) {
      m = step(md, m, 0.0, rng);
      if (opt.settle_mz > 0.0 && std::abs(m.z) >= opt.settle_mz) break;
    }
    if (m.z < 0.0) ++switched;
  }
  if (switched_out) *switched_out = switched;
  return static_cast<double>(switched) / samples;
}

LlgPassage first_passage_llg(const LlgParams& p, double current_A, double t_max_s, int samples, std::uint64_t seed,
                             const LlgRunOptions& opt) {
  check(p, samples);
  const double dt = opt.dt_s > 0.0 ? opt.dt_s : llg_default_dt(p, current_A);
  const Model md = make_model(p, dt);
  const long n_max = std::lround(t_max_s / dt);
  const double aj = llg_aj(p, current_A);
  // Variance rate of m_z near m_z = 0 from the thermal field: the polar angle diffuses with
  // <d theta^2> = dt / tau_N, and dm_z = -sin(theta) d theta with sin(theta) ~ 1 there.
  const double var_z_step = md.sigma > 0.0 ? dt / llg_tau_n(p) : 0.0;
  LlgPassage r;
  r.samples = samples;
  double sum = 0.0, sum2 = 0.0;
  for (int i = 0; i < samples; ++i) {
    V3 m = initial_state(p, opt, seed, static_cast<std::uint64_t>(i));
    TrialRng rng(seed, static_cast<std::uint64_t>(i), kStreamField);
    TrialRng bridge(seed, static_cast<std::uint64_t>(i), kStreamBridge);
    for (long k = 1; k <= n_max; ++k) {
      const V3 next = step(md, m, aj, rng);
      double t = -1.0;
      if (next.z < 0.0) {
        // Linear interpolation of m_z between the two steps.
        t = (static_cast<double>(k - 1) + m.z / (m.z - next.z)) * dt;
      } else if (var_z_step > 0.0) {
        // Brownian-bridge test: a diffusion from z1 to z2 (both > 0) in one step dips below 0 in
        // between with probability exp(-2 z1 z2 / var); checking only at the steps would miss
        // those passages and lengthen the mean by O(sqrt(dt)).
        const double x = 2.0 * m.z * next.z / var_z_step;
        if (x < 40.0 && bridge.uniform() < std::exp(-x)) t = (static_cast<double>(k) - 0.5) * dt;
      }
      if (t >= 0.0) {
        sum += t;
        sum2 += t * t;
        ++r.crossed;
        break;
      }
      m = next;
    }
  }
  if (r.crossed > 0) {
    r.mean_s = sum / r.crossed;
    const double var = r.crossed > 1 ? (sum2 - r.crossed * r.mean_s * r.mean_s) / (r.crossed - 1) : 0.0;
    r.stderr_s = std::sqrt(std::max(0.0, var) / r.crossed);
  }
  return r;
}

LlgMoments equilibrium_moments_llg(const LlgParams& p, double current_A, double burn_in_s, double average_s,
                                   int samples, std::uint64_t seed, const LlgRunOptions& opt) {
  check(p, samples);
  const double dt = opt.dt_s > 0.0 ? opt.dt_s : llg_default_dt(p, current_A);
  const Model md = make_model(p, dt);
  const long n_burn = std::lround(std::max(0.0, burn_in_s) / dt);
  const long n_avg = std::lround(std::max(0.0, average_s) / dt);
  const double aj = llg_aj(p, current_A);
  double smz = 0.0, ss2 = 0.0;
  for (int i = 0; i < samples; ++i) {
    V3 m = initial_state(p, opt, seed, static_cast<std::uint64_t>(i));
    TrialRng rng(seed, static_cast<std::uint64_t>(i), kStreamField);
    for (long k = 0; k < n_burn; ++k) m = step(md, m, aj, rng);
    for (long k = 0; k < n_avg; ++k) {
      m = step(md, m, aj, rng);
      smz += m.z;
      ss2 += m.x * m.x + m.y * m.y;
    }
  }
  LlgMoments r;
  r.steps_averaged = static_cast<long long>(samples) * n_avg;
  if (r.steps_averaged > 0) {
    r.mean_mz = smz / static_cast<double>(r.steps_averaged);
    r.mean_sin2 = ss2 / static_cast<double>(r.steps_averaged);
  }
  return r;
}

}  // namespace bayescim::hw
