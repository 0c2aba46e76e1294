// Device and circuit physics against hand calculations and closed forms (no SystemC kernel).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <random>

#include "hw/dropout_source.h"
#include "hw/params.h"
#include "hw/physics/crossbar_physics.h"
#include "hw/physics/energy_table.h"
#include "hw/operating_point.h"
#include "hw/physics/rng.h"
#include "hw/physics/stochastic_mtj.h"
#include "hw/stats.h"

namespace bayescim::hw {
namespace {

CellParams nvsim() { return CellParams{3000.0, 1.0, 0.25}; }  // R_P 3k, R_AP 6k, 0.25 V

TEST(Crossbar, ColumnCurrentOfAKnownPattern) {
  CrossbarPhysics x(nvsim());
  // 4 active rows, 3 matches: 3 MTJs at 3 kOhm and 1 at 6 kOhm in parallel at 0.25 V:
  // 0.25 * (3/3000 + 1/6000) = 0.25 * 7/6000 = 2.91666...e-4 A.
  EXPECT_NEAR(x.column_current(3, 4), 2.9166666667e-4, 1e-13);
  // All mismatches: 4 * 0.25/6000.
  EXPECT_NEAR(x.column_current(0, 4), 1.6666666667e-4, 1e-13);
  // Energy of that column over a 1.66 ns read: V * I * t = 0.25 * 2.9167e-4 * 1.66e-9.
  EXPECT_NEAR(x.column_energy(x.column_current(3, 4), 1.66e-9), 1.2104166667e-13, 1e-22);
}

TEST(Crossbar, ReferenceSplitsNeighbouringCountsAndAdcInverts) {
  CrossbarPhysics x(nvsim());
  // I_ref(3) for N = 4 is halfway between I(2) = 2.5e-4 and I(3) = 2.9167e-4.
  EXPECT_NEAR(x.reference_current(3, 4), 2.7083333333e-4, 1e-13);
  for (int n : {1, 7, 64, 512})
    for (int m = 0; m <= n; ++m) {
      EXPECT_EQ(x.ideal_adc(x.column_current(m, n), n), m);
      if (m > 0) {
        EXPECT_GT(x.column_current(m, n), x.reference_current(m, n));
        EXPECT_LT(x.column_current(m - 1, n), x.reference_current(m, n));
      }
    }
}

TEST(Crossbar, MeanConductancesOfTheCellPopulation) {
  // eq. X4. Lognormal R_P (median R_P, sigma s), no access resistance, fixed TMR: E[1/R] has the
  // closed form e^{s^2/2} / R_P, for P and for AP (R_AP = R_P (1 + TMR)).
  CellParams c;
  c.r_p_ohm = 3000;
  c.tmr = 1.0;
  CellVariation v;
  for (double s : {0.05, 0.1, 0.2}) {
    v.r_p_sigma_log = s;
    const MeanConductances g = mean_conductances(c, v);
    EXPECT_NEAR(g.g_p, std::exp(s * s / 2) / 3000, 1e-12 / 3000) << s;
    EXPECT_NEAR(g.g_ap, std::exp(s * s / 2) / 6000, 1e-12 / 6000) << s;
  }
  // No variation: exactly the nominal conductances (the references do not move).
  v.r_p_sigma_log = 0;
  c.r_access_ohm = 500;
  const CrossbarPhysics nominal(c);
  EXPECT_EQ(mean_conductances(c, v).g_p, nominal.g_p());
  EXPECT_EQ(mean_conductances(c, v).g_ap, nominal.g_ap());
  // With an access resistance and a TMR spread there is no closed form: a Monte Carlo mean of the
  // same variation model (written here from its definition) within four standard errors.
  v.r_p_sigma_log = 0.15;
  v.tmr_sigma_rel = 0.1;
  const MeanConductances g = mean_conductances(c, v);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 400000;
  double sp = 0, sap = 0, sp2 = 0, sap2 = 0;
  for (int k = 0; k < n; ++k) {
    const double rp = 3000 * std::exp(0.15 * z(rng));
    const double tmr = std::max(0.0, 1.0 * (1 + 0.1 * z(rng)));
    const double gp = 1 / (rp + 500), gap = 1 / (rp * (1 + tmr) + 500);
    sp += gp, sp2 += gp * gp, sap += gap, sap2 += gap * gap;
  }
  const double mp = sp / n, map = sap / n;
  EXPECT_NEAR(g.g_p, mp, 4 * std::sqrt((sp2 / n - mp * mp) / n));
  EXPECT_NEAR(g.g_ap, map, 4 * std::sqrt((sap2 / n - map * map) / n));
}

TEST(StochasticMtj, SwitchingProbabilityClosedForm) {
  StochasticMtjParams p;  // Delta 40, I_c0 100 uA, tau0 1 ns, pulse 1 ns
  // I = 0.9625 I_c0: tau = 1 ns * exp(40 * 0.0375) = e^1.5 ns; P = 1 - exp(-1/e^1.5).
  const double want = 1.0 - std::exp(-1.0 / std::exp(1.5));
  EXPECT_NEAR(switching_probability(p, 96.25e-6, 1e-9), want, 1e-12);
  EXPECT_NEAR(want, 0.2000, 1e-4);  // the hand value
  // The driver inverts it: p = 0.2 needs tau = -1 ns / ln 0.8, I = I_c0 (1 - ln(tau/tau0)/Delta).
  const double tau = -1.0 / std::log(0.8);
  EXPECT_NEAR(drive_current_for(p, 0.2), 100e-6 * (1.0 - std::log(tau) / 40.0), 1e-15);
  for (double q : {0.01, 0.1, 0.5, 0.6})
    EXPECT_NEAR(switching_probability(p, drive_current_for(p, q), p.write_pulse_s), q, 1e-12);
  // At I = I_c0, tau = tau0, so the thermal regime tops out at 1 - exp(-t_p/tau0) = 0.632 here.
  EXPECT_THROW(drive_current_for(p, 0.64), std::domain_error);
  // Temperature enters through Delta(T) = Delta_300K * 300 / T.
  p.temperature_K = 600;
  EXPECT_DOUBLE_EQ(thermal_stability(p), 20.0);
  EXPECT_THROW(drive_current_for(p, 0.0), std::domain_error);
  EXPECT_THROW(drive_current_for(p, 1.0), std::domain_error);
}

TEST(StochasticMtj, EnergyAndLatencyPerBitByHand) {
  StochasticMtjParams p;  // R_P 5k, TMR 1.2 (R_AP 11k), reset 200 uA x 2 ns, read 0.1 V x 1 ns, SA 5 fJ,
                          // supply 1.2 V, driver bias 1/8 of the write current, no latch energy
  const double drive = 96.25e-6;
  // From the supplies (eq. S4'): write 1.2*96.25u*1n = 1.155e-13, its driver 1/8 of that;
  // reset 1.2*200u*2n = 4.8e-13 whatever the bit; read 0.1^2/11k*1n = 9.0909e-16 for a 1; SA 5e-15.
  BitPhaseEnergy e = bit_energy(p, drive, true);
  EXPECT_NEAR(e.write_J, 1.155e-13, 1e-25);
  EXPECT_NEAR(e.driver_J, 1.155e-13 / 8, 1e-25);
  EXPECT_NEAR(e.read_J, 9.0909090909e-16, 1e-25);
  EXPECT_NEAR(e.reset_J, 4.8e-13, 1e-25);
  EXPECT_NEAR(e.total(), 1.155e-13 * 1.125 + 9.0909090909e-16 + 4.8e-13 + 5e-15, 1e-24);
  // Drawing a 0: the read sees R_P = 5k: 2e-15; the reset's supply energy is the same.
  e = bit_energy(p, drive, false);
  EXPECT_NEAR(e.read_J, 2e-15, 1e-25);
  EXPECT_NEAR(e.reset_J, 4.8e-13, 1e-25);
  // 2 ns reset + 1 ns write + 10 ns relax + 1 ns read + 0.5 ns SA.
  EXPECT_NEAR(bit_latency(p), 14.5e-9, 1e-20);
}

TEST(Rng, DrawFrequencyWithinFourSigmaAndReproducible) {
  const double p = 0.2;
  const int n = 200000;
  int ones = 0;
  for (int i = 0; i < n; ++i) ones += dropout_draw(7, image_key(0, i / 20), i % 20, 0, p);
  const double sigma = std::sqrt(n * p * (1 - p));
  EXPECT_LT(std::fabs(ones - n * p), 4 * sigma);
  // Reproducible by seed, and a different seed gives a different stream.
  int same = 0, diff = 0;
  for (int i = 0; i < 1000; ++i) {
    same += dropout_draw(7, i, 0, 1, p) == dropout_draw(7, i, 0, 1, p);
    diff += dropout_draw(7, i, 0, 1, p) != dropout_draw(8, i, 0, 1, p);
  }
  EXPECT_EQ(same, 1000);
  EXPECT_GT(diff, 100);
}

// The draws of one sample (same seed, image and sample; consecutive draw indices) must be
// independent: 16 fair draws per sample give nearly as many distinct masks as samples
// (expected about 3,880 of 4,000 by the birthday bound), and neighbours do not correlate.
TEST(Rng, DrawsWithinOneSampleAreIndependent) {
  std::set<int> masks;
  int agree = 0;
  for (int s = 0; s < 4000; ++s) {
    int m = 0;
    for (int d = 0; d < 16; ++d) m |= dropout_draw(1, image_key(0, s), 0, d, 0.5) << d;
    masks.insert(m);
    agree += ((m & 1) == ((m >> 1) & 1));
  }
  EXPECT_GT(masks.size(), 3700u);
  EXPECT_LT(std::abs(agree - 2000), 4 * std::sqrt(4000 * 0.25));
}

TEST(EnergyTable, AdcBitsAndConversionEnergy) {
  ArchParams a;
  a.rows = 512;
  a.adc_fom_J_per_step = 50e-15;
  // 513 levels need 10 bits; 50 fJ * 2^10 = 51.2 pJ.
  EXPECT_EQ(adc_bits_for(a), 10);
  EXPECT_NEAR(derive_action_table(a).adc_conversion_J, 51.2e-12, 1e-24);
  a.rows = 4;
  EXPECT_EQ(adc_bits_for(a), 3);
  DeviceParams d;  // 80 uA x 10 ns from a 0.8 V write supply (eq. W1): 0.64 pJ in either state
  EXPECT_NEAR(mtj_write_energy(d, false), 0.64e-12, 1e-25);
  EXPECT_NEAR(mtj_write_energy(d, true), 0.64e-12, 1e-25);
  d.write_voltage_V = 1.2;
  EXPECT_NEAR(mtj_write_energy(d, true), 0.96e-12, 1e-25);
}

// eq. W1: a driver needs at least I_w R_AP = 80 uA x 6 kOhm = 0.48 V to deliver the write current.
TEST(EnergyTable, WriteSupplyBelowIwRapIsWarned) {
  DeviceParams d;
  d.cell.v_access_V = 0.15;
  ArchParams a;
  const auto mentions = [](const OperatingCheck& c) {
    for (const auto& w : c.warnings)
      if (w.find("write_voltage_V") != std::string::npos && w.find("0.48") != std::string::npos) return true;
    return false;
  };
  d.write_voltage_V = 0.47;
  EXPECT_TRUE(mentions(check_operating_point(d, a)));
  d.write_voltage_V = 0.49;
  EXPECT_FALSE(mentions(check_operating_point(d, a)));
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// Module-to-module variation of the stochastic MTJs, against an independent Monte Carlo of the
// same device model drawn with std::normal_distribution.
TEST(StochasticMtj, VariationSpreadsTheRealisedProbabilityLikeAMonteCarlo) {
  StochasticMtjParams p;
  const MtjVariation v{0.05, 0.02};
  const double drive = drive_current_for(p, 0.2);
  const std::size_t n = 40000;
  const auto mods = module_probabilities(p, v, drive, 0.2, n, 11);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0.0, 1.0);
  double m1 = 0, m2 = 0, s1 = 0, s2 = 0;
  std::vector<double> mc(n);
  for (std::size_t i = 0; i < n; ++i) {
    StochasticMtjParams d = p;
    d.delta_300K *= 1.0 + v.delta_sigma_rel * z(rng);
    d.ic0_A *= 1.0 + v.ic0_sigma_rel * z(rng);
    mc[i] = switching_probability(d, drive, p.write_pulse_s);
    m1 += mods[i] / n;
    m2 += mc[i] / n;
  }
  for (std::size_t i = 0; i < n; ++i) {
    s1 += (mods[i] - m1) * (mods[i] - m1) / n;
    s2 += (mc[i] - m2) * (mc[i] - m2) / n;
  }
  EXPECT_GT(std::sqrt(s1), 0.01);  // the variation is visible
  EXPECT_NEAR(m1, m2, 4 * std::sqrt(s2 / n) * std::sqrt(2.0));
  EXPECT_NEAR(std::sqrt(s1), std::sqrt(s2), 0.03 * std::sqrt(s2));
  // Reproducible by seed; no variation gives the nominal p everywhere.
  EXPECT_EQ(module_probabilities(p, v, drive, 0.2, 10, 11), std::vector<double>(mods.begin(), mods.begin() + 10));
  for (double q : module_probabilities(p, MtjVariation{}, drive, 0.2, 10, 11)) EXPECT_EQ(q, 0.2);
}

// Each module's observed bit rate matches its own realised p (within 4 sigma).
TEST(StochasticMtj, ObservedRatePerModuleMatchesItsRealisedP) {
  StochasticMtjParams p;
  const auto mods = module_probabilities(p, MtjVariation{0.1, 0.0}, drive_current_for(p, 0.3), 0.3, 8, 3);
  for (std::size_t m = 0; m < mods.size(); ++m) {
    const int n = 20000;
    int ones = 0;
    for (int i = 0; i < n; ++i) ones += dropout_draw(3, image_key(0, i), 0, m, mods[m]);
    EXPECT_LT(std::fabs(ones - n * mods[m]), 4 * std::sqrt(n * mods[m] * (1 - mods[m]))) << "module " << m;
  }
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// Crossbar MTJ variation and faults: sample statistics against the configured values.
TEST(CellVariationTest, LognormalRpAndGaussianTmrHaveTheConfiguredSpread) {
  const CellParams c{3000.0, 1.0, 0.25};
  const CellVariation v{0.1, 0.05, 0.0, 0.0};
  const int n = 20000;
  double s1 = 0, s2 = 0, t1 = 0, t2 = 0;
  for (int i = 0; i < n; ++i) {
    const double ln_r = std::log(1.0 / mtj_conductance(c, v, 4, 2 * i, true));
    const double r_ap = 1.0 / mtj_conductance(c, v, 4, 2 * i, false);  // the same device, programmed AP
    const double tmr = r_ap / std::exp(ln_r) - 1.0;
    s1 += ln_r / n;
    s2 += ln_r * ln_r / n;
    t1 += tmr / n;
    t2 += tmr * tmr / n;
  }
  const double sd_ln = std::sqrt(s2 - s1 * s1), sd_tmr = std::sqrt(t2 - t1 * t1);
  EXPECT_NEAR(s1, std::log(3000.0), 4 * 0.1 / std::sqrt(n));  // median R_P is the nominal
  EXPECT_NEAR(sd_ln, 0.1, 0.1 * 0.03);
  EXPECT_NEAR(t1, 1.0, 4 * 0.05 / std::sqrt(n));
  EXPECT_NEAR(sd_tmr, 0.05, 0.05 * 0.03);
}

TEST(CellVariationTest, StuckAtFaultRatesAsConfigured) {
  const CellParams c{3000.0, 1.0, 0.25};
  const CellVariation v{0.0, 0.0, 0.03, 0.02};
  const int n = 40000;
  int stuck_p = 0, stuck_ap = 0;
  for (int i = 0; i < n; ++i) {
    stuck_p += mtj_conductance(c, v, 9, i, false) > 1.0 / 4500;  // programmed AP, reads P
    stuck_ap += mtj_conductance(c, v, 9, i, true) < 1.0 / 4500;  // programmed P, reads AP
  }
  EXPECT_LT(std::abs(stuck_p - 0.03 * n), 4 * std::sqrt(n * 0.03 * 0.97));
  EXPECT_LT(std::abs(stuck_ap - 0.02 * n), 4 * std::sqrt(n * 0.02 * 0.98));
}

TEST(Adc, TransferQuantisesToMultiplesOfTheStep) {
  CrossbarPhysics x({3000.0, 1.0, 0.25});
  for (int m = 0; m <= 512; ++m) {
    EXPECT_EQ(x.adc(x.column_current(m, 512), 512, 512, 1023), m);  // 10 bits: exact
    // 6 bits: 63 codes over 512 rows, step ceil(512/63) = 9; rounding half away from zero.
    const int q = std::min(512, 9 * static_cast<int>(std::lround(m / 9.0)));
    EXPECT_EQ(x.adc(x.column_current(m, 512), 512, 512, 63), q) << "m " << m;
  }
  // The integer shortcut used with ideal devices equals the current-domain transfer everywhere.
  for (int levels : {1023, 255, 63, 15, 7})
    for (int n : {1, 37, 512})
      for (int m = 0; m <= n; ++m)
        EXPECT_EQ(CrossbarPhysics::adc_of_matches(m, n, CrossbarPhysics::adc_step(512, levels)),
                  x.adc(x.column_current(m, n), n, 512, levels)) << levels << " " << n << " " << m;
  // 510 matches round to 57 * 9 = 513, clamped to the 512 rows; 100 of 100 active rows read 99.
  EXPECT_EQ(x.adc(x.column_current(510, 512), 512, 512, 63), 512);
  EXPECT_EQ(x.adc(x.column_current(100, 100), 100, 512, 63), 99);
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// A sweep of the drive current against an independent Monte Carlo of thermally activated
// switching: the time to switch is exponential with mean tau(I) (Neel-Brown), so the fraction of
// pulses of length t_p that switch must match eq. S1 within sampling error.
TEST(StochasticMtj, CurrentSweepMatchesAMonteCarloOfSwitchingTimes) {
  StochasticMtjParams p;
  std::mt19937_64 rng(17);
  const int n = 20000;
  for (double frac : {0.90, 0.93, 0.95, 0.97, 0.99}) {
    const double i = frac * p.ic0_A;
    const double tau = p.tau0_s * std::exp(thermal_stability(p) * (1.0 - i / p.ic0_A));
    std::exponential_distribution<double> t_switch(1.0 / tau);
    int switched = 0;
    for (int k = 0; k < n; ++k) switched += t_switch(rng) < p.write_pulse_s;
    const double ps = switching_probability(p, i, p.write_pulse_s);
    EXPECT_LT(std::fabs(switched - n * ps), 4 * std::sqrt(n * ps * (1 - ps)) + 1) << "I/Ic0 = " << frac;
  }
}

}  // namespace
}  // namespace bayescim::hw

namespace bayescim::hw {
namespace {

// eq. X0: the access transistor in series with each conducting MTJ.
TEST(Crossbar, AccessTransistorInSeriesByHand) {
  CellParams c = nvsim();
  c.r_access_ohm = 1000;
  CrossbarPhysics x(c);
  // 3 P branches of 3k + 1k and one AP branch of 6k + 1k at 0.25 V:
  // 0.25 * (3/4000 + 1/7000) = 2.2321428571e-4 A.
  EXPECT_NEAR(x.column_current(3, 4), 2.2321428571e-4, 1e-13);
  EXPECT_NEAR(x.g_p(), 1.0 / 4000, 1e-18);
  EXPECT_NEAR(x.g_ap(), 1.0 / 7000, 1e-18);
  // The transistor drops V R_T / (R + R_T): 62.5 mV with a P MTJ.
  EXPECT_NEAR(x.v_cell() * x.g_p() * c.r_access_ohm, 0.0625, 1e-15);
  // The ADC and SA references are built from the same branch conductances, so they still invert it.
  for (int m = 0; m <= 64; ++m) EXPECT_EQ(x.ideal_adc(x.column_current(m, 64), 64), m);
  // A device without variation conducts exactly the nominal branch conductance.
  const MtjDevice d = mtj_device(c, CellVariation{}, 1, 7);
  EXPECT_DOUBLE_EQ(d.conductance(true, c.r_access_ohm), x.g_p());
  EXPECT_DOUBLE_EQ(d.conductance(false, c.r_access_ohm), x.g_ap());
}

// Write-verify: pulses per MTJ are a geometric number truncated at M, so with write error rate e
// the mean is (1 - e^M) / (1 - e) and a fraction e^M of MTJs is still wrong after M pulses.
TEST(Programming, WriteVerifyAttemptsAndResidualErrorsMatchTheClosedForm) {
  const double e = 0.3;
  const int n = 200000;
  for (int m : {1, 3}) {
    for (bool verify : {false, true}) {
      double pulses = 0;
      int wrong = 0;
      for (int i = 0; i < n; ++i) {
        bool ok = false;
        pulses += write_attempts(11, static_cast<std::uint64_t>(i), e, verify, m, &ok);
        wrong += ok ? 0 : 1;
      }
      const int mm = verify ? m : 1;  // without verify there is one pulse, whatever max_attempts says
      const double residual = std::pow(e, mm), mean = (1 - std::pow(e, mm)) / (1 - e);
      EXPECT_LT(std::abs(wrong - residual * n), 5 * std::sqrt(n * residual * (1 - residual))) << m << verify;
      EXPECT_NEAR(pulses / n, mean, 0.01) << m << verify;
    }
  }
  bool ok = false;
  EXPECT_EQ(write_attempts(11, 5, 0.0, true, 8, &ok), 1);  // a perfect device: one pulse
  EXPECT_TRUE(ok);
}

// The geometric skip used for read disturb: P(skip = k) = (1 - q)^k q, mean (1 - q) / q.
TEST(ReadDisturb, GeometricSkipHasTheClosedFormDistribution) {
  const double q = 0.05;
  const int n = 100000;
  double mean = 0;
  int zeros = 0;
  for (int i = 0; i < n; ++i) {
    const long s = disturb_skip(uniform01(hash_key(3, 4, static_cast<std::uint64_t>(i), 0)), q);
    mean += static_cast<double>(s) / n;
    zeros += s == 0;
  }
  const double want = (1 - q) / q, sd = std::sqrt(1 - q) / q;
  EXPECT_NEAR(mean, want, 5 * sd / std::sqrt(n));
  EXPECT_LT(std::abs(zeros - q * n), 5 * std::sqrt(n * q * (1 - q)));
  EXPECT_EQ(disturb_skip(0.5, 1.0), 0);
}

// Per-action overrides replace the energy of that action only; counts stay.
TEST(EnergyTable, OverridesReplaceTheEnergyPerActionOfNamedActions) {
  StatsSink s;
  s.action("t0", "sense_amp", "latch", 10, 5e-15);
  s.action("t1", "sense_amp", "latch", 6, 5e-15);
  s.action("t0", "adc", "conversion", 4, 1e-12);
  s.override_energy({{"sense_amp.latch", 2e-15}});
  const auto e = s.energy_by_component();
  EXPECT_DOUBLE_EQ(e.at("sense_amp"), 16 * 2e-15);
  EXPECT_DOUBLE_EQ(e.at("adc"), 4e-12);
  for (const auto& name : overridable_actions()) EXPECT_NE(name.find('.'), std::string::npos) << name;
}

// Wordline and bitline driver energies (eq. E1, E2) by hand.
TEST(EnergyTable, DriverEnergiesByHand) {
  ArchParams a;
  a.rows = 512;
  a.cols = 128;
  a.wordline_cap_F_per_cell = 0.1e-15;
  a.wordline_voltage_V = 0.8;
  a.bitline_cap_F_per_cell = 0.05e-15;
  DeviceParams d;  // V_read 0.25 V
  EXPECT_NEAR(derive_action_table(a).wordline_row_J, 0.1e-15 * 128 * 0.64, 1e-30);  // 8.192 fJ
  EXPECT_NEAR(bitline_energy(a, d), 0.05e-15 * 512 * 0.0625, 1e-30);                // 1.6 fJ
  // The exact ADC resolution follows the rows one read may enable.
  EXPECT_EQ(adc_bits_for(a), 10);
  a.rows_per_read = 64;
  EXPECT_EQ(adc_bits_for(a), 7);
}

}  // namespace
}  // namespace bayescim::hw
