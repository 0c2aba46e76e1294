// The Controller in a harness: a test initiator drives its host socket, stub tiles and a stub
// dropout unit answer with fixed, known delays and record what they received. Checks the
// annotated delay of one inference against the documented schedule, the typed protocol's error
// responses, and the digital periphery's counts by hand (without sc_start).
// Each TEST runs in its own process (gtest_discover_tests), so each may elaborate once.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

#include "hw/controller.h"
#include "hw/engine/digital_periphery.h"
#include "hw/mapper.h"
#include "hw/protocol.h"
#include "models/compiled.h"
#include "tests/util/tiny_net.h"

namespace bayescim::hw {
namespace {

using sc_core::SC_NS;
using sc_core::sc_time;

constexpr int kArrayCols = 7;  // the harness's arrays: 50 rows x 7 columns

// A tile that takes op_time per operation and program_time per programming. On the ADC path it
// reports match count (index + c + p) mod 3 for column c at position p, with all its rows active.
struct StubTile : sc_core::sc_module {
  tlm_utils::simple_target_socket<StubTile> socket{"socket"};
  ArrayAssignment slice;
  int index;
  sc_time op_time, program_time{2, SC_NS};
  int programs = 0;
  std::vector<std::vector<std::uint64_t>> rows_seen;  // the row vectors of each operation
  StubTile(sc_core::sc_module_name n, const ArrayAssignment& s, int i)
      : sc_module(n), slice(s), index(i), op_time((i + 1) * 1.0, SC_NS) {
    socket.register_b_transport(this, &StubTile::b_transport);
  }
  static int matches(int index, int c, int p) { return (index + c + p) % 3; }
  void b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
    if (!check_payload(tx, name())) return;
    if (command_of<TileProgram>(tx)) {
      ++programs;
      delay += program_time;
    } else if (auto* op = command_of<TileOp>(tx)) {
      rows_seen.emplace_back(op->rows, op->rows + op->words * static_cast<std::size_t>(op->positions));
      for (int p = slice.position_begin; p < slice.position_begin + slice.positions; ++p) {
        for (int c = 0; c < slice.cols; ++c) op->partial[p * kArrayCols + c] = matches(index, c, p);
        op->active_rows[p] = slice.rows;
      }
      op->read = op_time;  // all read pulses, no conversions
      delay += op_time;
    } else {
      return reject_command(tx, name(), "TileProgram or TileOp");
    }
    tx.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

// A dropout unit that takes 3 ns per request, drops layer 0's scale and keeps layer 1's, and
// leaves 30 ns of pipelined rounds overlapping layer 1's reads.
struct StubDropout : sc_core::sc_module {
  tlm_utils::simple_target_socket<StubDropout> socket{"socket"};
  std::vector<DropoutRequest> seen;
  explicit StubDropout(sc_core::sc_module_name n) : sc_module(n) {
    socket.register_b_transport(this, &StubDropout::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
    if (!check_payload(tx, name())) return;
    auto* d = command_of<DropoutRequest>(tx);
    if (!d) return reject_command(tx, name(), "DropoutRequest");
    seen.push_back(*d);
    models::set_bit(d->bits, 0, d->layer == 0);
    delay += sc_time(3, SC_NS);
    d->overlapped = d->layer == 1 ? sc_time(30, SC_NS) : sc_core::SC_ZERO_TIME;
    tx.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

// Runs `script` in a thread that owns the initiator socket.
struct TestHost : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<TestHost> socket{"socket"};
  std::function<void(TestHost&)> script;
  explicit TestHost(sc_core::sc_module_name n) : sc_module(n) {
    SC_HAS_PROCESS(TestHost);
    SC_THREAD(run);
  }
  void run() { script(*this); }
};

// 120 -> 10 -> 4 under Scale-Dropout on 50 x 7 arrays: fc1 has 3 row tiles and 2 column tiles
// (ADC path, 6 arrays), fc2 one row tile and one column tile (logits, ADC path).
struct Harness {
  models::Network net = testing::random_network({120, 10, 4}, 3, true, 0.5);
  models::CompiledNetwork compiled{net};
  ArchParams arch;
  Mapping mapping;
  std::unique_ptr<Controller> controller;
  std::vector<std::unique_ptr<StubTile>> tiles;
  StubDropout dropout{"dropout"};
  TestHost host{"host"};

  Harness() {
    arch.rows = 50;
    arch.cols = kArrayCols;
    arch.clock_period_s = 1e-9;
    mapping = map_network(compiled, arch);
    Controller::Config cc;
    cc.net = &compiled;
    cc.mapping = &mapping;
    cc.arch = arch;
    controller = std::make_unique<Controller>("controller", cc);
    host.socket.bind(controller->host_socket);
    controller->dropout_socket.bind(dropout.socket);
    for (std::size_t a = 0; a < mapping.arrays.size(); ++a) {
      const std::string n = "tile_" + std::to_string(a);
      tiles.push_back(std::make_unique<StubTile>(n.c_str(), mapping.arrays[a], static_cast<int>(a)));
      controller->tile_socket.bind(tiles.back()->socket);
    }
  }
};

TEST(ControllerHarness, AnnotatedDelayFollowsTheDocumentedSchedule) {
  Harness h;
  ASSERT_EQ(h.mapping.layers[0].row_tiles, 3);
  ASSERT_EQ(h.mapping.layers[0].col_tiles, 2);
  ASSERT_FALSE(h.mapping.layers[0].sa_path);
  ASSERT_EQ(h.mapping.arrays.size(), 7u);
  const auto pixels = testing::random_pixels(120, 9);
  std::vector<float> logits(4, -99);
  std::vector<std::uint8_t> bits(2, 9);
  sc_time program_delay, infer_delay, infer_start, infer_end;
  h.host.script = [&](TestHost& host) {
    ProgramRequest prog;
    send(host.socket, prog, program_delay, "host");
    InferenceRequest req;
    req.pixels = pixels.data();
    req.image_key = 77;
    req.sample = 2;
    req.logits = logits.data();
    req.drop_bits = bits.data();
    infer_start = sc_core::sc_time_stamp();
    send(host.socket, req, infer_delay, "host");  // a window of one sample: simulated in the kernel
    infer_end = sc_core::sc_time_stamp() + infer_delay;
  };
  sc_core::sc_start();

  // Programming: the 7 arrays one after another, 2 ns each.
  EXPECT_EQ(program_delay, sc_time(14, SC_NS));
  // The timing model (1 ns clock): fc1 asks the shared unit at 0, granted at 1 ns (one clock of
  // arbitration), its 3 ns draw ends at 4; arrays 0..5 in parallel, the slowest (array 5) 6 ns,
  // to 10; adder tree over 3 row tiles (depth 2) + 1 BN cycle = 3 cycles: 13 ns.
  // fc2 asks at 13, granted at 14, first round in at 17; array 6 takes 7 ns (to 24) but the
  // draws' pipelined rounds run 30 ns more, to 14 + 33 = 47; 1 row tile: 1 cycle: 48 ns.
  EXPECT_EQ(infer_end - infer_start, sc_time(48, SC_NS));

  ASSERT_EQ(h.dropout.seen.size(), 2u);
  for (int l = 0; l < 2; ++l) {
    EXPECT_EQ(h.dropout.seen[l].layer, l);
    EXPECT_EQ(h.dropout.seen[l].count, 1u);
    EXPECT_EQ(h.dropout.seen[l].offset, h.compiled.draw_offset[l]);
    EXPECT_EQ(h.dropout.seen[l].image_key, 77u);
    EXPECT_EQ(h.dropout.seen[l].sample, 2);
  }
  EXPECT_EQ(bits[0], 1);
  EXPECT_EQ(bits[1], 0);
  for (const auto& t : h.tiles) {
    EXPECT_EQ(t->programs, 1);
    EXPECT_EQ(t->rows_seen.size(), 1u);
  }

  // The digital periphery on the stubs' match counts: fc1's outputs (with the dropped scale) are
  // the row vector fc2's array read; fc2's logits are its BN outputs with alpha kept.
  const auto& fc1 = h.compiled.layers[0];
  std::uint64_t h_bits = 0;
  for (int o = 0; o < 10; ++o) {
    int a = 0;
    for (int rt = 0; rt < 3; ++rt) {
      const int arr = (o / 7) * 3 + rt;
      a += 2 * StubTile::matches(arr, o % 7, 0) - h.mapping.arrays[arr].rows;
    }
    if (fc1.threshold[1][o].fires(a)) h_bits |= std::uint64_t{1} << o;
  }
  EXPECT_EQ(h.tiles[6]->rows_seen[0][0] & 0x3ffu, h_bits);
  for (int o = 0; o < 4; ++o) {
    const int a = 2 * StubTile::matches(6, o, 0) - 10;
    EXPECT_EQ(logits[o], static_cast<float>(h.compiled.layers[1].preactivation(o, a, false))) << o;
  }
}

// A payload the controller must refuse: `setup` prepares it; the answer is an error response
// and an SC_REPORT_ERROR (thrown by default), and no tile is asked anything.
void expect_rejected(const std::function<void(tlm::tlm_generic_payload&, InferenceRequest&)>& setup,
                     tlm::tlm_response_status want, const std::string& says) {
  Harness h;
  std::vector<float> logits(4);
  std::vector<std::uint8_t> bits(2), pixels(120), data(8);
  bool reported = false;
  std::string message;
  tlm::tlm_response_status status = tlm::TLM_OK_RESPONSE;
  h.host.script = [&](TestHost& host) {
    InferenceRequest req;
    req.pixels = pixels.data();
    req.logits = logits.data();
    req.drop_bits = bits.data();
    tlm::tlm_generic_payload tx;
    tx.set_command(tlm::TLM_WRITE_COMMAND);
    tx.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    setup(tx, req);
    sc_time d = sc_core::SC_ZERO_TIME;
    try {
      host.socket->b_transport(tx, d);
    } catch (const sc_core::sc_report& r) {
      reported = true;
      message = r.what();
    }
    tx.clear_extension(&req);  // the payload does not own the command
    status = tx.get_response_status();
  };
  sc_core::sc_start();
  EXPECT_TRUE(reported);
  EXPECT_EQ(status, want);
  EXPECT_NE(message.find("controller"), std::string::npos) << message;
  EXPECT_NE(message.find(says), std::string::npos) << message;
  for (const auto& t : h.tiles) EXPECT_TRUE(t->rows_seen.empty());
  EXPECT_TRUE(h.dropout.seen.empty());
}

TEST(ControllerHarness, PayloadWithoutACommandGetsACommandError) {
  expect_rejected([](tlm::tlm_generic_payload&, InferenceRequest&) {}, tlm::TLM_COMMAND_ERROR_RESPONSE,
                  "no command this target takes");
}

TEST(ControllerHarness, CommandWithTheWrongTlmCommandGetsACommandError) {
  expect_rejected(
      [](tlm::tlm_generic_payload& tx, InferenceRequest& req) {
        tx.set_extension(&req);
        tx.set_command(tlm::TLM_READ_COMMAND);
      },
      tlm::TLM_COMMAND_ERROR_RESPONSE, "READ");
}

TEST(ControllerHarness, PayloadWithADataBufferGetsAnError) {
  static std::uint8_t buffer[8];
  expect_rejected(
      [](tlm::tlm_generic_payload& tx, InferenceRequest& req) {
        tx.set_extension(&req);
        tx.set_data_ptr(buffer);
        tx.set_data_length(8);
      },
      tlm::TLM_BURST_ERROR_RESPONSE, "data buffer of 8 bytes");
}

// A 5 -> 2 -> 2 network (weights and BN as in testing::hand_network: fires iff a >= 0) on 2 x 2
// arrays: fc1 has 3 row tiles of 2, 2 and 1 rows and one column tile.
models::Network five_two_two() {
  models::Network n;
  n.source = "hand";
  n.input_size = n.input_c = 5;
  n.classes = 2;
  for (auto [name, in, sign] : {std::tuple{"fc1", 5, true}, std::tuple{"fc2", 2, false}}) {
    models::BinaryLayer l = testing::dense(name, in, 2, sign);
    l.weight.assign(static_cast<std::size_t>(in) * 2, 1);
    l.alpha.assign(2, 1.0f);
    l.bn_gamma.assign(2, 1.0f);
    l.bn_beta.assign(2, 0.0f);
    l.bn_mean.assign(2, 0.0f);
    l.bn_var.assign(2, 1.0f - 1e-5f);
    n.layers.push_back(l);
  }
  n.apply_dropout({});
  n.validate();
  return n;
}

TEST(ControllerHarness, DigitalPeripheryCountsByHand) {
  const auto net = five_two_two();
  const models::CompiledNetwork c(net);
  ArchParams arch;
  arch.rows = 2;
  arch.cols = 2;
  const Mapping m = map_network(c, arch);
  ASSERT_EQ(m.layers[0].row_tiles, 3);
  DigitalPeriphery dp(c, m, arch.cols);
  // Adder tree over 3 row tiles: depth 2, + 1 BN cycle, at 1 position; fc2: 1 row tile, 1 cycle.
  EXPECT_EQ(dp.cycles(0), 3u);
  EXPECT_EQ(dp.cycles(1), 1u);

  const std::uint8_t pixels[5] = {255, 255, 255, 255, 255};
  dp.load_input(pixels);
  // Matches per row tile (columns 0, 1) and active rows: (2, 0) of 2, (1, 1) of 2, (0, 1) of 1.
  // a0 = (4 - 2) + (2 - 2) + (0 - 1) = 1, a1 = (0 - 2) + (2 - 2) + (2 - 1) = -1: outputs (+1, -1).
  const int match[3][2] = {{2, 0}, {1, 1}, {0, 1}};
  for (int rt = 0; rt < 3; ++rt) {
    dp.partial(rt, 1)[0] = match[rt][0];
    dp.partial(rt, 1)[1] = match[rt][1];
    dp.active_rows(rt, 1)[0] = m.arrays[static_cast<std::size_t>(rt)].rows;
    dp.count_array(m.arrays[static_cast<std::size_t>(rt)]);
  }
  dp.reduce(0, 0, false, nullptr);
  dp.end_layer(0);
  EXPECT_EQ(dp.input()[0] & 3u, 1u);  // bit 0 (+1) set, bit 1 (-1) clear
  DigitalCounts want;
  want.adds = 2 * 2;             // (row tiles - 1) x columns x positions
  want.neurons = 2;              // columns x positions
  want.buffer_bits = 5 + 5 + 2;  // the input, the arrays' 2 + 2 + 1 rows, fc1's outputs
  want.pool_ops = 0;
  EXPECT_EQ(dp.counts(), want);

  // fc2 (logits): a = 2m - N with m = (1, 2), N = 2: a = (0, 2), BN is the identity.
  dp.partial(0, 1)[0] = 1;
  dp.partial(0, 1)[1] = 2;
  dp.active_rows(0, 1)[0] = 2;
  float logits[2] = {-9, -9};
  dp.reduce(1, 0, false, logits);
  dp.end_layer(1);
  EXPECT_FLOAT_EQ(logits[0], 0.0f);
  EXPECT_FLOAT_EQ(logits[1], 2.0f);
  want.neurons += 2;
  EXPECT_EQ(dp.counts(), want);
  DigitalCounts once = want;
  once += want;
  EXPECT_EQ(once - want, want);
}

}  // namespace
}  // namespace bayescim::hw
