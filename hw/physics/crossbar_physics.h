// Ideal STT-MRAM XNOR crossbar physics (plain C++, no SystemC).
//
// Cell: 2T-2MTJ complementary pair. The weight w is stored as (w, not w) in two MTJs; the input
// x drives the wordline of the first MTJ when x = +1 and of the second when x = -1, so exactly
// one MTJ per active row conducts. An MTJ in the parallel state (R_P) encodes +1, so the
// conducting MTJ is parallel iff x == w (a match) and antiparallel (R_AP = R_P(1+TMR)) otherwise.
// Column current over N active rows with m matches (Kirchhoff, bitline held at 0 V):
//   I(m) = V_read (m G_P + (N - m) G_AP)                                 (eq. X1)
// It is affine and increasing in m, so a sense amplifier comparing with
//   I_ref(M) = (I(M - 1) + I(M)) / 2                                     (eq. X2)
// outputs 1 iff m >= M, and an ideal ADC recovers m = round((I/V_read - N G_AP) / (G_P - G_AP)).
#pragma once
#include <algorithm>
#include <cstdint>

namespace bayescim::hw {

struct CellParams {
  double r_p_ohm = 3e3;
  double tmr = 1.0;       // R_AP = R_P (1 + TMR)
  double v_read_V = 0.25;
};

class CrossbarPhysics {
 public:
  explicit CrossbarPhysics(const CellParams& p);
  double g_p() const { return g_p_; }
  double g_ap() const { return g_ap_; }
  double v_read() const { return v_; }
  // eq. X1, in amperes.
  double column_current(int matches, int active_rows) const;
  // eq. X2: the reference current that splits match counts M-1 and M.
  double reference_current(int threshold_matches, int active_rows) const;
  // Ideal ADC: the match count whose current is nearest to `current`, clamped to [0, N].
  int ideal_adc(double current, int active_rows) const;
  // Energy drawn from the read supply by one column during a read pulse: V_read I t.
  double column_energy(double current, double pulse_s) const { return v_ * current * pulse_s; }
  // ADC with `levels` = 2^bits - 1 codes over a full scale of `full_scale_rows` matches: the
  // estimated match count is rounded to a multiple of step = max(1, ceil(rows / levels)) and
  // clamped to [0, N]. With enough bits (step 1) this is ideal_adc.
  int adc(double current, int active_rows, int full_scale_rows, int levels) const;
  // The same transfer for an exact match count (ideal devices): no currents needed.
  static int adc_step(int full_scale_rows, int levels) { return std::max(1, (full_scale_rows + levels - 1) / levels); }
  static int adc_of_matches(int matches, int active_rows, int step) {
    return std::min(active_rows, (matches + step / 2) / step * step);
  }

 private:
  double g_p_, g_ap_, v_;
};

// Device-to-device variation and faults of the crossbar MTJs, fixed per device for a run.
struct CellVariation {
  double r_p_sigma_log = 0;   // sigma of ln R_P (lognormal around the nominal, median-preserving)
  double tmr_sigma_rel = 0;   // relative Gaussian sigma of TMR
  double stuck_p_rate = 0;    // probability that an MTJ is stuck in P
  double stuck_ap_rate = 0;   // probability that an MTJ is stuck in AP
  bool any() const { return r_p_sigma_log > 0 || tmr_sigma_rel > 0 || stuck_p_rate > 0 || stuck_ap_rate > 0; }
};

// Conductance of one MTJ (identified by `id`) programmed to P or AP, with its own variation and
// fault drawn from (seed, id).
double mtj_conductance(const CellParams& c, const CellVariation& v, std::uint64_t seed, std::uint64_t id,
                       bool programmed_p);

// A standard normal number from (seed, a, b, c) (Box-Muller on counter-based uniforms).
double gaussian(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c);

}  // namespace bayescim::hw
