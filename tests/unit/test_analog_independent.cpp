// The analog read path against an independent implementation: the array's own per-MTJ
// conductances (CellArray::g_a / g_b, what the devices were programmed to, with variation, stuck-at
// faults and the access transistor) are fed to a plain loop written here from the documented
// equations, eq. X0, X1 and the ADC transfer of docs/hardware.md, and the loop's codes must be
// the engine's. Then closed forms on the simulator's outputs for TMR variation and stuck-at faults.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "hw/engine/array_engine.h"
#include "hw/mapper.h"
#include "models/bitops.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

struct AnalogArray {
  models::Network net;
  models::CompiledNetwork compiled;
  ArrayEngine::Config cfg;
  AnalogArray(const CellVariation& v, int rows_per_read, int adc_bits, std::uint64_t seed)
      : net(testing::random_network({100, 8, 3}, seed, false)), compiled(net) {
    cfg.arch.rows = 64;  // 100 inputs: row tiles of 64 and 36, the ADC path
    cfg.arch.cols = 8;
    cfg.arch.rows_per_read = rows_per_read;
    cfg.arch.adc_bits = adc_bits;
    cfg.device.cell = {3000, 1.0, 0.25, 0.15, 400};  // R_P, TMR, V_read, V_acc, R_T
    cfg.device.variation = v;
    const Mapping m = map_network(compiled, cfg.arch);
    cfg.slice = m.arrays[0];
    cfg.sa_path = m.layers[0].sa_path;
    cfg.seed = seed;
  }
};

// x = +1 / -1 per input and the wordline enables, packed as the controller packs them.
void pack(const std::vector<int>& x, const std::vector<bool>& on, std::vector<std::uint64_t>& rows,
          std::vector<std::uint64_t>& act) {
  rows.assign((x.size() + 63) / 64, 0);
  act.assign(rows.size(), 0);
  for (std::size_t r = 0; r < x.size(); ++r) {
    models::set_bit(rows.data(), static_cast<int>(r), x[r] > 0);
    models::set_bit(act.data(), static_cast<int>(r), on[r]);
  }
}

// The independent model of one column read in groups of `g` rows: each active row conducts
// through the MTJ its input selects (A, storing w, for x = +1; B for x = -1), I = V_cell * sum G
// (X0, X1); the ADC inverts X1 with its references' conductances G_P, G_AP (nominal: eq. X0 of
// the median cell; calibrated: the population means of eq. X4, tested in test_physics.cpp),
// m = (I / V_cell - N G_AP) / (G_P - G_AP), rounds to a multiple of
// step = max(1, ceil(g / (2^bits - 1))) and clamps to [0, N]; the groups' codes add.
int column_code(const AnalogArray& s, const CellArray& cells, int c, const std::vector<int>& x, const std::vector<bool>& on,
                int g, int bits, double gp, double gap, double* read_J) {
  const CellParams& p = s.cfg.device.cell;
  const double v_cell = p.v_read_V - p.v_access_V;
  const int rows = s.cfg.slice.rows, levels = (1 << bits) - 1;
  int total = 0;
  for (int lo = 0; lo < rows; lo += g) {
    const int hi = std::min(rows, lo + g);
    double sum_g = 0;
    int n = 0;
    for (int r = lo; r < hi; ++r) {
      if (!on[static_cast<std::size_t>(r)]) continue;
      ++n;
      const std::size_t at = static_cast<std::size_t>(c) * rows + static_cast<std::size_t>(r);
      sum_g += x[static_cast<std::size_t>(r)] > 0 ? cells.g_a()[at] : cells.g_b()[at];
    }
    const double i = v_cell * sum_g;
    *read_J += p.v_read_V * i * s.cfg.arch.read_pulse_s;  // from the supply (E0)
    const double m = (i / v_cell - n * gap) / (gp - gap);
    const int step = std::max(1, (hi - lo + levels - 1) / levels);
    const long q = std::lround(m / step) * step;
    total += static_cast<int>(std::max<long>(0, std::min<long>(n, q)));
  }
  return total;
}

void check_against_loop(const CellVariation& v, int rows_per_read, int adc_bits, bool calibrated) {
  AnalogArray s(v, rows_per_read, adc_bits, 41);
  ASSERT_FALSE(s.cfg.sa_path);
  s.cfg.arch.calibrated_references = calibrated;
  const CellParams& p = s.cfg.device.cell;
  double gp = 1.0 / (p.r_p_ohm + p.r_access_ohm), gap = 1.0 / (p.r_p_ohm * (1 + p.tmr) + p.r_access_ohm);
  if (calibrated) {
    const MeanConductances m = mean_conductances(p, v);
    EXPECT_GT(m.g_p, gp);  // the lognormal spread raises the mean conductance (median kept)
    gp = m.g_p, gap = m.g_ap;
  }
  ArrayEngine engine(s.cfg);
  engine.program(s.compiled.layers[0]);
  ASSERT_TRUE(engine.cells().analog());
  const int bits = adc_bits > 0 ? adc_bits : [&] { int b = 0; while ((1 << b) < rows_per_read + 1) ++b; return b; }();
  int differing_from_ideal = 0;
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<int> x(100);
    std::vector<bool> on(100);
    for (int r = 0; r < 100; ++r) {
      x[static_cast<std::size_t>(r)] = ((r * 2654435761u + trial * 977u) >> 9) & 1 ? 1 : -1;
      on[static_cast<std::size_t>(r)] = ((r * 40503u + trial * 131u) >> 5) % 7 != 0;
    }
    std::vector<std::uint64_t> rows, act;
    pack(x, on, rows, act);
    std::vector<int> partial(8, -1), active(1, -1);
    ArrayOp op;
    op.rows = rows.data();
    op.active = act.data();
    op.words = rows.size();
    op.partial = partial.data();
    op.active_rows = active.data();
    op.image_key = static_cast<std::uint64_t>(trial);
    const std::uint64_t before = engine.analog_read_units();
    engine.compute(op);
    double read_J = 0;
    for (int c = 0; c < s.cfg.slice.cols; ++c) {
      const int want = column_code(s, engine.cells(), c, x, on, rows_per_read, bits, gp, gap, &read_J);
      EXPECT_EQ(partial[static_cast<std::size_t>(c)], want) << "trial " << trial << " column " << c;
      // The ideal count, to see that the variation does move codes.
      int m = 0;
      for (int r = 0; r < s.cfg.slice.rows; ++r)
        if (on[static_cast<std::size_t>(r)] && x[static_cast<std::size_t>(r)] == s.net.layers[0].weight[static_cast<std::size_t>(c) * 100 + r]) ++m;
      differing_from_ideal += m != want;
    }
    EXPECT_NEAR(engine.last_op_aJ() * 1e-18, read_J, 1e-9 * read_J);
    // The total grows by the operation's energy in whole 10 aJ units (within half a unit).
    EXPECT_NEAR(static_cast<double>(engine.analog_read_units() - before) * 1e-17, read_J, 0.5e-17);
  }
  EXPECT_GT(differing_from_ideal, 0);  // the non-idealities are large enough to show
}

TEST(AnalogIndependent, VariationAndFaultsEqualAPlainLoopOverTheSameConductances) {
  CellVariation v;
  v.r_p_sigma_log = 0.15;
  v.tmr_sigma_rel = 0.1;
  v.stuck_p_rate = 0.03;
  v.stuck_ap_rate = 0.03;
  for (bool calibrated : {false, true}) {
    check_against_loop(v, 16, 0, calibrated);  // exact 5-bit ADC per 16-row group
    check_against_loop(v, 32, 3, calibrated);  // a 3-bit ADC rounds to multiples of ceil(32 / 7) = 5
  }
}

// TMR variation alone leaves every P MTJ at R_P: a column whose every active row matches conducts
// only through P MTJs, so its current is exactly N V_cell G_P and its code exactly N, whatever the
// AP resistances are. A column whose every active row mismatches conducts only through AP MTJs
// and does move. Stuck-at-AP everywhere makes every branch AP: every code is 0.
TEST(AnalogIndependent, TmrSpreadCannotMoveAnAllMatchingColumnAndAllStuckApReadsZero) {
  CellVariation v;
  v.tmr_sigma_rel = 0.3;
  AnalogArray s(v, 16, 0, 7);
  ArrayEngine engine(s.cfg);
  engine.program(s.compiled.layers[0]);
  std::vector<int> x(100);
  std::vector<bool> on(100, true);
  for (int r = 0; r < 100; ++r) x[static_cast<std::size_t>(r)] = s.net.layers[0].weight[static_cast<std::size_t>(r)];  // column 0's weights
  std::vector<std::uint64_t> rows, act;
  pack(x, on, rows, act);
  std::vector<int> partial(8), active(1);
  ArrayOp op;
  op.rows = rows.data();
  op.active = act.data();
  op.words = rows.size();
  op.partial = partial.data();
  op.active_rows = active.data();
  engine.compute(op);
  EXPECT_EQ(partial[0], s.cfg.slice.rows);  // all 64 rows of the tile match column 0
  EXPECT_EQ(active[0], s.cfg.slice.rows);

  CellVariation stuck;
  stuck.stuck_ap_rate = 1.0;
  AnalogArray t(stuck, 16, 0, 7);
  ArrayEngine all_ap(t.cfg);
  all_ap.program(t.compiled.layers[0]);
  all_ap.compute(op);
  for (int c = 0; c < 8; ++c) EXPECT_EQ(partial[static_cast<std::size_t>(c)], 0) << c;
}

}  // namespace
}  // namespace bayescim::hw
