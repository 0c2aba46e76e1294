// Harness tests of single modules (issue 15): a test initiator drives one module's socket with
// typed commands, and the annotated delays, outputs and statistics are checked against values
// derived here from the documented rules (docs/hardware.md, docs/architecture.md), not from the
// module's code. Each TEST runs in its own process (gtest_discover_tests), so each may elaborate once.
#include <memory>
#include <algorithm>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <vector>

#include "hw/dropout_source.h"
#include "hw/mapper.h"
#include "hw/protocol.h"
#include "hw/stats.h"
#include "hw/tile.h"
#include "models/compiled.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;

// Runs `body` in an SC_THREAD with an initiator socket bound to the module under test.
struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> socket{"socket"};
  std::function<void(Driver&)> body;
  Driver(sc_core::sc_module_name n, std::function<void(Driver&)> b) : sc_module(n), body(std::move(b)) {
    SC_HAS_PROCESS(Driver);
    SC_THREAD(run);
  }
  void run() { body(*this); }
};

double stat(const StatsSink& s, const std::string& name) {
  for (const auto& st : s.stats())
    if (st.name == name) return st.value;
  ADD_FAILURE() << "no statistic " << name;
  return -1;
}

// One dense layer on one array: fan-in `in`, `out` neurons, on rows x cols arrays.
struct OneLayer {
  models::Network net;
  models::CompiledNetwork compiled;
  Mapping mapping;
  Tile::Config cfg;
  OneLayer(int in, int out, int rows, int cols, int cols_per_adc)
      : net(testing::random_network({in, out, 3}, 17, false)), compiled(net) {
    cfg.arch.rows = rows;
    cfg.arch.cols = cols;
    cfg.arch.cols_per_adc = cols_per_adc;
    mapping = map_network(compiled, cfg.arch);
    cfg.slice = mapping.arrays[0];
    cfg.sa_path = mapping.layers[0].sa_path;
    cfg.index = 0;
    cfg.seed = 3;
  }
  // x and the enables as the controller packs them (one position), from +-1 values and a mask.
  void drive(const std::vector<int>& x, const std::vector<bool>& on, std::vector<std::uint64_t>& rows,
             std::vector<std::uint64_t>& active) const {
    rows.assign(compiled.layers[0].words, 0);
    active.assign(compiled.layers[0].words, 0);
    for (std::size_t r = 0; r < x.size(); ++r) {
      models::set_bit(rows.data(), static_cast<int>(r), x[r] > 0);
      models::set_bit(active.data(), static_cast<int>(r), on[r]);
    }
  }
  // Matches of column o over rows [lo, hi) that are on: the XNOR count, element by element.
  int matches(int o, int lo, int hi, const std::vector<int>& x, const std::vector<bool>& on) const {
    const auto& l = net.layers[0];
    int m = 0;
    for (int r = lo; r < hi; ++r)
      if (on[static_cast<std::size_t>(r)] && x[static_cast<std::size_t>(r)] == l.weight[static_cast<std::size_t>(o) * l.in + r]) ++m;
    return m;
  }
};

std::vector<int> random_x(int n, unsigned seed) {
  std::vector<int> x;
  for (int i = 0; i < n; ++i) x.push_back(((i * 7 + static_cast<int>(seed)) * 2654435761u >> 7) & 1 ? 1 : -1);
  return x;
}

TEST(TileHarness, ProgrammingAndOneSaReadByHand) {
  // 40 inputs fit one read of a 64 x 8 array: the SA path; 6 neurons on 6 columns.
  OneLayer t(40, 6, 64, 8, 8);
  ASSERT_TRUE(t.cfg.sa_path);
  Tile tile("tile", t.cfg);
  const std::vector<int> x = random_x(40, 1);
  std::vector<bool> on(40, true);
  for (int r : {3, 17, 18, 39}) on[static_cast<std::size_t>(r)] = false;  // four wordlines off
  std::vector<std::uint64_t> rows, active, out(1, 0);
  t.drive(x, on, rows, active);
  sc_time program_delay, read_delay;
  Driver d("driver", [&](Driver& self) {
    TileProgram p;
    p.layer = &t.compiled.layers[0];
    send(self.socket, p, program_delay, "driver");
    TileOp op;
    op.rows = rows.data();
    op.active = active.data();
    op.words = t.compiled.layers[0].words;
    op.positions = 1;
    op.out_bits = out.data();
    send(self.socket, op, read_delay, "driver");
  });
  d.socket.bind(tile.socket);
  sc_core::sc_start();
  // Programming: 40 rows one after another, all columns in parallel, one pulse to P and one to
  // AP per row (no write-verify): 2 * 40 * t_write.
  EXPECT_EQ(program_delay, 2 * 40 * sc_time(t.cfg.device.write_pulse_s * 1e9, SC_NS));
  // One position, one read pulse.
  EXPECT_EQ(read_delay, sc_time(t.cfg.arch.read_pulse_s * 1e9, SC_NS));
  // Each output is the sign of the BatchNorm of alpha * (2m - N), N = 36 active rows.
  const auto& l = t.net.layers[0];
  long matches = 0;
  for (int o = 0; o < 6; ++o) {
    const int m = t.matches(o, 0, 40, x, on);
    matches += m;
    const double a = 2.0 * m - 36;
    const double z = l.bn_gamma[o] * (a * l.alpha[o] - l.bn_mean[o]) / std::sqrt(l.bn_var[o] + l.bn_eps) + l.bn_beta[o];
    EXPECT_EQ(models::get_bit(out.data(), o), z >= 0) << "neuron " << o;
  }
  const StatsSink s = collect_stats();
  EXPECT_EQ(stat(s, "array_reads"), 1);
  EXPECT_EQ(stat(s, "sa_decisions"), 6);
  EXPECT_EQ(stat(s, "crossbar_read.matching_cell"), matches);
  EXPECT_EQ(stat(s, "crossbar_read.mismatching_cell"), 36 * 6 - matches);
  EXPECT_EQ(stat(s, "drivers.wordline"), 36);
  EXPECT_EQ(stat(s, "drivers.bitline"), 6);
  EXPECT_EQ(stat(s, "programming.mtj_writes"), 2 * 40 * 6);  // two MTJs per cell
  for (const auto& st : s.stats()) EXPECT_EQ(st.array, 0) << st.name;  // all attributed to array 0
}

TEST(TileHarness, AdcReadTimeAndPartialSumsByHand) {
  // 100 inputs on 64-row arrays: two row tiles, the ADC path; this tile holds rows 0..63 of 4
  // neurons, 2 columns per ADC: columns 0, 1 on ADC 0 and 2, 3 on ADC 1, each converting its 2
  // columns one after the other after the read.
  OneLayer t(100, 4, 64, 4, 2);
  ASSERT_FALSE(t.cfg.sa_path);
  ASSERT_EQ(t.cfg.slice.rows, 64);
  Tile tile("tile", t.cfg);
  const std::vector<int> x = random_x(100, 2);
  std::vector<bool> on(100, true);
  on[5] = on[70] = false;
  std::vector<std::uint64_t> rows, active;
  t.drive(x, on, rows, active);
  std::vector<int> partial(4, -1), act(1, -1);
  sc_time read_delay;
  Driver d("driver", [&](Driver& self) {
    TileProgram p;
    p.layer = &t.compiled.layers[0];
    sc_time ignored;
    send(self.socket, p, ignored, "driver");
    TileOp op;
    op.rows = rows.data();
    op.active = active.data();
    op.words = t.compiled.layers[0].words;
    op.partial = partial.data();
    op.active_rows = act.data();
    send(self.socket, op, read_delay, "driver");
  });
  d.socket.bind(tile.socket);
  sc_core::sc_start();
  EXPECT_EQ(read_delay, sc_time(t.cfg.arch.read_pulse_s * 1e9, SC_NS) + 2 * sc_time(t.cfg.arch.adc_latency_s * 1e9, SC_NS));
  EXPECT_EQ(act[0], 63);  // row 5 off in this tile's rows 0..63
  for (int o = 0; o < 4; ++o) EXPECT_EQ(partial[static_cast<std::size_t>(o)], t.matches(o, 0, 64, x, on)) << o;  // exact ADC
  const StatsSink s = collect_stats();
  EXPECT_EQ(stat(s, "adc_conversions"), 4);
  EXPECT_EQ(stat(s, "sa_decisions"), 0);
}

// The ADC time of one read: column c is converted by ADC floor(c / columns_per_adc); the ADCs
// work in parallel, each converting its columns one after another, so the read takes the pulse
// plus the busiest ADC's conversions. Counted here column by column for shapes where the number
// of ADCs and the conversions per ADC differ (the formula once confused the two).
TEST(TileHarness, AdcTimeIsTheBusiestAdcsConversions) {
  struct Shape { int neurons, cols_per_adc; };
  const std::vector<Shape> shapes = {{8, 2}, {8, 8}, {6, 4}, {8, 128}, {5, 1}};
  std::vector<std::unique_ptr<OneLayer>> layers;
  std::vector<std::unique_ptr<Tile>> tiles;
  std::vector<std::unique_ptr<Driver>> drivers;
  std::vector<sc_time> delays(shapes.size());
  const std::vector<int> x = random_x(100, 4);
  const std::vector<bool> on(100, true);
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    layers.push_back(std::make_unique<OneLayer>(100, shapes[k].neurons, 64, shapes[k].neurons, shapes[k].cols_per_adc));
    ASSERT_FALSE(layers[k]->cfg.sa_path);
    tiles.push_back(std::make_unique<Tile>(("tile_" + std::to_string(k)).c_str(), layers[k]->cfg));
    OneLayer* t = layers[k].get();
    drivers.push_back(std::make_unique<Driver>(("driver_" + std::to_string(k)).c_str(), [t, &x, &on, &delays, k](Driver& self) {
      std::vector<std::uint64_t> rows, active;
      t->drive(x, on, rows, active);
      std::vector<int> partial(static_cast<std::size_t>(t->cfg.slice.cols)), act(1);
      TileProgram p;
      p.layer = &t->compiled.layers[0];
      sc_time ignored;
      send(self.socket, p, ignored, "driver");
      TileOp op;
      op.rows = rows.data();
      op.active = active.data();
      op.words = t->compiled.layers[0].words;
      op.partial = partial.data();
      op.active_rows = act.data();
      send(self.socket, op, delays[k], "driver");
    }));
    drivers[k]->socket.bind(tiles[k]->socket);
  }
  sc_core::sc_start();
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const Shape sh = shapes[k];
    std::vector<int> per_adc(static_cast<std::size_t>(sh.neurons), 0);
    for (int c = 0; c < sh.neurons; ++c) ++per_adc[static_cast<std::size_t>(c / sh.cols_per_adc)];
    const int busiest = *std::max_element(per_adc.begin(), per_adc.end());
    const auto& a = layers[k]->cfg.arch;
    EXPECT_EQ(delays[k], sc_time(a.read_pulse_s * 1e9, SC_NS) + busiest * sc_time(a.adc_latency_s * 1e9, SC_NS))
        << sh.neurons << " columns, " << sh.cols_per_adc << " per ADC";
  }
}

// The same operation twice: the second costs what the first did (same time, twice the counts)
// and gives the same outputs, whether the memo answers it (accelerate) or the array reads again.
void repeat(bool accelerate) {
  OneLayer t(40, 6, 64, 8, 8);
  t.cfg.accelerate = accelerate;
  Tile tile("tile", t.cfg);
  const std::vector<int> x = random_x(40, 3);
  const std::vector<bool> on(40, true);
  std::vector<std::uint64_t> rows, active, out1(1, 0), out2(1, ~std::uint64_t{0});
  t.drive(x, on, rows, active);
  sc_time d1, d2;
  Driver d("driver", [&](Driver& self) {
    TileProgram p;
    p.layer = &t.compiled.layers[0];
    sc_time ignored;
    send(self.socket, p, ignored, "driver");
    for (auto [out, delay] : {std::pair{&out1, &d1}, std::pair{&out2, &d2}}) {
      TileOp op;
      op.rows = rows.data();
      op.active = active.data();
      op.words = t.compiled.layers[0].words;
      op.out_bits = out->data();
      send(self.socket, op, *delay, "driver");
    }
  });
  d.socket.bind(tile.socket);
  sc_core::sc_start();
  EXPECT_EQ(d1, d2);
  EXPECT_EQ(out1[0] & 0x3f, out2[0] & 0x3f);
  long matches = 0;
  for (int o = 0; o < 6; ++o) matches += t.matches(o, 0, 40, x, on);
  const StatsSink s = collect_stats();
  EXPECT_EQ(stat(s, "array_reads"), 2);
  EXPECT_EQ(stat(s, "crossbar_read.matching_cell"), 2 * matches);
  EXPECT_EQ(stat(s, "busy_time"), 2 * d1.value());
}
TEST(TileHarness, RepeatedOperationAnsweredByTheMemo) { repeat(true); }
TEST(TileHarness, RepeatedOperationReadAgainWithoutAcceleration) { repeat(false); }

// Sends a raw payload and returns its response status and the report it raised.
struct Raw {
  tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
  std::string report;
};
template <class Socket>
Raw send_raw(Socket& socket, tlm::tlm_generic_payload& tx) {
  Raw r;
  sc_time delay;
  tx.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  socket->b_transport(tx, delay);
  r.status = tx.get_response_status();
  if (const sc_core::sc_report* rep = sc_core::sc_report_handler::get_cached_report()) r.report = rep->get_msg();
  sc_core::sc_report_handler::clear_cached_report();
  return r;
}

TEST(Protocol, MalformedPayloadsGetErrorResponsesAndReports) {
  // Report, do not throw, so each case can be inspected in turn.
  sc_core::sc_report_handler::set_actions("bayescim/protocol", sc_core::SC_ERROR, sc_core::SC_DISPLAY | sc_core::SC_CACHE_REPORT);
  OneLayer t(40, 6, 64, 8, 8);
  Tile tile("tile", t.cfg);
  DropoutSource::Config dc;
  dc.target_p = 0.3;
  dc.modules.org = Organisation::Shared;
  dc.modules.base = {0};
  dc.modules.per_layer = {0};
  dc.modules.modules = 1;
  DropoutSource dropout("dropout", dc);
  std::vector<Raw> got;
  std::string helper_error;
  Driver d("driver", [&](Driver& self) {
    tlm::tlm_generic_payload tx;  // no command at all
    tx.set_command(tlm::TLM_WRITE_COMMAND);
    got.push_back(send_raw(self.socket, tx));
    unsigned char buffer[8] = {};
    tx.set_data_ptr(buffer);  // a data buffer (the old raw-pointer protocol)
    tx.set_data_length(8);
    got.push_back(send_raw(self.socket, tx));
    tx.set_data_ptr(nullptr);
    tx.set_data_length(0);
    DropoutRequest wrong;  // a command the tile does not take
    tx.set_command(tlm::TLM_READ_COMMAND);
    tx.set_extension(&wrong);
    got.push_back(send_raw(self.socket, tx));
    tx.clear_extension(&wrong);
    TileOp op;  // the tile's command with the wrong TLM command
    tx.set_extension(&op);
    got.push_back(send_raw(self.socket, tx));
    tx.clear_extension(&op);
  });
  Driver d2("driver2", [&](Driver& self) {
    tlm::tlm_generic_payload tx;
    TileProgram wrong;  // the dropout source takes only DropoutRequest
    tx.set_command(tlm::TLM_WRITE_COMMAND);
    tx.set_extension(&wrong);
    got.push_back(send_raw(self.socket, tx));
    tx.clear_extension(&wrong);
    try {
      sc_time delay;
      send(self.socket, wrong, delay, "driver2");
    } catch (const std::logic_error& e) {
      helper_error = e.what();
    }
  });
  d.socket.bind(tile.socket);
  d2.socket.bind(dropout.socket);
  sc_core::sc_start();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].status, tlm::TLM_COMMAND_ERROR_RESPONSE);
  EXPECT_NE(got[0].report.find("tile: payload carries no command this target takes"), std::string::npos) << got[0].report;
  EXPECT_EQ(got[1].status, tlm::TLM_BURST_ERROR_RESPONSE);
  EXPECT_NE(got[1].report.find("data buffer of 8 bytes"), std::string::npos) << got[1].report;
  EXPECT_EQ(got[2].status, tlm::TLM_COMMAND_ERROR_RESPONSE);
  EXPECT_NE(got[2].report.find("expected TileProgram or TileOp"), std::string::npos) << got[2].report;
  EXPECT_EQ(got[3].status, tlm::TLM_COMMAND_ERROR_RESPONSE);  // TileOp is a WRITE
  EXPECT_EQ(got[4].status, tlm::TLM_COMMAND_ERROR_RESPONSE);
  EXPECT_NE(got[4].report.find("dropout: "), std::string::npos) << got[4].report;
  // The initiator's helper turns an error response into an exception naming the sender.
  EXPECT_NE(helper_error.find("driver2: command failed: TLM_COMMAND_ERROR_RESPONSE"), std::string::npos) << helper_error;
}

// The dropout source: modules of a request work in parallel, each drawing its bits in sequence;
// a bit takes the phases reset + write + relax + read + SA one after another.
sc_time dropout_delay(Organisation org, std::size_t modules, std::size_t count, std::uint64_t& bits) {
  DropoutSource::Config dc;
  dc.target_p = 0.3;
  dc.modules.org = org;
  dc.modules.base = {0};
  dc.modules.per_layer = {org == Organisation::Shared ? 0 : modules};
  dc.modules.modules = modules;
  DropoutSource src("dropout", dc);
  std::vector<std::uint64_t> mask(models::words_for(static_cast<int>(count)), 0);
  sc_time delay;
  Driver d("driver", [&](Driver& self) {
    DropoutRequest r;
    r.count = count;
    r.bits = mask.data();
    send(self.socket, r, delay, "driver");
  });
  d.socket.bind(src.socket);
  sc_core::sc_start();
  bits = static_cast<std::uint64_t>(stat(collect_stats(), "random_bits"));
  return delay;
}

sc_time bit_time() {
  const StochasticMtjParams m;  // the defaults: 2 + 1 + 10 + 1 + 0.5 ns
  return sc_time((m.reset_pulse_s + m.write_pulse_s + m.relax_s + m.read_pulse_s + m.sa_latency_s) * 1e9, SC_NS);
}

TEST(DropoutHarness, SharedUnitDrawsOneBitPerRequest) {
  std::uint64_t bits = 0;
  EXPECT_EQ(dropout_delay(Organisation::Shared, 1, 1, bits), bit_time());
  EXPECT_EQ(bits, 1u);
}
TEST(DropoutHarness, SpatialModulesDrawTheirChannelsInParallel) {
  std::uint64_t bits = 0;
  EXPECT_EQ(dropout_delay(Organisation::Spatial, 16, 16, bits), bit_time());  // 16 modules, one bit each
  EXPECT_EQ(bits, 16u);
}
TEST(DropoutHarness, PerNeuronModulesDrawOneRoundPerPosition) {
  std::uint64_t bits = 0;
  EXPECT_EQ(dropout_delay(Organisation::PerNeuron, 9, 9 * 25, bits), 25 * bit_time());  // 25 positions x 9 rows
  EXPECT_EQ(bits, 225u);
}

}  // namespace
}  // namespace bayescim::hw
