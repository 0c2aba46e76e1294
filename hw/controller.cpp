#include "hw/controller.h"

#include <algorithm>

#include "hw/log.h"
#include "hw/protocol.h"

namespace bayescim::hw {

using sc_core::sc_time;

namespace {

TimingModel::Config timing_config(const Controller::Config& cfg) {
  TimingModel::Config t;
  for (std::size_t li = 0; li < cfg.net->layers.size(); ++li) {
    const auto& l = cfg.net->layers[li];
    t.layer_names.push_back(cfg.mapping->layers[li].name);
    t.shared_dropout.push_back(l.dropout && l.dropout_kind == models::DropoutKind::Scale);
  }
  t.pipeline_samples = cfg.arch.pipeline_samples;
  t.clock_ps = std::max<std::uint64_t>(1, sc_time(cfg.arch.clock_period_s, sc_core::SC_SEC).value());
  t.bus_bits_per_cycle = static_cast<std::uint64_t>(cfg.arch.bus_bits_per_cycle);
  t.memo = cfg.accelerate;
  return t;
}

}  // namespace

Controller::Controller(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name),
      host_socket("host_socket"),
      tile_socket("tile_socket"),
      dropout_socket("dropout_socket"),
      timing("timing", timing_config(cfg)),
      cfg_(cfg),
      actions_(derive_action_table(cfg.arch)),
      log_(module_logger(*this)),
      periphery_(*cfg.net, *cfg.mapping, cfg.arch.cols),
      drive_(*cfg.net),
      prefix_(*cfg.net),
      gather_(*cfg.net) {
  host_socket.register_b_transport(this, &Controller::b_transport);
  std::size_t mask = 1;
  const sc_time clock(cfg_.arch.clock_period_s, sc_core::SC_SEC);
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li) {
    mask = std::max(mask, models::words_for(static_cast<int>(cfg_.net->layers[li].draws_per_sample())));
    digital_time_.push_back(static_cast<double>(periphery_.cycles(li)) * clock);
    output_bits_.push_back(output_bits(li));
  }
  mask_.assign(mask, 0);
}

// What layer li sends over the interconnect per sample: a hidden layer its +-1 activations, one
// bit each; the last layer its integer pre-activations (the host applies the scale and bias),
// each in [-a_max, a_max] (a_max = in for +-1 inputs) and so ceil(log2(2 a_max + 1)) bits.
std::uint64_t Controller::output_bits(std::size_t li) const {
  const auto& l = cfg_.net->layers[li];
  const auto elems = static_cast<std::uint64_t>(l.src->output_elems());
  if (li + 1 < cfg_.net->layers.size()) return elems;
  return elems * static_cast<std::uint64_t>(bits_for_levels(2 * static_cast<std::uint64_t>(std::max(l.a_max, l.in)) + 1));
}

void Controller::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  if (!check_payload(tx, name())) return;
  if (command_of<ProgramRequest>(tx)) {
    program_all(delay);
  } else if (auto* req = command_of<InferenceRequest>(tx)) {
    infer(*req, delay);
  } else {
    return reject_command(tx, name(), "ProgramRequest or InferenceRequest");
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

void Controller::record(const Sample& s, int id, std::size_t li, TraceRecorder::Point point, std::uint64_t value) {
  if (s.req.trace && rec_) rec_->set_at(id, {s.slot, static_cast<int>(li), point}, 0, value);
}

// The sample is computed at once; its time is simulated when its window is complete.
void Controller::infer(InferenceRequest& req, sc_time& delay) {
  periphery_.load_input(req.pixels);
  Sample s{req, static_cast<int>(window_.size())};
  window_.emplace_back(cfg_.net->layers.size());
  window_traced_ = window_traced_ || (req.trace && rec_any_);
  prefix_.begin(cfg_.accelerate && !req.trace, req.image_key);
  for (std::size_t li = 0; li < cfg_.net->layers.size(); ++li) {
    record(s, tr_.image, li, TraceRecorder::kEnter, static_cast<std::uint64_t>(req.image));
    record(s, tr_.sample, li, TraceRecorder::kEnter, static_cast<std::uint64_t>(req.sample));
    record(s, tr_.layer, li, TraceRecorder::kEnter, li);
    record(s, tr_.phase, li, TraceRecorder::kDraw, 1);
    LayerOp& op = window_.back()[li];
    periphery_.begin_layer(li);
    if (prefix_.replays(li)) replay_layer(li, s, op);
    else compute_layer(li, s, op);
    record(s, tr_.phase, li, TraceRecorder::kDigital, 3);
    op.digital_ps = digital_time_[li].value();
    op.out_bits = output_bits_[li];
  }
  // The image comes over the interconnect once; its later samples reuse the first layer's copy.
  if (req.sample == 0) window_.back()[0].in_bits = static_cast<std::uint64_t>(cfg_.net->input_bits());
  end_sample(s, delay);
}

// A prefix layer in a later sample of the image: the same inputs as in its first sample, so the
// arrays read the drive kept from it (each tile's memo answers the repeated operation), the
// digital periphery repeats its counts, and the activations come from the first sample.
void Controller::replay_layer(std::size_t li, Sample& s, LayerOp& op) {
  const Drive& d = prefix_.drive(li);
  read_arrays(li, d.rows.data(), d.active.data(), false, s, op);
  periphery_.repeat_layer(li, prefix_.counts(li));
  prefix_.restore_output(li, periphery_.input(), s.req.logits);
}

void Controller::compute_layer(std::size_t li, Sample& s, LayerOp& op) {
  const DigitalCounts before = periphery_.counts();
  // 1. This layer's dropout draws (before the layer: they gate its wordlines or references).
  bool drop = false;
  const std::uint64_t* mask = draw_dropout(li, s, drop, op);
  // 2. Wordline drive: the row vector and active rows of every output position.
  drive_wordlines(li, mask, s);
  record(s, tr_.phase, li, TraceRecorder::kRead, 2);
  record(s, tr_.wordlines, li, TraceRecorder::kRead, drive_.active()[0]);
  record(s, tr_.mask, li, TraceRecorder::kRead, mask ? mask[0] : 0);
  record(s, tr_.scale_select, li, TraceRecorder::kRead, drop ? 1 : 0);
  // 3. The layer's arrays, and the digital periphery on their results.
  read_arrays(li, drive_.rows(), drive_.active(), drop, s, op);
  periphery_.end_layer(li);
  if (prefix_.records(li)) {  // what a replay of this layer repeats
    prefix_.keep_counts(li, periphery_.counts() - before);
    prefix_.keep_output(li, periphery_.input(), s.req.logits);
  }
}

// The draws' time: until the first round is in (the annotated delay), and all rounds (plus the
// pipelined rounds that overlap the reads).
const std::uint64_t* Controller::draw_dropout(std::size_t li, Sample& s, bool& drop, LayerOp& op) {
  const auto& l = cfg_.net->layers[li];
  if (!l.dropout) return nullptr;
  DropoutRequest d;
  d.image_key = s.req.image_key;
  d.sample = s.req.sample;
  d.layer = static_cast<int>(li);
  d.slot = s.slot;
  d.offset = cfg_.net->draw_offset[li];
  d.count = l.draws_per_sample();
  d.bits = mask_.data();
  d.trace = s.req.trace;
  sc_time first = sc_core::SC_ZERO_TIME;
  send(dropout_socket, d, first, name());
  op.draw_first_ps = first.value();
  op.draw_total_ps = (first + d.overlapped).value();
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

void Controller::read_arrays(std::size_t li, const std::uint64_t* rows, const std::uint64_t* active, bool drop,
                             const Sample& s, LayerOp& op) {
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
  layer_op.slot = s.slot;
  layer_op.layer = static_cast<int>(li);
  sc_time slowest = sc_core::SC_ZERO_TIME, read = sc_core::SC_ZERO_TIME, convert = sc_core::SC_ZERO_TIME;
  for (int ct = 0; ct < lm.col_tiles; ++ct) {
    for (int rep = 0; rep < lm.replicas; ++rep)
      for (int rt = 0; rt < lm.row_tiles; ++rt) {
        const int a = lm.arrays[(static_cast<std::size_t>(rep) * lm.col_tiles + ct) * lm.row_tiles + rt];
        TileOp op_a = layer_op;  // each tile gets its own command
        op_a.partial = periphery_.partial(rt, op_a.positions);
        op_a.active_rows = periphery_.active_rows(rt, op_a.positions);
        sc_time t = sc_core::SC_ZERO_TIME;
        send(tile_socket[a], op_a, t, name());
        if (t > slowest) {
          slowest = t;
          read = op_a.read;
          convert = op_a.convert;
        }
        if (fresh) periphery_.count_array(cfg_.mapping->arrays[static_cast<std::size_t>(a)]);
      }
    // ADC path: add the row tiles' partial sums, then threshold or BN.
    if (fresh && !lm.sa_path) periphery_.reduce(li, ct, drop, s.req.logits);
  }
  op.array_ps = slowest.value();
  op.read_ps = read.value();
  op.convert_ps = convert.value();
}

void Controller::end_sample(Sample& s, sc_time& delay) {
  if (log_->should_log(spdlog::level::trace))
    log_->trace("image key {:#x} sample {} computed", s.req.image_key, s.req.sample);
  const std::size_t last = cfg_.net->layers.size() - 1;
  record(s, tr_.layer, last, TraceRecorder::kLeave, ~std::uint64_t{0});  // -1: idle
  record(s, tr_.phase, last, TraceRecorder::kLeave, 0);
  ++samples_;
  window_ends_.push_back(s.req.last_of_image);
  if (cfg_.arch.pipeline_samples && !s.req.last_of_window) return;
  timing.run_window(window_, window_ends_, window_traced_, delay);
  window_.clear();
  window_ends_.clear();
  window_traced_ = false;
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
  if (c.shortcut_adds) {  // only a residual network reports these (every residual layer adds)
    sink.count(m, "shortcut_bits", static_cast<double>(c.shortcut_bits));
    sink.count(m, "shortcut_adds", static_cast<double>(c.shortcut_adds));
  }
  sink.action(m, "digital", "partial_sum_add", static_cast<double>(c.adds), actions_.digital_add_J);
  // A max-pool of ±1 values is a k*k-input OR, costed as one addition per pre-pool output.
  sink.action(m, "digital", "pool_or", static_cast<double>(c.pool_ops), actions_.digital_add_J);
  sink.action(m, "digital", "neuron", static_cast<double>(c.neurons), actions_.digital_neuron_J);
  sink.action(m, "buffer", "bit", static_cast<double>(c.buffer_bits), actions_.buffer_bit_J);
  // Residual joins (a component of their own, so that the report shows them): the shortcut
  // buffer's writes, a buffer bit each, and the shortcut additions, a digital add each.
  if (c.shortcut_adds) {
    sink.action(m, "shortcut", "buffer_bit", static_cast<double>(c.shortcut_bits), actions_.buffer_bit_J);
    sink.action(m, "shortcut", "add", static_cast<double>(c.shortcut_adds), actions_.digital_add_J);
  }
}

}  // namespace bayescim::hw
