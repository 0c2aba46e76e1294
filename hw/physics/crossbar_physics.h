// Ideal STT-MRAM XNOR crossbar physics (plain C++, no SystemC).
//
// Cell: 2T-2MTJ complementary pair. The weight w is stored as (w, not w) in two MTJs; the input
// x drives the wordline of the first MTJ when x = +1 and of the second when x = -1, so exactly
// one MTJ per active row conducts. An MTJ in the parallel state (R_P) encodes +1, so the
// conducting MTJ is parallel iff x == w (a match) and antiparallel (R_AP = R_P(1+TMR)) otherwise.
// Each conducting MTJ is in series with its access transistor. The transistor takes a fixed drop
// V_acc (NVSim's VoltageDropAccessDevice) and, optionally, an on-resistance R_T; the branch across
// which the MTJ sits is driven by V_cell = V_read - V_acc and conducts
//   G = 1 / (R_MTJ + R_T): G_P = 1 / (R_P + R_T), G_AP = 1 / (R_P (1 + TMR) + R_T)   (eq. X0)
// Column current over N active rows with m matches (Kirchhoff, bitline held at 0 V by the sense
// node's clamp):
//   I(m) = V_cell (m G_P + (N - m) G_AP)                                 (eq. X1)
// The supply delivers that current at V_read, so a read draws V_read I t from it (eq. E0).
// It is affine and increasing in m, so a sense amplifier comparing with
//   I_ref(M) = (I(M - 1) + I(M)) / 2                                     (eq. X2)
// outputs 1 iff m >= M, and an ideal ADC recovers m = round((I/V_read - N G_AP) / (G_P - G_AP)).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace bayescim::hw {

struct CellParams {
  double r_p_ohm = 3e3;
  double tmr = 1.0;       // R_AP = R_P (1 + TMR)
  double v_read_V = 0.25;    // read supply on the source line
  double v_access_V = 0;     // fixed drop over the access transistor (eq. X0)
  double r_access_ohm = 0;   // access-transistor on-resistance in series with the MTJ (eq. X0)
  double v_cell() const { return v_read_V - v_access_V; }
};

// Rounds half away from zero like std::lround, inline (lround is a libm call at the baseline ISA).
inline long round_half_away(double x) { return static_cast<long>(x < 0 ? x - 0.5 : x + 0.5); }

class CrossbarPhysics {
 public:
  explicit CrossbarPhysics(const CellParams& p);
  // The same cell read with other branch conductances (the references' physics, eq. X4).
  CrossbarPhysics(const CellParams& p, double g_p, double g_ap);
  double g_p() const { return g_p_; }
  double g_ap() const { return g_ap_; }
  double v_cell() const { return v_; }      // across MTJ + R_T: V_read - V_acc
  double v_supply() const { return vs_; }   // the read supply, V_read
  // eq. X1, in amperes.
  double column_current(int matches, int active_rows) const;
  // eq. X2: the reference current that splits match counts M-1 and M.
  double reference_current(int threshold_matches, int active_rows) const;
  // Ideal ADC: the match count whose current is nearest to `current`, clamped to [0, N].
  int ideal_adc(double current, int active_rows) const;
  // Energy drawn from the read supply by one column during a read pulse: V_read I t (eq. E0).
  double column_energy(double current, double pulse_s) const { return vs_ * current * pulse_s; }
  // The same for one conducting branch of conductance g: V_read V_cell g t.
  double branch_energy(double g, double pulse_s) const { return vs_ * v_ * g * pulse_s; }
  // ADC with `levels` = 2^bits - 1 codes over a full scale of `full_scale_rows` matches: the
  // estimated match count is rounded to a multiple of step = max(1, ceil(rows / levels)) and
  // clamped to [0, N]. With enough bits (step 1) this is ideal_adc.
  int adc(double current, int active_rows, int full_scale_rows, int levels) const {
    return quantize(match_estimate(current, active_rows), active_rows, full_scale_rows, levels);
  }
  // The match count a current stands for on the lossless line X1 (not rounded).
  double match_estimate(double current, int active_rows) const {
    return (current / v_ - active_rows * g_ap_) / (g_p_ - g_ap_);
  }
  // X1 at a fractional match count: the current the nominal references compare with.
  double current_of_estimate(double matches, int active_rows) const {
    return v_ * (matches * g_p_ + (active_rows - matches) * g_ap_);
  }
  // The ADC's rounding of a match estimate m: to a multiple of the step, clamped to [0, N].
  static int quantize(double m, int active_rows, int full_scale_rows, int levels) {
    const int step = adc_step(full_scale_rows, levels);
    if (step == 1) return static_cast<int>(std::clamp<long>(round_half_away(m), 0, active_rows));  // the same
    const double k = static_cast<double>(round_half_away(m));
    if (std::fabs(m - k) < 1e-6) m = k;  // an exact count: drop float noise
    const long q = round_half_away(m / step) * step;
    return static_cast<int>(std::clamp<long>(q, 0, active_rows));
  }
  // The same transfer for an exact match count (ideal devices): no currents needed.
  static int adc_step(int full_scale_rows, int levels) { return std::max(1, (full_scale_rows + levels - 1) / levels); }
  static int adc_of_matches(int matches, int active_rows, int step) {
    return std::min(active_rows, (matches + step / 2) / step * step);
  }

 private:
  double g_p_, g_ap_, v_, vs_;
};

// Device-to-device variation and faults of the crossbar MTJs, fixed per device for a run.
struct CellVariation {
  double r_p_sigma_log = 0;   // sigma of ln R_P (lognormal around the nominal, median-preserving)
  double tmr_sigma_rel = 0;   // relative Gaussian sigma of TMR
  double stuck_p_rate = 0;    // probability that an MTJ is stuck in P
  double stuck_ap_rate = 0;   // probability that an MTJ is stuck in AP
  double read_disturb_rate = 0;  // probability that one read switches a conducting MTJ in the destabilised state (eq. X3)
  bool read_disturbs_p = false;  // the state a read destabilises: AP (false, the read current flows AP -> P) or P
  // Probability that one write pulse towards P (AP -> P) / towards AP (P -> AP) leaves the MTJ unswitched.
  double write_error_to_p = 0, write_error_to_ap = 0;
  double write_error(bool to_p) const { return to_p ? write_error_to_p : write_error_to_ap; }
  bool write_errors() const { return write_error_to_p > 0 || write_error_to_ap > 0; }
  // True when reads need per-MTJ conductances (write errors are handled at programming time).
  bool any() const {
    return r_p_sigma_log > 0 || tmr_sigma_rel > 0 || stuck_p_rate > 0 || stuck_ap_rate > 0 || read_disturb_rate > 0;
  }
};

// One physical MTJ of the crossbar: its own resistances and fault, drawn from (seed, id) and fixed
// for the run.
struct MtjDevice {
  enum class Stuck { None, P, AP };
  double r_p = 0, r_ap = 0;
  Stuck stuck = Stuck::None;
  // The state the MTJ is in after being written to `want_p` (a stuck MTJ ignores writes).
  bool state_after_write(bool want_p) const { return stuck == Stuck::None ? want_p : stuck == Stuck::P; }
  // Branch conductance in a state, with the access transistor in series (eq. X0).
  double conductance(bool p_state, double r_access) const { return 1.0 / ((p_state ? r_p : r_ap) + r_access); }
};
MtjDevice mtj_device(const CellParams& c, const CellVariation& v, std::uint64_t seed, std::uint64_t id);

// eq. X4: the mean branch conductances of the cell population, E[1 / (R_P e^{s z1} + R_T)] and
// E[1 / (R_P e^{s z1} (1 + max(0, TMR (1 + s_t z2))) + R_T)] over independent standard normals z1,
// z2 (the variation of mtj_device; stuck-at faults excluded), by the trapezoid rule on [-8, 8]
// with step 0.02 in each variable. Exactly the nominal G_P, G_AP when both sigmas are 0.
struct MeanConductances {
  double g_p, g_ap;
};
MeanConductances mean_conductances(const CellParams& c, const CellVariation& v);

// Conductance of one MTJ (identified by `id`) programmed to P or AP, with its own variation and
// fault drawn from (seed, id).
double mtj_conductance(const CellParams& c, const CellVariation& v, std::uint64_t seed, std::uint64_t id,
                       bool programmed_p);

// Read disturb (eq. X3). The read current flows in one write direction (CellVariation::
// read_disturbs_p; default AP -> P): each read of a conducting MTJ in the state it destabilises
// switches it with probability q, independently. Among k eligible MTJs read in order, the number passed before the next switch is
// geometric: skip = floor(ln(1 - u) / ln(1 - q)) for a uniform u (inverse CDF).
inline long disturb_skip(double u, double q) {
  if (q >= 1.0) return 0;
  const double s = std::floor(std::log1p(-u) / std::log1p(-q));
  return s > 1e15 ? static_cast<long>(1e15) : static_cast<long>(s);
}

// Programming one MTJ with optional write-verify: pulse k (k = 0, 1, ...) fails with probability
// WER, drawn from (seed, id, k). Without verify one pulse is given; with verify, each pulse is
// followed by a read and the MTJ is rewritten until it is right or max_attempts pulses were given.
// Returns the pulses given and sets `ok` to whether the MTJ ends in the wanted state.
int write_attempts(std::uint64_t seed, std::uint64_t id, double wer, bool verify, int max_attempts, bool* ok);

// A standard normal number from (seed, a, b, c) (Box-Muller on counter-based uniforms).
double gaussian(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c);

}  // namespace bayescim::hw
