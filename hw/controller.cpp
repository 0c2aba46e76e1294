#include "hw/controller.h"

#include <algorithm>
#include <stdexcept>

#include "hw/log.h"
#include "hw/protocol.h"
#include "hw/tile.h"

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
  const std::size_t words = cfg_.net->max_words();
  std::size_t rows_words = 0, partial = 0, counts = 0, mask = 1;
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li) {
    const auto& l = cfg_.net->layers[li];
    const auto& lm = cfg_.mapping->layers[li];
    const std::size_t positions = static_cast<std::size_t>(l.src->positions());
    rows_words = std::max(rows_words, positions * l.words);
    partial = std::max(partial, static_cast<std::size_t>(lm.row_tiles) * positions * cfg_.arch.cols);
    counts = std::max(counts, static_cast<std::size_t>(lm.row_tiles) * positions);
    mask = std::max(mask, models::words_for(static_cast<int>(l.draws_per_sample())));
    // Adder tree over the row tiles, then one cycle of BN/threshold per position; SA-path
    // layers need none.
    int cycles = 0;
    if (!lm.sa_path) {
      int depth = 0;
      while ((1 << depth) < lm.row_tiles) ++depth;
      cycles = depth + 1;
    }
    digital_time_.push_back(static_cast<double>(cycles) * static_cast<double>(positions) *
                            sc_time(cfg_.arch.clock_period_s, SC_SEC));
  }
  buf_a_.assign(words, 0);
  buf_b_.assign(words, 0);
  buf_pre_.assign(words, 0);
  rows_.assign(rows_words, 0);
  active_.assign(rows_words, 0);
  mask_.assign(mask, 0);
  partial_.assign(partial, 0);
  active_rows_.assign(counts, 0);
  layer_ps_.assign(cfg_.net->layers.size(), 0);
  layer_free_.assign(cfg_.net->layers.size(), sc_core::SC_ZERO_TIME);
  first_dropout_ = static_cast<int>(cfg_.net->layers.size());
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li)
    if (cfg_.net->layers[li].dropout) {
      first_dropout_ = static_cast<int>(li);
      break;
    }
  prefix_counts_.assign(cfg_.net->layers.size(), LayerCounts{});
  prefix_drive_.resize(cfg_.net->layers.size());
}

TileOp Controller::tile_op(const models::CompiledLayer& l, int a, const std::uint64_t* rows,
                           const std::uint64_t* active, bool drop, std::uint64_t* dst,
                           const InferenceRequest& req) {
  const int positions = l.src->positions();
  const int rt = cfg_.mapping->arrays[static_cast<std::size_t>(a)].row_tile;
  TileOp op;
  op.rows = rows;
  op.active = active;
  op.words = l.words;
  op.positions = positions;
  op.drop = drop;
  op.out_bits = dst;
  op.partial = partial_.data() + static_cast<std::size_t>(rt) * positions * cfg_.arch.cols;
  op.active_rows = active_rows_.data() + static_cast<std::size_t>(rt) * positions;
  op.trace = req.trace;
  op.image_key = req.image_key;
  op.sample = req.sample;
  return op;
}

void Controller::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  if (!check_payload(tx, name())) return;
  if (command_of<ProgramRequest>(tx)) {
    program_all(delay);
  } else if (auto* req = command_of<InferenceRequest>(tx)) {
    infer(*req, delay);
  } else if (command_of<DrainRequest>(tx)) {
    const sc_time now = sc_core::sc_time_stamp() + delay;
    if (drain_ > now) delay += drain_ - now;
  } else {
    return reject_command(tx, name(), "ProgramRequest, InferenceRequest or DrainRequest");
  }
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Arrays are written one after another (one shared write driver path per chip).
void Controller::program_all(sc_time& delay) {
  const auto& arrays = cfg_.mapping->arrays;
  for (std::size_t a = 0; a < arrays.size(); ++a) {
    TileProgram p;
    p.layer = &cfg_.net->layers[arrays[a].layer];
    send(tile_socket[static_cast<int>(a)], p, delay, name());
  }
  log_->debug("programmed {} arrays", arrays.size());
}

void Controller::infer(InferenceRequest& req, sc_time& delay) {
  const auto& net = *cfg_.net;
  const auto& mapping = *cfg_.mapping;
  net.binarize(req.pixels, buf_a_.data());
  buffer_bits_ += static_cast<std::uint64_t>(net.net->input_size);
  std::uint64_t* x = buf_a_.data();
  std::uint64_t* y = buf_b_.data();
  int scale_bit = 0;
  // Pipelined samples (not inside the VCD window, whose signals must change in time order).
  const bool overlap = cfg_.arch.pipeline_samples && !req.trace;
  const sc_time base = sc_core::sc_time_stamp();  // absolute time = base + delay
  auto not_before = [&](sc_time abs) {
    if (abs > base + delay) delay = abs - base;
  };
  if (overlap && req.sample == 0) not_before(drain_);  // a new image: the pipeline is empty
  // Layers before the first dropout layer see the same input in every MC sample of an image; with
  // ideal devices and no per-decision noise they give the same outputs, so later samples replay
  // them (accounting and time included) instead of recomputing (MC-CIM's reuse, as a simulation
  // shortcut: the modelled hardware still performs every read).
  const int prefix = cfg_.prefix_reuse && !req.trace ? first_dropout_ : 0;
  const bool replay = prefix > 0 && prefix_valid_ && prefix_image_ == req.image_key;
  if (prefix > 0 && !replay) prefix_valid_ = false;
  sc_time next_issue = sc_core::SC_ZERO_TIME;          // when layer 0 can take the next sample
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& l = net.layers[li];
    const auto& s = *l.src;
    const auto& lm = mapping.layers[li];
    const int positions = s.positions();
    // Inside the VCD window every step is synchronised, so signals change at their real times.
    auto sync = [&](int phase) {
      if (!req.trace) return;
      wait(delay);
      delay = sc_core::SC_ZERO_TIME;
      sig_phase_.write(phase);
    };
    if (req.trace) {
      sig_image_.write(req.image);
      sig_sample_.write(req.sample);
      sig_layer_.write(static_cast<int>(li));
    }
    sync(1);
    if (overlap) not_before(layer_free_[li]);
    const sc_time start = sc_core::sc_time_stamp() + delay;
    const LayerCounts counts_before{digital_adds_, digital_neurons_, buffer_bits_, pool_ops_};

    if (replay && static_cast<int>(li) < prefix) {
      // The same inputs as in this image's first sample: the arrays read the drive kept from it
      // (each tile's memo answers the repeated operation), the digital periphery repeats its
      // counts; the activations come from the first sample.
      const sc_time issue = delay;
      sc_time done = issue;
      const Drive& drive = prefix_drive_[li];
      for (int a : lm.arrays) {
        sc_time t = issue;
        TileOp op = tile_op(l, a, drive.rows.data(), drive.active.data(), false, s.pool ? buf_pre_.data() : y, req);
        send(tile_socket[a], op, t, name());
        done = std::max(done, t);
      }
      delay = done + digital_time_[li];
      const LayerCounts& d = prefix_counts_[li];
      digital_adds_ += d.digital_adds;
      digital_neurons_ += d.digital_neurons;
      buffer_bits_ += d.buffer_bits;
      pool_ops_ += d.pool_ops;
      if (l.sign) std::swap(x, y);
      if (static_cast<int>(li) + 1 == prefix) {
        if (l.sign) std::copy(prefix_x_.begin(), prefix_x_.end(), x);
        else std::copy(prefix_logits_.begin(), prefix_logits_.end(), req.logits);
      }
      layer_ps_[li] += (sc_core::sc_time_stamp() + delay - start).value();
      if (overlap) {
        layer_free_[li] = base + delay;
        if (li == 0) next_issue = delay;
      }
      continue;
    }

    // 1. This layer's dropout draws (before the layer: they gate its wordlines or references).
    const std::uint64_t* mask = nullptr;
    bool drop = false;
    sc_time draws_pending = sc_core::SC_ZERO_TIME;  // pipelined draws still running during the reads
    if (l.dropout) {
      DropoutRequest d;
      d.image_key = req.image_key;
      d.sample = req.sample;
      d.layer = static_cast<int>(li);
      d.offset = net.draw_offset[li];
      d.count = l.draws_per_sample();
      d.bits = mask_.data();
      d.trace = req.trace;
      if (overlap) not_before(dropout_free_);
      send(dropout_socket, d, delay, name());
      draws_pending = d.overlapped;
      if (overlap) dropout_free_ = base + delay + draws_pending;
      mask = mask_.data();
      if (l.dropout_kind == models::DropoutKind::Scale) {
        drop = models::get_bit(mask, 0);
        req.drop_bits[scale_bit++] = drop ? 1 : 0;
      }
    }
    // 2. Wordline drive: the row vector and active rows of every output position.
    if (cfg_.prefix_reuse && !req.trace && static_cast<int>(li) == first_dropout_) {
      if (!gather_valid_ || gather_image_ != req.image_key) {
        const std::size_t n = static_cast<std::size_t>(positions) * l.words;
        rows0_.resize(n);
        active0_.resize(n);
        for (int p = 0; p < positions; ++p)
          l.rows_at(p, x, nullptr, rows0_.data() + static_cast<std::size_t>(p) * l.words,
                    active0_.data() + static_cast<std::size_t>(p) * l.words);
        gather_image_ = req.image_key;
        gather_valid_ = true;
      }
      l.mask_rows(mask, rows0_.data(), active0_.data(), rows_.data(), active_.data());
    } else {
      for (int p = 0; p < positions; ++p)
        l.rows_at(p, x, mask, rows_.data() + static_cast<std::size_t>(p) * l.words,
                  active_.data() + static_cast<std::size_t>(p) * l.words);
    }

    if (static_cast<int>(li) < prefix) {  // kept for the later samples of this image
      const std::size_t n = static_cast<std::size_t>(positions) * l.words;
      prefix_drive_[li].rows.assign(rows_.begin(), rows_.begin() + static_cast<std::ptrdiff_t>(n));
      prefix_drive_[li].active.assign(active_.begin(), active_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    sync(2);
    if (req.trace) {
      sig_wordlines_.write(active_[0]);
      sig_mask_.write(mask ? mask[0] : 0);
      sig_scale_select_.write(drop);
    }

    // 3. The layer's arrays in parallel; the layer takes as long as the slowest.
    std::uint64_t* dst = s.pool ? buf_pre_.data() : y;
    const sc_time issue = delay;
    sc_time done = issue;
    done = std::max(done, issue + draws_pending);
    for (int ct = 0; ct < lm.col_tiles; ++ct) {
      const auto& first = mapping.arrays[lm.arrays[static_cast<std::size_t>(ct) * lm.row_tiles]];
      for (int rep = 0; rep < lm.replicas; ++rep)
        for (int rt = 0; rt < lm.row_tiles; ++rt) {
          const int a = lm.arrays[(static_cast<std::size_t>(rep) * lm.col_tiles + ct) * lm.row_tiles + rt];
          TileOp op = tile_op(l, a, rows_.data(), active_.data(), drop, dst, req);
          sc_time t = issue;
          send(tile_socket[a], op, t, name());
          done = std::max(done, t);
          buffer_bits_ += static_cast<std::uint64_t>(mapping.arrays[a].rows) *
                          static_cast<std::uint64_t>(mapping.arrays[a].positions);
        }
      if (lm.sa_path) continue;
      // Digital periphery: add the row tiles' partial sums a = sum(2m - N), then threshold or BN.
      pre_.resize(static_cast<std::size_t>(first.cols));
      for (int p = 0; p < positions; ++p) {
        std::fill(pre_.begin(), pre_.end(), 0);
        for (int rt = 0; rt < lm.row_tiles; ++rt) {
          const std::size_t at = static_cast<std::size_t>(rt) * positions + static_cast<std::size_t>(p);
          const int* part = partial_.data() + at * cfg_.arch.cols;
          const int act = active_rows_[at];
          for (int c = 0; c < first.cols; ++c) pre_[static_cast<std::size_t>(c)] += 2 * part[c] - act;
        }
        // Output o at position p is bit o * positions + p: consecutive columns are `positions` apart.
        models::BitWriter out(dst, static_cast<std::size_t>(first.col_begin) * positions + static_cast<std::size_t>(p),
                              static_cast<std::size_t>(positions));
        const auto& thr = l.threshold[drop ? 1 : 0];
        for (int c = 0; c < first.cols; ++c) {
          const int o = first.col_begin + c;
          const int pre = pre_[static_cast<std::size_t>(c)];
          if (l.sign) out.push(thr[static_cast<std::size_t>(o)].fires(pre));
          else req.logits[o] = static_cast<float>(l.preactivation(o, pre, drop));
        }
      }
      digital_adds_ += static_cast<std::uint64_t>(lm.row_tiles - 1) * first.cols * positions;
      digital_neurons_ += static_cast<std::uint64_t>(first.cols) * positions;
    }
    delay = done;  // inside the VCD window each tile lowers its own busy line at its end
    sync(3);
    delay += digital_time_[li];
    if (l.sign) {
      if (s.pool) {
        models::or_pool(buf_pre_.data(), l.out, s.h_out, s.w_out, s.pool, y);
        pool_ops_ += static_cast<std::uint64_t>(l.out) * positions;
      }
      buffer_bits_ += static_cast<std::uint64_t>(s.output_elems());
      std::swap(x, y);
    }
    layer_ps_[li] += (sc_core::sc_time_stamp() + delay - start).value();
    if (overlap) {
      layer_free_[li] = base + delay;
      if (li == 0) next_issue = delay;
    }
    if (static_cast<int>(li) < prefix) {  // record what a replay of this layer repeats
      prefix_counts_[li] = {digital_adds_ - counts_before.digital_adds, digital_neurons_ - counts_before.digital_neurons,
                            buffer_bits_ - counts_before.buffer_bits, pool_ops_ - counts_before.pool_ops};
      if (static_cast<int>(li) + 1 == prefix) {
        if (l.sign) prefix_x_.assign(x, x + models::words_for(static_cast<int>(s.output_elems())));
        else prefix_logits_.assign(req.logits, req.logits + l.out);
        prefix_image_ = req.image_key;
        prefix_valid_ = true;
      }
    }
  }
  if (log_->should_log(spdlog::level::trace))
    log_->trace("image key {:#x} sample {} done after {}", req.image_key, req.sample, delay.to_string());
  if (req.trace) {
    wait(delay);
    delay = sc_core::SC_ZERO_TIME;
    sig_layer_.write(-1);
    sig_phase_.write(0);
  }
  drain_ = std::max(drain_, sc_core::sc_time_stamp() + delay);
  if (overlap) delay = next_issue;  // the host may issue the next sample once layer 0 is free
  ++samples_;
}

void Controller::trace(sc_core::sc_trace_file* tf) const {
  for (const auto* sig : {&sig_image_, &sig_sample_, &sig_layer_, &sig_phase_}) sc_core::sc_trace(tf, *sig, sig->name());
  sc_core::sc_trace(tf, sig_wordlines_, sig_wordlines_.name());
  sc_core::sc_trace(tf, sig_mask_, sig_mask_.name());
  sc_core::sc_trace(tf, sig_scale_select_, sig_scale_select_.name());
}

void Controller::report_stats(StatsSink& sink) const {
  const std::string m = name();
  sink.count(m, "samples", static_cast<double>(samples_));
  sink.count(m, "digital_adds", static_cast<double>(digital_adds_));
  sink.count(m, "digital_neurons", static_cast<double>(digital_neurons_));
  sink.count(m, "buffer_bits", static_cast<double>(buffer_bits_));
  sink.count(m, "pool_ops", static_cast<double>(pool_ops_));
  sink.action(m, "digital", "partial_sum_add", static_cast<double>(digital_adds_), actions_.digital_add_J);
  // A max-pool of ±1 values is a k*k-input OR, costed as one addition per pre-pool output.
  sink.action(m, "digital", "pool_or", static_cast<double>(pool_ops_), actions_.digital_add_J);
  sink.action(m, "digital", "neuron", static_cast<double>(digital_neurons_), actions_.digital_neuron_J);
  sink.action(m, "buffer", "bit", static_cast<double>(buffer_bits_), actions_.buffer_bit_J);
  for (std::size_t li = 0; li < layer_ps_.size(); ++li)
    sink.time_ps(m, "layer_time." + cfg_.mapping->layers[li].name, layer_ps_[li]);
}

}  // namespace bayescim::hw
