// The crossbar MTJ's switching model (hw/physics/crossbar_mtj.h, eq. C1-C7) against closed forms
// worked out here (Brown's escape time with the current-lowered barrier; the precessional write
// error from the T = 0 trajectory and a Gaussian initial angle, Butler-type), against the
// macrospin solver on a small-barrier device, and the rates at an operating point by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "hw/operating_point.h"
#include "hw/physics/crossbar_mtj.h"
#include "hw/physics/macrospin.h"

namespace bayescim::hw {
namespace {

constexpr double kPi = 3.14159265358979323846;

double simpson(const std::function<double(double)>& f, double a, double b, int n) {
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int k = 1; k < n; ++k) s += (k % 2 ? 4.0 : 2.0) * f(a + k * h);
  return s * h / 3.0;
}

// Both probabilities of a pulse add to 1: each solve conserves probability to rounding, and the
// step extrapolation (done on each separately) moves the sum by its own size, below 1e-4 here.
TEST(CrossbarMtj, SwitchedAndStayedAddToOne) {
  for (double i : {0.0, 0.5, 1.0, 2.0}) {
    const FpResult r = fokker_planck_switching(30.0, i, 3.0);
    EXPECT_NEAR(r.switched + r.stayed, 1.0, 1e-4) << i;
  }
}

// Thermal limit (C4). For Delta (1 - i)^2 >> 1, the escape rate over the lowered barrier is
// Brown's: with U(z) = Delta (1 - z^2 + 2 i z) in z = cos(theta) and D = (1 - z^2) / (2 tau_N),
// the mean time to cross the whole barrier from the well at z = 1 is, by Laplace's method on the
// double integral of the mean first-passage time (well: int e^{-U} ~ e^{-U(1)} / (2 Delta (1 - i));
// barrier at z = i: int e^{U} / D ~ e^{U(i)} (2 tau_N / (1 - i^2)) sqrt(pi / Delta)),
//   tau = tau_N sqrt(pi) Delta^{-3/2} e^{Delta (1 - i)^2} / ((1 - i)^2 (1 + i)),  tau_N = Delta tau_D.
// The model's rate, measured between two long pulses (after the well has relaxed), must match it
// to the asymptote's O(1 / (Delta (1 - i)^2)) accuracy. (At i = 0 the barrier top is the equator
// itself, where the model absorbs: it then gives the time to the top, half of this.)
TEST(CrossbarMtj, ThermalLimitIsBrownsEscapeTimeWithTheLoweredBarrier) {
  for (const auto& [delta, i] : {std::pair{40.0, 0.3}, std::pair{60.0, 0.5}, std::pair{100.0, 0.4}}) {
    const double b = delta * (1 - i) * (1 - i);
    const double tau = delta * std::sqrt(kPi) * std::pow(delta, -1.5) * std::exp(b) / ((1 - i) * (1 - i) * (1 + i));
    const double t1 = 50, t2 = 100;  // in tau_D
    const double rate = (fokker_planck_switching(delta, i, t2).switched - fokker_planck_switching(delta, i, t1).switched) /
                        (t2 - t1);
    EXPECT_NEAR(rate * tau, 1.0, 2.0 / b) << "Delta " << delta << " i " << i;
  }
}

// The zero-temperature time from s_0 = 1 - cos(theta_0) to the equator at reduced current i
// (d theta / dt = (i - cos theta) sin theta / tau_D, eq. M8), by quadrature in theta.
double time_to_equator(double i, double theta0) {
  return simpson([i](double th) { return 1.0 / ((i - std::cos(th)) * std::sin(th)); }, theta0, kPi / 2, 20000);
}

// Precessional limit (C5 with the thermal field during the pulse). Near theta = 0 the transverse
// components grow as x' = lambda x + noise, lambda = (i - 1) / tau_D, with the noise that keeps
// the zero-current well at variance 1 / (2 Delta) per component (1 / tau_N per unit time). The
// solution is e^{lambda t} times an effective initial value of variance
//   (1 / (2 Delta)) (i - e^{-2 lambda t}) / (i - 1),
// which then follows the T = 0 trajectory; the write fails iff it is below the critical angle
// theta_c of the pulse: WER = 1 - exp(-Delta theta_c^2 (i - 1) / (i - e^{-2 lambda t})), the
// Butler et al. (IEEE Trans. Magn. 48, 4684 (2012)) form with the exact trajectory in place of
// their linearised one. It neglects the noise along the nonlinear part of the trajectory, which
// only helps a switch, most where the trajectory is slow (i near 1): the model lies at or below it
// (x 1.1 for the numerics) and within a factor 2.
TEST(CrossbarMtj, PrecessionalLimitIsTheButlerTypeWriteErrorRate) {
  const double delta = 60;
  for (const auto& [i, t] : {std::pair{1.5, 12.0}, std::pair{2.0, 8.0}, std::pair{3.0, 3.0}, std::pair{2.0, 4.0}}) {
    double lo = 1e-9, hi = kPi / 2 - 1e-9;  // theta_c: time_to_equator(theta_c) = t
    for (int k = 0; k < 100; ++k) {
      const double mid = std::sqrt(lo * hi);
      (time_to_equator(i, mid) > t ? lo : hi) = mid;
    }
    const double tc = std::sqrt(lo * hi);
    const double wer = -std::expm1(-delta * tc * tc * (i - 1) / (i - std::exp(-2 * (i - 1) * t)));
    const double model = fokker_planck_switching(delta, i, t).stayed;
    EXPECT_LT(model / wer, 1.1) << "i " << i << " t " << t << " closed form " << wer;
    EXPECT_GT(model / wer, 0.5) << "i " << i << " t " << t << " closed form " << wer;
    std::printf("i %.1f t %.0f tau_D: model %.3e, closed form %.3e, ratio %.3f\n", i, t, model, wer, model / wer);
  }
}

// Against the macrospin solver (hw/physics/macrospin.h) on a small-barrier device where the
// probabilities are measurable: the example free layer at 750 K (Delta = 8.0, I_c0 =
// 25.1 uA, tau_D = 2.98 ns), in the thermal, crossover and precessional regimes. The model counts a
// switch when the equator is crossed during the pulse; the solver reads m_z after a relax, and a
// few trajectories recross: 4 sigma + 0.03.
TEST(CrossbarMtj, AgreesWithTheMacrospinSolverOnASmallBarrierDevice) {
  LlgParams p;
  p.temperature_K = 750;
  const double delta = llg_delta(p), ic0 = llg_ic0(p);
  const double tau_d = (1 + p.alpha * p.alpha) / (p.alpha * 1.76e11 * 1.25663706212e-6 * llg_hk_eff(p));
  ASSERT_NEAR(delta, 7.96, 0.01);
  LlgRunOptions opt;
  opt.settle_mz = 0.9;
  const int n = 1000;
  for (const auto& [i, t] : {std::pair{0.7, 10e-9}, std::pair{1.0, 10e-9}, std::pair{1.3, 3e-9}, std::pair{2.0, 3e-9},
                             std::pair{3.0, 1e-9}}) {
    const double solver = switching_probability_llg(p, i * ic0, t, 3e-9, n, 11, nullptr, opt);
    const double model = fokker_planck_switching(delta, i, t / tau_d).switched;
    EXPECT_NEAR(model, solver, 4 * std::sqrt(model * (1 - model) / n) + 0.03) << "i " << i << " t " << t;
  }
}

// Delta(T) = Delta_300K 300 K / T (C1); a hotter layer is disturbed more and fails fewer writes
// (its initial angle is wider).
TEST(CrossbarMtj, TemperatureLowersTheBarrier) {
  CrossbarFreeLayer f;
  f.temperature_K = 400;
  EXPECT_DOUBLE_EQ(crossbar_delta(f), 45.0);
  const CrossbarRates hot = crossbar_rates(f, 33.3e-6, 16.7e-6, 1.66e-9, 80e-6, 10e-9);
  f.temperature_K = 300;
  const CrossbarRates cold = crossbar_rates(f, 33.3e-6, 16.7e-6, 1.66e-9, 80e-6, 10e-9);
  EXPECT_GT(hot.read_disturb_ap, 10 * cold.read_disturb_ap);
  EXPECT_LT(hot.write_error_to_ap, cold.write_error_to_ap);
}

// (C1) with a Curie temperature: Bloch's M_s(T) = M_s(0)(1 - (T / T_c)^{3/2}), K_i ~ M_s^2, so
// the barrier scales as M_s^2 (and Delta as M_s^2 / T), I_c0 ~ alpha E_b as M_s^2, and
// tau_D ~ 1 / H_k,eff as 1 / M_s. At T_c = 1000 K and 400 K: m = (1 - 0.4^1.5) / (1 - 0.3^1.5).
TEST(CrossbarMtj, CurieTemperatureScalesBarrierCriticalCurrentAndPrecessionTime) {
  CrossbarFreeLayer f;
  f.ic0_ap_to_p_A = 20e-6;
  f.ic0_p_to_ap_A = 40e-6;
  f.precession_time_s = 1.65e-9;
  f.temperature_K = 400;
  const CrossbarRates constant = crossbar_rates(f, 33.3e-6, 16.7e-6, 1.66e-9, 80e-6, 10e-9);
  f.curie_temperature_K = 1000;
  const double m = (1 - std::pow(0.4, 1.5)) / (1 - std::pow(0.3, 1.5));
  EXPECT_NEAR(m, 0.8939, 1e-4);
  EXPECT_NEAR(crossbar_delta(f), 60 * 0.75 * m * m, 1e-9);
  const CrossbarRates r = crossbar_rates(f, 33.3e-6, 16.7e-6, 1.66e-9, 80e-6, 10e-9);
  const double d = 45 * m * m, td = 1.65 / m;
  EXPECT_NEAR(r.read_disturb_ap / fokker_planck_switching(d, 16.7 / (20 * m * m), 1.66 / td).switched, 1, 1e-9);
  EXPECT_NEAR(r.write_error_to_ap / fokker_planck_switching(d, 80 / (40 * m * m), 10 / td).stayed, 1, 1e-9);
  EXPECT_GT(r.read_disturb_ap, constant.read_disturb_ap);  // a weaker layer is disturbed more
  // At 300 K the layer is the one the keys describe.
  f.temperature_K = 300;
  EXPECT_DOUBLE_EQ(crossbar_ms_ratio(f), 1.0);
  EXPECT_DOUBLE_EQ(crossbar_delta(f), 60.0);
}

// The rates at an operating point (C6, C7): the read of the destabilised state at its cell current
// V_cell / R (0.1 V / 6 kOhm in AP, 0.1 V / 3 kOhm in P) against that direction's I_c0, the
// other state never disturbed; the writes at 80 uA for 10 ns against each direction's I_c0.
TEST(CrossbarMtj, RatesAtTheOperatingPointUseEachDirectionsCurrentAndCriticalCurrent) {
  DeviceParams d;
  d.cell.r_p_ohm = 3000;
  d.cell.tmr = 1.0;
  d.cell.v_read_V = 0.25;
  d.cell.v_access_V = 0.15;
  d.write_current_A = 80e-6;
  d.write_pulse_s = 10e-9;
  CrossbarFreeLayer f;
  f.delta_300K = 30;  // measurable numbers
  f.ic0_ap_to_p_A = 25e-6;
  f.ic0_p_to_ap_A = 50e-6;
  f.precession_time_s = 0.87e-9;
  d.thermal = f;
  ArchParams a;
  a.read_pulse_s = 1.66e-9;
  const double td = 0.87;
  CrossbarRates r = crossbar_mtj_rates(d, a);
  EXPECT_EQ(r.read_disturb_p, 0.0);
  EXPECT_NEAR(r.read_disturb_ap / fokker_planck_switching(30, (0.1 / 6000) / 25e-6, 1.66 / td).switched, 1, 1e-9);
  EXPECT_NEAR(r.write_error_to_p / fokker_planck_switching(30, 80e-6 / 25e-6, 10 / td).stayed, 1, 1e-9);
  EXPECT_NEAR(r.write_error_to_ap / fokker_planck_switching(30, 80e-6 / 50e-6, 10 / td).stayed, 1, 1e-9);
  EXPECT_GT(r.read_disturb_ap, 0.0);
  EXPECT_GT(r.write_error_to_ap, r.write_error_to_p);  // the harder direction
  d.thermal->read_polarity = ReadPolarity::PToAp;
  r = crossbar_mtj_rates(d, a);
  EXPECT_EQ(r.read_disturb_ap, 0.0);
  EXPECT_NEAR(r.read_disturb_p / fokker_planck_switching(30, (0.1 / 3000) / 50e-6, 1.66 / td).switched, 1, 1e-9);
  // An access transistor's on-resistance lowers the read current and so the disturb.
  d.cell.r_access_ohm = 1000;
  EXPECT_LT(crossbar_mtj_rates(d, a).read_disturb_p, r.read_disturb_p);
}

}  // namespace
}  // namespace bayescim::hw
