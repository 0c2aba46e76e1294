#include "hw/controller.h"

#include <algorithm>
#include <stdexcept>

#include "hw/log.h"
#include "hw/protocol.h"

namespace bayescim::hw {

using sc_core::sc_time;
using sc_core::SC_SEC;

Controller::Controller(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name),
      host_socket("host_socket"),
      tile_socket("tile_socket"),
      dropout_socket("dropout_socket"),
      cfg_(cfg),
      actions_(derive_action_table(cfg.arch)),
      log_(module_logger(*this)) {
  host_socket.register_b_transport(this, &Controller::b_transport);
  std::size_t words = models::words_for(cfg_.net->net->input_size);
  std::size_t max_cols = 0;
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li) {
    const auto& l = cfg_.net->layers[li];
    const auto& lm = cfg_.mapping->layers[li];
    words = std::max(words, models::words_for(l.out));
    max_cols = std::max(max_cols, static_cast<std::size_t>(lm.row_tiles) * cfg_.arch.cols);
    // Adder tree over the row tiles, then one cycle of BN/threshold; SA-path layers need none.
    int cycles = 0;
    if (!lm.sa_path) {
      int depth = 0;
      while ((1 << depth) < lm.row_tiles) ++depth;
      cycles = depth + 1;
    }
    digital_time_.push_back(cycles * sc_time(cfg_.arch.clock_period_s, SC_SEC));
  }
  buf_a_.assign(words, 0);
  buf_b_.assign(words, 0);
  partial_.assign(max_cols, 0);
  layer_time_s_.assign(cfg_.net->layers.size(), 0.0);
}

bool Controller::draw_bit(std::uint64_t image_key, int sample, int draw, sc_time& delay) {
  DropoutDraw d;
  d.image_key = image_key;
  d.sample = sample;
  d.draw = draw;
  transport(dropout_socket, tlm::TLM_READ_COMMAND, kDraw, d, delay, name());
  return d.bit;
}

void Controller::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  if (tx.get_command() != tlm::TLM_WRITE_COMMAND) {
    tx.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  switch (tx.get_address()) {
    case kProgram: program_all(delay); break;
    case kInfer: infer(*reinterpret_cast<InferenceRequest*>(tx.get_data_ptr()), delay); break;
    default: tx.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE); return;
  }
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Arrays are written one after another (one shared write driver path per chip).
void Controller::program_all(sc_time& delay) {
  const auto& arrays = cfg_.mapping->arrays;
  for (std::size_t a = 0; a < arrays.size(); ++a) {
    TileProgram p{&cfg_.net->layers[arrays[a].layer]};
    transport(tile_socket[static_cast<int>(a)], tlm::TLM_WRITE_COMMAND, kProgram, p, delay, name());
  }
  SPDLOG_LOGGER_DEBUG(log_, "{} programmed {} arrays", sim_time(), arrays.size());
}

void Controller::infer(InferenceRequest& req, sc_time& delay) {
  const auto& net = *cfg_.net;
  const auto& mapping = *cfg_.mapping;
  net.binarize(req.pixels, buf_a_.data());
  buffer_bits_ += static_cast<std::uint64_t>(net.net->input_size);
  std::uint64_t* x = buf_a_.data();
  std::uint64_t* y = buf_b_.data();
  int draw = 0;
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& l = net.layers[li];
    const auto& lm = mapping.layers[li];
    const sc_time start = delay;
    bool drop = false;
    if (l.scale_dropout) {
      drop = draw_bit(req.image_key, req.sample, draw, delay);
      req.drop_bits[draw++] = drop ? 1 : 0;
    }
    const sc_time issue = delay;
    sc_time done = issue;
    if (lm.sa_path) std::fill(y, y + models::words_for(l.out), 0);
    for (int ct = 0; ct < lm.col_tiles; ++ct) {
      const int first = lm.arrays[static_cast<std::size_t>(ct) * lm.row_tiles];
      const auto& first_a = mapping.arrays[first];
      for (int rt = 0; rt < lm.row_tiles; ++rt) {
        const int a = lm.arrays[static_cast<std::size_t>(ct) * lm.row_tiles + rt];
        TileOp op;
        op.input = x;
        op.drop = drop;
        op.out_bits = y;
        op.partial = partial_.data() + static_cast<std::size_t>(rt) * cfg_.arch.cols;
        sc_time t = issue;  // all arrays of the layer start together
        transport(tile_socket[a], tlm::TLM_WRITE_COMMAND, kCompute, op, t, name());
        done = std::max(done, t);
        buffer_bits_ += static_cast<std::uint64_t>(mapping.arrays[a].rows);
      }
      if (lm.sa_path) continue;
      // Digital periphery: add the row tiles' partial match counts, then threshold or BN.
      for (int c = 0; c < first_a.cols; ++c) {
        int m = 0;
        for (int rt = 0; rt < lm.row_tiles; ++rt) m += partial_[static_cast<std::size_t>(rt) * cfg_.arch.cols + c];
        const int o = first_a.col_begin + c;
        if (l.sign) {
          const std::uint64_t b = std::uint64_t{1} << (o % 64);
          if (l.threshold[drop ? 1 : 0][o].fires(m)) y[o / 64] |= b; else y[o / 64] &= ~b;
        } else {
          req.logits[o] = static_cast<float>(l.preactivation(o, m, drop));
        }
      }
      digital_adds_ += static_cast<std::uint64_t>(lm.row_tiles - 1) * first_a.cols;
      digital_neurons_ += static_cast<std::uint64_t>(first_a.cols);
    }
    delay = done + digital_time_[li];
    if (l.sign) {
      buffer_bits_ += static_cast<std::uint64_t>(l.out);
      std::swap(x, y);
    }
    layer_time_s_[li] += (delay - start).to_seconds();
  }
  ++samples_;
}

void Controller::report_stats(StatsSink& sink) const {
  const std::string m = name();
  sink.add(m, "samples", static_cast<double>(samples_), "1");
  sink.add(m, "digital_adds", static_cast<double>(digital_adds_), "1");
  sink.add(m, "digital_neurons", static_cast<double>(digital_neurons_), "1");
  sink.add(m, "buffer_bits", static_cast<double>(buffer_bits_), "1");
  sink.add(m, "energy.digital",
           static_cast<double>(digital_adds_) * actions_.digital_add_J +
               static_cast<double>(digital_neurons_) * actions_.digital_neuron_J, "J");
  sink.add(m, "energy.buffer", static_cast<double>(buffer_bits_) * actions_.buffer_bit_J, "J");
  for (std::size_t li = 0; li < layer_time_s_.size(); ++li)
    sink.add(m, "layer_time." + cfg_.mapping->layers[li].name, layer_time_s_[li], "s");
}

}  // namespace bayescim::hw
