// The stochastic MTJ from device physics (issue 19): the run-time switching table (T1-T3), the
// junction-voltage limit (V1), the driver (D1), the energy of a random bit from the supplies (S4'),
// the device file's checks, and the shipped table against the macrospin solver. Expected values
// are worked out here by hand from the device file's numbers, not from the code's formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "hw/physics/macrospin.h"
#include "hw/physics/stochastic_mtj.h"
#include "hw/physics/switching_table.h"
#include "sim/config.h"
#include "sim/errors.h"
#include "sim/stats_ci.h"

namespace bayescim {
namespace {

const std::string kDevice = "configs/devices/uta_stochastic_mtj.yaml";

// A 1 K x 2 pulses (1, 4 ns) x 3 currents (0, 10, 20 uA) table with a noisy, non-monotone row.
hw::SwitchingTable hand_table() {
  hw::SwitchingTable t;
  t.temperatures_K = {300};
  t.pulses_s = {1e-9, 4e-9};
  t.currents_A = {0, 10e-6, 20e-6};
  t.p_raw = {0.0, 0.3, 0.2,   // 1 ns: 0.3 > 0.2 violates; pooled to 0.25, 0.25
             0.1, 0.2, 0.9};  // 4 ns
  t.samples = 100;
  t.finalise();
  return t;
}

TEST(SwitchingTable, MonotoneSmoothingAndInterpolationByHand) {
  const hw::SwitchingTable t = hand_table();
  const std::vector<double> want = {0.0, 0.25, 0.25, 0.1, 0.25, 0.9};  // 4 ns row: max with the 1 ns row
  ASSERT_EQ(t.p_smoothed().size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(t.p_smoothed()[i], want[i], 1e-15) << i;
  // Linear in I at a tabulated pulse: halfway between 10 and 20 uA at 4 ns.
  EXPECT_NEAR(t.p_at(15e-6, 4e-9, 300), 0.5 * (0.25 + 0.9), 1e-12);
  // Linear in ln t: 2 ns is halfway between 1 and 4 ns in ln t.
  EXPECT_NEAR(t.p_at(20e-6, 2e-9, 300), 0.5 * (0.25 + 0.9), 1e-12);
  EXPECT_NEAR(t.p_at(0.0, 2e-9, 300), 0.05, 1e-12);
  EXPECT_THROW(t.p_at(21e-6, 2e-9, 300), std::domain_error);
  EXPECT_THROW(t.p_at(10e-6, 5e-9, 300), std::domain_error);
  EXPECT_THROW(t.p_at(10e-6, 2e-9, 310), std::domain_error);
}

TEST(SwitchingTable, MalformedGridsAreRefused) {
  hw::SwitchingTable t = hand_table();
  t.p_raw.pop_back();
  EXPECT_THROW(t.finalise(), std::invalid_argument);
  t = hand_table();
  t.pulses_s = {4e-9, 1e-9};
  EXPECT_THROW(t.finalise(), std::invalid_argument);
}

hw::StochasticMtjParams hand_device() {
  hw::StochasticMtjParams m;
  m.r_p_ohm = 5000;
  m.tmr = 1.0;                // R_AP 10 kOhm
  m.v_junction_max_V = 0.15;  // 15 uA at most
  m.write_pulse_s = 1e-9;
  m.table = std::make_shared<hw::SwitchingTable>(hand_table());
  return m;
}

// Variation on the table: a Delta of Delta (1 + s z) is the temperature T / (1 + s z); an I_c0 of
// I_c0 (1 + s z) sees the current I / (1 + s z). Every module's p lies between the table's values at
// the ends of those ranges, and no variation gives every module the nominal p.
TEST(Variation, ModulesOnTheTableStayWithinTheTablesRange) {
  hw::SwitchingTable t;
  t.temperatures_K = {250, 350};
  t.pulses_s = {1e-9, 4e-9};
  t.currents_A = {0, 10e-6, 20e-6};
  t.p_raw = {0.0, 0.1, 0.3, 0.0, 0.2, 0.5,   // 250 K
             0.0, 0.3, 0.6, 0.1, 0.5, 0.9};  // 350 K: hotter switches more
  t.samples = 100;
  t.finalise();
  hw::StochasticMtjParams m;
  m.temperature_K = 300;
  m.table = std::make_shared<hw::SwitchingTable>(t);
  hw::DriveChoice d;
  d.current_A = 10e-6;
  d.pulse_s = 1e-9;
  d.p = t.p_at(10e-6, 1e-9, 300);
  EXPECT_NEAR(d.p, 0.2, 1e-12);  // halfway between 0.1 and 0.3
  for (double q : hw::module_probabilities(m, hw::MtjVariation{}, d, 8, 1)) EXPECT_EQ(q, d.p);
  const auto by_delta = hw::module_probabilities(m, hw::MtjVariation{0.1, 0.0}, d, 400, 1);
  double lo = 1, hi = 0;
  for (double q : by_delta) {
    EXPECT_GE(q, 0.1 - 1e-12);
    EXPECT_LE(q, 0.3 + 1e-12);
    lo = std::min(lo, q);
    hi = std::max(hi, q);
  }
  EXPECT_LT(lo, 0.17);  // a larger Delta is a colder device: less switching
  EXPECT_GT(hi, 0.23);
  for (double q : hw::module_probabilities(m, hw::MtjVariation{0.0, 0.1}, d, 400, 1)) {
    EXPECT_GE(q, 0.0);
    EXPECT_LE(q, 0.45 + 1e-12);  // I / (1 + s z) <= 20 uA: at most p(20 uA, 1 ns, 300 K) = 0.45
  }
}

// eq. D3 by hand: calibrated at 250 K the driver gives 10 uA for p = 0.1 (the 250 K row at 1 ns is
// 0, 0.1, 0.3); the same drive at 350 K switches with that row's 0.3.
TEST(Driver, CalibratedAtOneTemperatureRunAtAnotherDrifts) {
  hw::SwitchingTable t;
  t.temperatures_K = {250, 350};
  t.pulses_s = {1e-9, 4e-9};
  t.currents_A = {0, 10e-6, 20e-6};
  t.p_raw = {0.0, 0.1, 0.3, 0.0, 0.2, 0.5, 0.0, 0.3, 0.6, 0.1, 0.5, 0.9};
  t.samples = 100;
  t.finalise();
  hw::StochasticMtjParams m;
  m.table = std::make_shared<hw::SwitchingTable>(t);
  m.temperature_K = 250;
  hw::DriveChoice d = hw::choose_drive(m, 0.1);
  EXPECT_NEAR(d.current_A, 10e-6, 1e-13);
  EXPECT_NEAR(d.p, 0.1, 1e-8);
  m.temperature_K = 350;
  m.calibration_temperature_K = 250;
  d = hw::choose_drive(m, 0.1);
  EXPECT_NEAR(d.current_A, 10e-6, 1e-13);
  EXPECT_NEAR(d.p, 0.3, 1e-8);
}

TEST(VoltageLimit, LargestDriveIsTheLimitOverRap) {
  hw::StochasticMtjParams m = hand_device();
  EXPECT_NEAR(hw::max_drive_current(m), 0.15 / 10000.0, 1e-18);
  m.v_junction_max_V = 0.0;
  EXPECT_TRUE(std::isinf(hw::max_drive_current(m)));
}

TEST(Driver, CurrentFirstThenPulseWidthAtTheLimit) {
  const hw::StochasticMtjParams m = hand_device();
  // At 1 ns, p(I) = 0.025 I/uA up to 10 uA, then 0.25: p(15 uA) = 0.25. Target 0.1 -> 4 uA.
  hw::DriveChoice d = hw::choose_drive(m, 0.1);
  EXPECT_NEAR(d.current_A, 4e-6, 1e-12);
  EXPECT_NEAR(d.pulse_s, 1e-9, 1e-21);
  EXPECT_FALSE(d.pulse_stretched);
  // Above 0.25 the current stops at 15 uA; at 15 uA p(t) = 0.25 + (0.575 - 0.25) ln(t/1ns)/ln 4
  // (4 ns: halfway between 0.25 and 0.9). Target 0.4 -> ln(t/1ns) = ln 4 * 0.15/0.325.
  d = hw::choose_drive(m, 0.4);
  EXPECT_NEAR(d.current_A, 15e-6, 1e-15);
  EXPECT_TRUE(d.pulse_stretched);
  EXPECT_NEAR(d.pulse_s, 1e-9 * std::exp(std::log(4.0) * 0.15 / 0.325), 1e-17);
  EXPECT_NEAR(d.p, 0.4, 1e-8);
  // 0.575 is the most the device gives: 0.6 is refused with the reachable range.
  try {
    hw::choose_drive(m, 0.6);
    FAIL() << "no error";
  } catch (const std::domain_error& e) {
    EXPECT_NE(std::string(e.what()).find("p in [0, 0.575]"), std::string::npos) << e.what();
  }
}

// eq. D2 by hand: at 1 ns the hand table's p(I) is 0.025 per uA below 10 uA; a module with
// I_c0 (1 + e) sees I / (1 + e), so dp/dI_c0 = -(I / I_c0) dp/dI = -(4 / 20) 0.025 per uA.
TEST(Driver, SensitivityToTheCriticalCurrentByHand) {
  hw::StochasticMtjParams m = hand_device();
  m.ic0_A = 20e-6;
  const hw::DriveChoice d = hw::choose_drive(m, 0.1);  // 4 uA
  EXPECT_NEAR(hw::dp_dic0(m, d), -(4.0 / 20.0) * 0.025e6, 1e-6 * 0.025e6);
  // eq. S1 (Delta 40, I_c0 100 uA, tau0 = t_p = 1 ns): p = 1 - exp(-exp(-40 (1 - I / I_c0))), so
  // dp/dI_c0 = -(1 - p) x (-ln(1 - p)) x 40 I / I_c0^2.
  const hw::StochasticMtjParams s;
  const hw::DriveChoice ds = hw::choose_drive(s, 0.2);
  const double x = -std::log(0.8);
  EXPECT_NEAR(hw::dp_dic0(s, ds), -0.8 * x * 40.0 * ds.current_A / (100e-6 * 100e-6), 2e-3 * 0.8 * x * 40.0 / 100e-6);
}

TEST(Driver, ThermalModelRefusesBeyondItsRangeNamingIt) {
  hw::StochasticMtjParams m;  // eq. S1, t_p = tau0 = 1 ns: p < 1 - 1/e
  try {
    hw::choose_drive(m, 0.7);
    FAIL() << "no error";
  } catch (const std::domain_error& e) {
    char want[32];
    std::snprintf(want, sizeof want, "(0, %.4g)", 1.0 - std::exp(-1.0));
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
  }
}

// eq. S4' by hand for the shipped device: V_DD 1.2 V, reset 90 uA x 10 ns, bias ratio 1/8,
// read 0.1 V x 1 ns through 5 kOhm (P) or 11 kOhm (AP), SA 5 fJ, latch 2 fJ.
TEST(EnergyPerBit, ShippedDeviceByHandFromThePulses) {
  const sim::DropoutDevice dev = sim::load_dropout_device(kDevice, false);
  const auto& m = dev.unit.mtj;
  hw::DriveChoice d;
  d.current_A = 90e-6;
  d.pulse_s = 2.5e-9;
  const double reset = 1.2 * 90e-6 * 10e-9;   // 1.08 pJ
  const double write = 1.2 * 90e-6 * 2.5e-9;  // 0.27 pJ
  const double driver = write / 8.0;
  const double read_p = 0.1 * (0.1 / 5000.0) * 1e-9, read_ap = 0.1 * (0.1 / 11000.0) * 1e-9;
  const hw::BitPhaseEnergy e0 = hw::bit_energy(m, d, false), e1 = hw::bit_energy(m, d, true);
  EXPECT_NEAR(e0.reset_J, reset, 1e-20);
  EXPECT_NEAR(e0.write_J, write, 1e-20);
  EXPECT_NEAR(e0.driver_J, driver, 1e-20);
  EXPECT_NEAR(e0.read_J, read_p, 1e-24);
  EXPECT_NEAR(e1.read_J, read_ap, 1e-24);
  EXPECT_NEAR(e0.total(), reset + write + driver + read_p + 5e-15 + 2e-15, 1e-20);
  EXPECT_NEAR(e1.total(), reset + write + driver + read_ap + 5e-15 + 2e-15, 1e-20);
  // Latency: reset 10 + write 2.5 + relax 10 + read 1 + SA 0.5 ns.
  EXPECT_NEAR(hw::bit_latency(m, 2.5e-9), 24e-9, 1e-20);
}

TEST(ShippedDevice, RespectsTheJunctionVoltageLimit) {
  const sim::DropoutDevice dev = sim::load_dropout_device(kDevice, true);
  const auto& m = dev.unit.mtj;
  const double r_ap = 5000.0 * 2.2;
  EXPECT_LE(m.reset_current_A * r_ap, 1.0);
  EXPECT_EQ(m.v_junction_max_V, 1.0);
  for (double p : {0.05, 0.3, 0.7, 0.95}) EXPECT_LE(hw::choose_drive(m, p).current_A * r_ap, 1.0 + 1e-12) << p;
  // The reset (AP -> P at 90 uA for 10 ns) switched in every trial of the table.
  EXPECT_LT(hw::reset_failure_probability(m), 1e-3);
  EXPECT_NE(dev.info.table_provenance.find("samples:"), std::string::npos);
  EXPECT_NE(dev.info.table_provenance.find(hw::kLlgSolverVersion), std::string::npos);
}

// The shipped table against fresh solver runs (another seed) at points between its grid, and
// every p in [0.05, 0.95] realised: the solver at the drive the driver picks gives p within the
// sampling error of both (4 sigma) plus 0.03 for the interpolation.
double solver_p(const hw::LlgParams& g, double relax_s, double i, double t, int n, std::uint64_t seed) {
  hw::LlgRunOptions o;
  o.settle_mz = 0.9;
  return hw::switching_probability_llg(g, i, t, relax_s, n, seed, nullptr, o);
}

TEST(ShippedDevice, TableAgreesWithTheSolverBetweenItsPoints) {
  const sim::DropoutDevice dev = sim::load_dropout_device(kDevice, true);
  const auto& m = dev.unit.mtj;
  const int n = 1500, nt = m.table->samples;
  // The last point lies beyond the voltage limit (91 uA), where only the I_c0 spread reads the table.
  for (const auto& [i, t] : {std::pair{90.9e-6, 1.8e-9}, std::pair{90.9e-6, 2.6e-9}, std::pair{75e-6, 3.1e-9},
                             std::pair{118e-6, 1.4e-9}}) {
    const double pt = m.table->p_at(i, t, 300.0), ps = solver_p(*dev.info.llg, m.relax_s, i, t, n, 977);
    const double sigma = std::sqrt(0.25 / n + 0.25 / nt);
    EXPECT_NEAR(pt, ps, 4 * sigma + 0.03) << i << " A, " << t << " s";
  }
}

TEST(ShippedDevice, AnyPFrom005To095IsRealised) {
  const sim::DropoutDevice dev = sim::load_dropout_device(kDevice, true);
  const auto& m = dev.unit.mtj;
  const int n = 1500, nt = m.table->samples;
  for (double target : {0.05, 0.2, 0.5, 0.7, 0.95}) {
    const hw::DriveChoice d = hw::choose_drive(m, target);
    EXPECT_NEAR(d.p, target, 1e-6);
    const double ps = solver_p(*dev.info.llg, m.relax_s, d.current_A, d.pulse_s, n, 4242);
    const double sigma = std::sqrt(target * (1 - target) * (1.0 / n + 1.0 / nt));
    EXPECT_NEAR(ps, target, 4 * sigma + 0.03) << "target " << target << ": " << d.current_A << " A for " << d.pulse_s;
  }
}

// The I_c0 spread at the shipped operating point (p = 0.2: the drive at the voltage limit, the pulse
// stretched). A module with I_c0 (1 + s z) sees I / (1 + s z), so the modules below nominal (z < 0)
// switch more: half of them lie above the nominal p, and their mean is E_z[p(I / (1 + s z))], here a
// trapezoid over z in [-6, 6] against the normal density. This needs the table beyond the limit:
// clamped at the limit, every module with z < 0 got the nominal p and the mean fell (0.166 at s 0.1).
TEST(ShippedDevice, Ic0SpreadMovesModulesBothWaysAroundTheNominalP) {
  const sim::DropoutDevice dev = sim::load_dropout_device(kDevice, true);
  const auto& m = dev.unit.mtj;
  const auto& t = *m.table;
  EXPECT_GE(t.max_current(), 1.4 * hw::max_drive_current(m));  // I_c0 down to 1/1.4 of nominal
  const hw::DriveChoice d = hw::choose_drive(m, 0.2);
  ASSERT_TRUE(d.pulse_stretched);
  const double s = 0.1;
  const std::size_t n = 4000;
  const auto mods = hw::module_probabilities(m, hw::MtjVariation{0.0, s}, d, n, 7);
  double mean = 0, sq = 0;
  std::size_t above = 0;
  for (double q : mods) {
    mean += q / n;
    sq += q * q / n;
    above += q > d.p;
  }
  const double sd = std::sqrt(sq - mean * mean);
  double want = 0, want2 = 0, norm = 0;
  const int k = 2400;
  for (int j = 0; j <= k; ++j) {
    const double z = -6.0 + 12.0 * j / k, w = (j == 0 || j == k ? 0.5 : 1.0) * std::exp(-0.5 * z * z);
    // Below z = (I / I_max - 1) / s = -3.3 (mass 4e-4) the current leaves the table, whose edge
    // the module then takes (documented); its share of the mean is under 4e-4.
    const double q = t.p_at(std::min(d.current_A / (1.0 + s * z), t.max_current()), d.pulse_s, m.temperature_K);
    want += w * q;
    want2 += w * q * q;
    norm += w;
  }
  want /= norm;
  want2 /= norm;
  const double want_sd = std::sqrt(want2 - want * want);
  EXPECT_NEAR(static_cast<double>(above) / n, 0.5, 4 * std::sqrt(0.25 / n));
  EXPECT_NEAR(mean, want, 4 * want_sd / std::sqrt(double(n)));
  EXPECT_GT(mean, d.p);  // p is convex enough in 1 / I_c0 here: the spread raises the mean
  EXPECT_NEAR(sd, want_sd, 0.06 * want_sd);
}

// eq. V4: the macrospin of area k A at (I, T) is the one of area A at (I / k, T / k): the thermal
// field's variance goes as T / V and the torque as I / A, while H_k and the demag factors (held)
// do not move. The solver knows nothing of this scaling; with the same seed its trials should
// follow the same trajectories up to rounding, so the counts agree to a few trials.
TEST(Macrospin, AreaScalesLikeCurrentAndTemperature) {
  hw::LlgParams a;  // the shipped free layer, 300 K
  hw::LlgParams big = a;
  const double k = 1.2;
  big.a_m *= std::sqrt(k);
  big.b_m *= std::sqrt(k);
  hw::LlgParams cold = a;
  cold.temperature_K = a.temperature_K / k;
  int n_big = 0, n_cold = 0;
  const double i = 100e-6, tp = 2e-9;
  hw::LlgRunOptions o;
  o.dt_s = hw::llg_default_dt(a, i / k);  // one step for both, so the noise samples are the same
  hw::switching_probability_llg(big, i, tp, 2e-9, 400, 17, &n_big, o);
  hw::switching_probability_llg(cold, i / k, tp, 2e-9, 400, 17, &n_cold, o);
  EXPECT_GT(n_big, 40);  // a p well inside (0, 1): the comparison means something
  EXPECT_LT(n_big, 360);
  EXPECT_NEAR(n_big, n_cold, 4);
}

// eq. V4 on the thermal-activation model: an area spread scales Delta and I_c0 by the same factor
// per module; the sample mean and spread of the modules against a Monte Carlo drawn here.
TEST(Variation, SizeSpreadScalesDeltaAndIc0Together) {
  hw::StochasticMtjParams p;
  hw::MtjVariation v;
  v.size_sigma_rel = 0.05;
  const double drive = hw::drive_current_for(p, 0.2);
  const std::size_t n = 40000;
  const auto mods = hw::module_probabilities(p, v, drive, 0.2, n, 11);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0.0, 1.0);
  double m1 = 0, m2 = 0, s1 = 0, s2 = 0;
  std::vector<double> mc(n);
  for (std::size_t i = 0; i < n; ++i) {
    hw::StochasticMtjParams d = p;
    const double kk = 1.0 + v.size_sigma_rel * z(rng);  // one area factor for both
    d.delta_300K *= kk;
    d.ic0_A *= kk;
    mc[i] = hw::switching_probability(d, drive, p.write_pulse_s);
    m1 += mods[i] / n;
    m2 += mc[i] / n;
  }
  for (std::size_t i = 0; i < n; ++i) {
    s1 += (mods[i] - m1) * (mods[i] - m1) / n;
    s2 += (mc[i] - m2) * (mc[i] - m2) / n;
  }
  EXPECT_GT(std::sqrt(s1), 0.01);
  EXPECT_NEAR(m1, m2, 4 * std::sqrt(s2 / n) * std::sqrt(2.0));
  // 1.5 %: independent Delta and I_c0 factors of the same sigma would give a spread about 4 % smaller
  // here (the exponent of S1 moves by Delta dk when both scale, by Delta ((1 - x) dk1 + x dk2) when
  // they do not, x = I / I_c0 = 0.96 at p = 0.2).
  EXPECT_NEAR(std::sqrt(s1), std::sqrt(s2), 0.015 * std::sqrt(s2));
}

// M12: ending the relax at |m_z| >= 0.9 decides the same trials as the full 10 ns relax (the same
// trajectories up to the early end; a return from 0.9 needs 0.81 Delta = 16 k_B T).
TEST(Macrospin, EarlyEndOfTheRelaxDecidesTheSameTrials) {
  const hw::LlgParams g;  // the shipped free layer
  hw::LlgRunOptions early;
  early.settle_mz = 0.9;
  int full = 0, cut = 0;
  hw::switching_probability_llg(g, 90.9e-6, 2.2e-9, 10e-9, 600, 5, &full);
  hw::switching_probability_llg(g, 90.9e-6, 2.2e-9, 10e-9, 600, 5, &cut, early);
  EXPECT_GT(full, 100);
  EXPECT_LT(full, 500);
  EXPECT_LE(std::abs(full - cut), 3) << full << " vs " << cut;
}

// A device file with one line replaced; the error names the file, the key and what is allowed.
std::string variant(const std::string& from, const std::string& to) {
  std::ifstream in(kDevice);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  const auto dir = std::filesystem::temp_directory_path() / ("bayescim_dev19_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "device.yaml";
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(const std::string& path) {
  try {
    sim::load_dropout_device(path, false);
  } catch (const sim::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceFile, BadKeysAreNamedWithTheFile) {
  std::string path = variant("alpha: 0.03", "alpha: -0.03");
  std::string e = error_of(path);
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("llg.alpha"), std::string::npos) << e;
  EXPECT_NE(e.find("[0.0001, 1]"), std::string::npos) << e;

  e = error_of(variant("demag: [0.0106, 0.0106, 0.9788]", "demag: [0.1, 0.1]"));
  EXPECT_NE(e.find("llg.demag"), std::string::npos) << e;

  e = error_of(variant("RA_ohm_m2: 9.818e-12", "RA_ohm_m2: 2e-11"));  // R_P 10.2 kOhm vs 5 kOhm
  EXPECT_NE(e.find("within 5 %"), std::string::npos) << e;

  e = error_of(variant("reset_current_uA: 90 ", "reset_current_uA: 200 "));  // 2.2 V across R_AP
  EXPECT_NE(e.find("reset_current_uA"), std::string::npos) << e;
  EXPECT_NE(e.find("2.2"), std::string::npos) << e;

  e = error_of(variant("reset_current_uA: 90 ", "reset_current_density_A_per_m2: 4e10\nreset_current_uA: 90 "));
  EXPECT_NE(e.find("exactly one of"), std::string::npos) << e;

  e = error_of(variant("  alpha: 0.03", "  alpha: 0.03\n  gamma: 1"));
  EXPECT_NE(e.find("unknown key 'llg.gamma'"), std::string::npos) << e;
}

TEST(DeviceFile, ResetAsACurrentDensityUsesTheLlgArea) {
  // 4e10 A/m^2 over pi (50 nm)^2 / 4 = 1963.5 nm^2: 78.54 uA.
  const sim::DropoutDevice dev =
      sim::load_dropout_device(variant("reset_current_uA: 90 ", "reset_current_density_A_per_m2: 4e10 "), false);
  EXPECT_NEAR(dev.unit.mtj.reset_current_A, 4e10 * 3.14159265358979 * 25e-9 * 25e-9, 1e-12);
}

}  // namespace
}  // namespace bayescim
