#include "hw/controller.h"

#include <algorithm>

#include "hw/log.h"
#include "hw/protocol.h"

namespace bayescim::hw {

using sc_core::sc_time;

Controller::Controller(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name),
      host_socket("host_socket"),
      tile_socket("tile_socket"),
      dropout_socket("dropout_socket"),
      cfg_(cfg),
      actions_(derive_action_table(cfg.arch)),
      log_(module_logger(*this)),
      periphery_(*cfg.net, *cfg.mapping, cfg.arch.cols),
      drive_(*cfg.net),
      pipeline_(cfg.net->layers.size()),
      prefix_(*cfg.net),
      gather_(*cfg.net) {
  host_socket.register_b_transport(this, &Controller::b_transport);
  std::size_t mask = 1;
  const sc_time clock(cfg_.arch.clock_period_s, sc_core::SC_SEC);
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li) {
    mask = std::max(mask, models::words_for(static_cast<int>(cfg_.net->layers[li].draws_per_sample())));
    digital_time_.push_back(static_cast<double>(periphery_.cycles(li)) * clock);
  }
  mask_.assign(mask, 0);
  layer_ps_.assign(cfg_.net->layers.size(), 0);
}

void Controller::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  if (!check_payload(tx, name())) return;
  if (command_of<ProgramRequest>(tx)) {
    program_all(delay);
  } else if (auto* req = command_of<InferenceRequest>(tx)) {
    infer(*req, delay);
  } else if (command_of<DrainRequest>(tx)) {
    const sc_time now = sc_core::sc_time_stamp() + delay;
    const sc_time drain = sc_time::from_value(pipeline_.drain());
    if (drain > now) delay += drain - now;
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

void Controller::not_before(const Sample& s, std::uint64_t ps, sc_time& delay) {
  const sc_time abs = sc_time::from_value(ps);
  if (abs > s.base + delay) delay = abs - s.base;
}

void Controller::record(const Sample& s, int id, const sc_time& delay, std::uint64_t value) {
  if (s.req.trace && rec_) rec_->set(id, now_ps(s, delay), value);
}

// The recorder sorts the changes by time, so a traced sample runs as any other (pipelined too).
void Controller::enter_phase(const Sample& s, int phase, const sc_time& delay) {
  record(s, tr_.phase, delay, static_cast<std::uint64_t>(phase));
}

void Controller::infer(InferenceRequest& req, sc_time& delay) {
  periphery_.load_input(req.pixels);
  Sample s{req, sc_core::sc_time_stamp(), cfg_.arch.pipeline_samples};
  if (s.overlap && req.sample == 0) not_before(s, pipeline_.image_start(now_ps(s, delay)), delay);  // pipeline empty
  prefix_.begin(cfg_.accelerate && !req.trace, req.image_key);
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li) {
    if (s.overlap) not_before(s, pipeline_.layer_start(li, now_ps(s, delay)), delay);
    record(s, tr_.image, delay, static_cast<std::uint64_t>(req.image));
    record(s, tr_.sample, delay, static_cast<std::uint64_t>(req.sample));
    record(s, tr_.layer, delay, li);
    enter_phase(s, 1, delay);
    const sc_time start = sc_core::sc_time_stamp() + delay;
    if (prefix_.replays(li)) replay_layer(li, s, delay);
    else compute_layer(li, s, delay);
    leave_layer(li, s, start, delay);
  }
  end_sample(s, delay);
}

// A prefix layer in a later sample of the image: the same inputs as in its first sample, so the
// arrays read the drive kept from it (each tile's memo answers the repeated operation), the
// digital periphery repeats its counts, and the activations come from the first sample.
void Controller::replay_layer(std::size_t li, Sample& s, sc_time& delay) {
  const Drive& d = prefix_.drive(li);
  delay = read_arrays(li, d.rows.data(), d.active.data(), false, s, delay) + digital_time_[li];
  periphery_.repeat_layer(li, prefix_.counts(li));
  prefix_.restore_output(li, periphery_.input(), s.req.logits);
}

void Controller::compute_layer(std::size_t li, Sample& s, sc_time& delay) {
  const DigitalCounts before = periphery_.counts();
  // 1. This layer's dropout draws (before the layer: they gate its wordlines or references).
  bool drop = false;
  sc_time pending = sc_core::SC_ZERO_TIME;  // pipelined draws still running during the reads
  const std::uint64_t* mask = draw_dropout(li, s, drop, pending, delay);
  // 2. Wordline drive: the row vector and active rows of every output position.
  drive_wordlines(li, mask, s);
  enter_phase(s, 2, delay);
  record(s, tr_.wordlines, delay, drive_.active()[0]);
  record(s, tr_.mask, delay, mask ? mask[0] : 0);
  record(s, tr_.scale_select, delay, drop ? 1 : 0);
  // 3. The layer's arrays in parallel (the slowest sets the time, not before the draws end), and
  // the digital periphery on their results. Each tile drives its own busy line.
  const sc_time issue = delay;
  delay = std::max(issue + pending, read_arrays(li, drive_.rows(), drive_.active(), drop, s, issue));
  enter_phase(s, 3, delay);
  delay += digital_time_[li];
  periphery_.end_layer(li);
  if (prefix_.records(li)) {  // what a replay of this layer repeats
    prefix_.keep_counts(li, periphery_.counts() - before);
    prefix_.keep_output(li, periphery_.input(), s.req.logits);
  }
}

const std::uint64_t* Controller::draw_dropout(std::size_t li, Sample& s, bool& drop, sc_time& pending,
                                               sc_time& delay) {
  const auto& l = cfg_.net->layers[li];
  if (!l.dropout) return nullptr;
  DropoutRequest d;
  d.image_key = s.req.image_key;
  d.sample = s.req.sample;
  d.layer = static_cast<int>(li);
  d.offset = cfg_.net->draw_offset[li];
  d.count = l.draws_per_sample();
  d.bits = mask_.data();
  d.trace = s.req.trace;
  if (s.overlap) not_before(s, pipeline_.dropout_start(now_ps(s, delay)), delay);
  send(dropout_socket, d, delay, name());
  pending = d.overlapped;
  if (s.overlap) pipeline_.hold_dropout(now_ps(s, delay + pending));
  if (l.dropout_kind == models::DropoutKind::Scale) {
    drop = models::get_bit(mask_.data(), 0);
    s.req.drop_bits[s.scale_bit++] = drop ? 1 : 0;
  }
  return mask_.data();
}

void Controller::drive_wordlines(std::size_t li, const std::uint64_t* mask, const Sample& s) {
  const auto& l = cfg_.net->layers[li];
  if (cfg_.accelerate && !s.req.trace && gather_.covers(li))
    drive_.gate(l, mask, gather_.unmasked(l, periphery_.input(), s.req.image_key));
  else
    drive_.gather(l, periphery_.input(), mask);
  if (prefix_.records(li))  // kept for the later samples of this image
    prefix_.keep_drive(li, drive_.rows(), drive_.active(), WordlineDrive::size(l));
}

sc_time Controller::read_arrays(std::size_t li, const std::uint64_t* rows, const std::uint64_t* active, bool drop,
                                const Sample& s, sc_time issue) {
  const auto& l = cfg_.net->layers[li];
  const auto& lm = cfg_.mapping->layers[li];
  const bool fresh = !prefix_.replays(li);  // a replay repeats its counts and outputs
  TileOp layer_op;
  layer_op.rows = rows;
  layer_op.active = active;
  layer_op.words = l.words;
  layer_op.positions = l.reads();
  layer_op.drop = drop;
  layer_op.out_bits = periphery_.layer_output(li);
  layer_op.trace = s.req.trace;
  layer_op.outputs_unused = !fresh;
  layer_op.image_key = s.req.image_key;
  layer_op.sample = s.req.sample;
  sc_time done = issue;
  for (int ct = 0; ct < lm.col_tiles; ++ct) {
    for (int rep = 0; rep < lm.replicas; ++rep)
      for (int rt = 0; rt < lm.row_tiles; ++rt) {
        const int a = lm.arrays[(static_cast<std::size_t>(rep) * lm.col_tiles + ct) * lm.row_tiles + rt];
        TileOp op = layer_op;  // each tile gets its own command
        op.partial = periphery_.partial(rt, op.positions);
        op.active_rows = periphery_.active_rows(rt, op.positions);
        sc_time t = issue;
        send(tile_socket[a], op, t, name());
        done = std::max(done, t);
        if (fresh) periphery_.count_array(cfg_.mapping->arrays[static_cast<std::size_t>(a)]);
      }
    // ADC path: add the row tiles' partial sums, then threshold or BN.
    if (fresh && !lm.sa_path) periphery_.reduce(li, ct, drop, s.req.logits);
  }
  return done;
}

void Controller::leave_layer(std::size_t li, Sample& s, sc_time start, sc_time& delay) {
  layer_ps_[li] += (sc_core::sc_time_stamp() + delay - start).value();
  if (!s.overlap) return;
  pipeline_.leave_layer(li, now_ps(s, delay));
  if (li == 0) s.next_issue = delay;
}

void Controller::end_sample(Sample& s, sc_time& delay) {
  if (log_->should_log(spdlog::level::trace))
    log_->trace("image key {:#x} sample {} done after {}", s.req.image_key, s.req.sample, delay.to_string());
  record(s, tr_.layer, delay, ~std::uint64_t{0});  // -1: idle
  enter_phase(s, 0, delay);
  pipeline_.complete((sc_core::sc_time_stamp() + delay).value());
  if (s.overlap) delay = s.next_issue;  // the host may issue the next sample once layer 0 is free
  ++samples_;
}

void Controller::trace(TraceRecorder& rec) {
  using K = TraceRecorder::Kind;
  rec_ = &rec;
  const std::uint64_t idle = ~std::uint64_t{0};  // -1 in 32 bits
  tr_.image = rec.declare(name(), "image", K::Vector, 32, idle);
  tr_.sample = rec.declare(name(), "sample", K::Vector, 32, idle);
  tr_.layer = rec.declare(name(), "layer", K::Vector, 32, idle);
  tr_.phase = rec.declare(name(), "phase", K::Vector, 32, 0);
  tr_.wordlines = rec.declare(name(), "wordlines", K::Vector, 64);
  tr_.mask = rec.declare(name(), "dropout_mask", K::Vector, 64);
  tr_.scale_select = rec.declare(name(), "scale_select", K::Bit);
}

void Controller::report_stats(StatsSink& sink) const {
  const std::string m = name();
  const DigitalCounts& c = periphery_.counts();
  sink.count(m, "samples", static_cast<double>(samples_));
  sink.count(m, "digital_adds", static_cast<double>(c.adds));
  sink.count(m, "digital_neurons", static_cast<double>(c.neurons));
  sink.count(m, "buffer_bits", static_cast<double>(c.buffer_bits));
  sink.count(m, "pool_ops", static_cast<double>(c.pool_ops));
  sink.action(m, "digital", "partial_sum_add", static_cast<double>(c.adds), actions_.digital_add_J);
  // A max-pool of ±1 values is a k*k-input OR, costed as one addition per pre-pool output.
  sink.action(m, "digital", "pool_or", static_cast<double>(c.pool_ops), actions_.digital_add_J);
  sink.action(m, "digital", "neuron", static_cast<double>(c.neurons), actions_.digital_neuron_J);
  sink.action(m, "buffer", "bit", static_cast<double>(c.buffer_bits), actions_.buffer_bit_J);
  for (std::size_t li = 0; li < layer_ps_.size(); ++li)
    sink.time_ps(m, "layer_time." + cfg_.mapping->layers[li].name, layer_ps_[li]);
}

}  // namespace bayescim::hw
