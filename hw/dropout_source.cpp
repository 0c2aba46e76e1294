#include "hw/dropout_source.h"

#include <algorithm>

#include "hw/log.h"
#include "hw/physics/rng.h"

namespace bayescim::hw {

double realised_probability(const StochasticMtjParams& mtj, double target_p, double* drive_A) {
  const DriveChoice d = choose_drive(mtj, target_p);
  if (drive_A) *drive_A = d.current_A;
  return d.p;
}

std::vector<double> module_probabilities(const DropoutUnitParams& params, double target_p, const ModuleMap& modules,
                                         std::uint64_t seed) {
  return module_probabilities(params.mtj, params.variation, choose_drive(params.mtj, target_p), modules.modules, seed);
}

DropoutSource::DropoutSource(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name), socket("socket"), cfg_(cfg), log_(module_logger(*this)) {
  socket.register_b_transport(this, &DropoutSource::b_transport);
  const DriveChoice drive = choose_drive(cfg_.params.mtj, cfg_.target_p);
  drive_A_ = drive.current_A;
  drive_pulse_s_ = drive.pulse_s;
  realised_p_ = drive.p;
  module_p_ = module_probabilities(cfg_.params.mtj, cfg_.params.variation, drive, cfg_.modules.modules, cfg_.seed);
  e0_ = bit_energy(cfg_.params.mtj, drive, false);
  e1_ = bit_energy(cfg_.params.mtj, drive, true);
  log_->debug("{} modules ({}), target p {}, drive {:.4g} uA for {:.4g} ns ({}), realised p {}", cfg_.modules.modules,
              to_string(cfg_.modules.org), cfg_.target_p, drive_A_ * 1e6, drive_pulse_s_ * 1e9,
              cfg_.params.mtj.model_name(), realised_p_);
  bit_time_ = sc_core::sc_time(bit_latency(cfg_.params.mtj, drive.pulse_s), sc_core::SC_SEC);
  passes_.assign(cfg_.circuits.layers.size(), 0);
}

void DropoutSource::b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay) {
  if (!check_payload(tx, name())) return;
  auto* req = command_of<DropoutRequest>(tx);
  if (!req) return reject_command(tx, name(), "DropoutRequest");
  if (cfg_.modules.modules == 0) return fail(tx, tlm::TLM_GENERIC_ERROR_RESPONSE, name(), "draws requested from a design without dropout modules");
  auto& r = *req;
  std::fill(r.bits, r.bits + models::words_for(static_cast<int>(r.count)), 0);
  for (std::size_t i = 0; i < r.count; ++i) {
    const double p = module_p_[cfg_.modules.module_of(static_cast<std::size_t>(r.layer), i)];
    const bool bit = dropout_draw(cfg_.seed, r.image_key, static_cast<std::uint64_t>(r.sample), r.offset + i, p);
    if (bit) r.bits[i / 64] |= std::uint64_t{1} << (i % 64);
    ones_ += bit ? 1 : 0;
  }
  bits_ += r.count;
  if (static_cast<std::size_t>(r.layer) < passes_.size()) ++passes_[static_cast<std::size_t>(r.layer)];
  if (log_->should_log(spdlog::level::trace))
    log_->trace("layer {} sample {}: {} draws, first bits {:#x}", r.layer, r.sample, r.count, r.count ? r.bits[0] : 0);
  if (r.trace && rec_) {
    const TraceRecorder::Anchor at{r.slot, r.layer, TraceRecorder::kDraw};  // scheduled by the timing model
    rec_->set_at(tr_bits_, at, 0, r.count ? r.bits[0] : 0);
    rec_->set_at(tr_draws_, at, 0, bits_);
    rec_->set_real_at(tr_energy_, at, 0, static_cast<double>(bits_ - ones_) * e0_.total() + static_cast<double>(ones_) * e1_.total());
  }
  // The request's modules work in parallel; each draws count / modules bits in sequence.
  const std::size_t mods = cfg_.modules.org == Organisation::Shared ? 1 : cfg_.modules.per_layer[r.layer];
  const std::size_t rounds = mods ? (r.count + mods - 1) / mods : r.count;
  const sc_core::sc_time t = static_cast<double>(rounds) * bit_time_;
  busy_ps_ += t.value();
  if (cfg_.params.pipelined && rounds > 1) {
    delay += bit_time_;
    r.overlapped = t - bit_time_;
  } else {
    delay += t;
  }
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

void DropoutSource::trace(TraceRecorder& rec) {
  rec_ = &rec;
  tr_bits_ = rec.declare(name(), "bits", TraceRecorder::Kind::Vector, 64);
  tr_draws_ = rec.declare(name(), "draws", TraceRecorder::Kind::Vector, 64);
  tr_energy_ = rec.declare_real(name(), "energy_J");
}

void DropoutSource::report_stats(StatsSink& sink) const {
  const std::string m = name();
  sink.param(m, "stochastic_units", static_cast<double>(cfg_.modules.modules), "1");
  sink.count(m, "random_bits", static_cast<double>(bits_));
  sink.count(m, "random_ones", static_cast<double>(ones_));
  sink.param(m, "realised_p", realised_p_, "1");  // nominal device
  sink.param(m, "drive_current", drive_A_, "A");
  sink.param(m, "drive_pulse", drive_pulse_s_, "s");
  sink.param(m, "bit_latency", bit_time_.to_seconds(), "s");
  sink.time_ps(m, "dropout_time", busy_ps_);
  // eq. S4': every draw costs its phases from the supplies; a 1 (AP) reads through R_AP. The MTJ's
  // phases are the random bit (DC1); the driver's bias branch and the mask latch are booked with
  // their circuits (DC2, DC3), so the three add up to S4'.
  auto mtj = [](const BitPhaseEnergy& e) { return e.reset_J + e.write_J + e.read_J + e.sa_J; };
  const double bits = static_cast<double>(bits_);
  sink.action(m, "dropout_rng", "draw_0", static_cast<double>(bits_ - ones_), mtj(e0_));
  sink.action(m, "dropout_rng", "draw_1", static_cast<double>(ones_), mtj(e1_));
  // The circuits per pass of each layer (hw/dropout_circuits.h), times the passes served.
  DropoutCircuitLayer done;
  for (std::size_t li = 0; li < passes_.size(); ++li) {
    const auto& l = cfg_.circuits.layers[li];
    const auto n = static_cast<std::size_t>(passes_[li]);
    done.gate_reads += n * l.gate_reads;
    done.gather_reads += n * l.gather_reads;
    done.select_columns += n * l.select_columns;
    done.select_neurons += n * l.select_neurons;
  }
  const auto& c = cfg_.circuit_energy;
  sink.action(m, "dropout_driver", "bias", bits, e0_.driver_J);                 // DC2 (S4' driver term)
  sink.action(m, "dropout_driver", "control", bits, c.driver_control_J);         // DC2
  sink.action(m, "dropout_mask", "latch_write", bits, e0_.latch_J);              // DC3 (S4' latch term)
  sink.action(m, "dropout_mask", "gather_read", static_cast<double>(done.gather_reads), cfg_.buffer_bit_J);  // DC4
  sink.action(m, "dropout_gating", "wordline_gate", static_cast<double>(done.gate_reads), c.wordline_gate_J);  // DC5
  sink.action(m, "dropout_select", "reference", static_cast<double>(done.select_columns), c.select_reference_J);  // DC6
  sink.action(m, "dropout_select", "threshold", static_cast<double>(done.select_neurons), c.select_threshold_J);  // DC7
}

}  // namespace bayescim::hw
