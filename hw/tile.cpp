#include "hw/tile.h"

#include "hw/log.h"

namespace bayescim::hw {

using sc_core::sc_time;
using sc_core::SC_SEC;

Tile::Tile(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name),
      socket("socket"),
      cfg_(cfg),
      log_(module_logger(*this)),
      engine_(cfg),
      memo_(cfg.slice, cfg.sa_path, cfg.arch.cols),
      actions_(derive_action_table(cfg.arch)) {
  socket.register_b_transport(this, &Tile::b_transport);
  sa_op_time_ = sc_time(cfg_.arch.read_pulse_s, SC_SEC);
  // The slice's columns are sampled and held at the end of the read; each ADC then converts its
  // columns one after another. An ADC serves columns_per_adc adjacent columns, so the busiest
  // converts min(cols, columns_per_adc) of them (eq. T2).
  const int conversions_per_adc = std::min(cfg_.slice.cols, cfg_.arch.cols_per_adc);
  adc_op_time_ = sa_op_time_ + conversions_per_adc * sc_time(cfg_.arch.adc_latency_s, SC_SEC);
}

void Tile::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  if (!check_payload(tx, name())) return;
  if (auto* p = command_of<TileProgram>(tx)) program(*p, delay);
  else if (auto* op = command_of<TileOp>(tx)) compute(*op, delay);
  else return reject_command(tx, name(), "TileProgram or TileOp");
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Rows are written one after another, all columns in parallel; with write-verify each round is a
// pulse and a verify read: latency = sum over rows and polarities of rounds * (t_w + t_r).
void Tile::program(const TileProgram& p, sc_time& delay) {
  const std::uint64_t rounds = engine_.program(*p.layer);
  const sc_time round = sc_time(cfg_.device.write_pulse_s, SC_SEC) + (cfg_.arch.write_verify ? sa_op_time_ : sc_core::SC_ZERO_TIME);
  const sc_time t = static_cast<double>(rounds) * round;
  program_ps_ += t.value();
  delay += t;
}

// Every position is read (reads_per_position reads each), one read pulse on the SA path, or a
// read plus the conversions of the busiest ADC on the ADC path (eq. T2). With overlap_reads the
// next read's pulse runs while the ADCs convert the held columns of the previous one (eq. T2'):
// t_r + (n - 1) max(t_r, t_c) + t_c for n reads of conversions t_c each.
void Tile::compute(TileOp& op, sc_time& delay) {
  const bool memo = cfg_.accelerate && engine_.repeatable() && !op.trace && memo_.worth_trying();
  ReadCounts added;
  double aJ = 0;
  if (memo && memo_.answer(op, added, aJ)) {
    engine_.repeat(aJ);
  } else {
    added = engine_.compute(op);
    if (memo) memo_.keep(op, added, engine_.last_op_aJ());
    else memo_.forget();
  }
  reads_ += added;
  const auto& s = cfg_.slice;
  const double reads = static_cast<double>(s.positions) * static_cast<double>(engine_.reads_per_position());
  const sc_time t_c = adc_op_time_ - sa_op_time_;
  op.read = reads * sa_op_time_;
  op.convert = cfg_.sa_path ? sc_core::SC_ZERO_TIME : reads * t_c;
  sc_time t = op.read + op.convert;
  if (!cfg_.sa_path && cfg_.arch.overlap_reads && reads > 0)
    t = sa_op_time_ + (reads - 1) * std::max(sa_op_time_, t_c) + t_c;
  if (op.trace && rec_) trace_outputs(op, t.value());
  if (log_->should_log(spdlog::level::trace))
    log_->trace("{} read(s) of layer {} ({}), {}", s.positions * engine_.reads_per_position(),
                engine_.layer()->src->name, cfg_.sa_path ? "SA" : "ADC", t.to_string());
  busy_ps_ += t.value();
  delay += t;
}

// The changes are anchored at the layer's array phase, which the timing model schedules.
void Tile::trace_outputs(const TileOp& op, std::uint64_t busy_ps) {
  const TraceRecorder::Anchor at{op.slot, op.layer, TraceRecorder::kRead};
  rec_->set_at(tr_busy_, at, 0, 1);
  rec_->set_at(tr_busy_, at, busy_ps, 0);
  const auto& s = cfg_.slice;
  std::uint64_t sa = 0;
  if (cfg_.sa_path && s.positions > 0)
    for (int c = 0; c < std::min(s.cols, 64); ++c)
      if (models::get_bit(op.out_bits, (s.col_begin + c) * op.positions + s.position_begin)) sa |= std::uint64_t{1} << c;
  rec_->set_at(tr_sa_out_, at, busy_ps, sa);
  StatsSink now;
  report_stats(now);
  double e = 0;
  for (const auto& [comp, joules] : now.energy_by_component()) e += joules;
  rec_->set_real_at(tr_energy_, at, busy_ps, e);
}

void Tile::trace(TraceRecorder& rec) {
  rec_ = &rec;
  tr_busy_ = rec.declare(name(), "busy", TraceRecorder::Kind::Bit);
  tr_sa_out_ = rec.declare(name(), "sa_out", TraceRecorder::Kind::Vector, 64);
  tr_energy_ = rec.declare_real(name(), "energy_J");
}

void Tile::report_stats(StatsSink& sink) const {
  const std::string m = name();
  const CrossbarPhysics& phys = engine_.physics();
  const CellArray::Writes& w = engine_.cells().writes();
  const std::uint64_t disturbs = engine_.cells().disturbs();
  const double t_read = cfg_.arch.read_pulse_s;
  const StatsSink::ArrayScope scope(sink, cfg_.index);
  sink.count(m, "array_reads", static_cast<double>(reads_.reads));
  sink.count(m, "sa_decisions", static_cast<double>(reads_.sa_decisions));
  sink.count(m, "adc_conversions", static_cast<double>(reads_.adc_conversions));
  sink.time_ps(m, "busy_time", busy_ps_);
  // eq. E0 summed over every column read: V_read V_cell t (G_P * matches + G_AP * mismatches).
  sink.action(m, "crossbar_read", "matching_cell", static_cast<double>(reads_.cell_match), phys.branch_energy(phys.g_p(), t_read));
  sink.action(m, "crossbar_read", "mismatching_cell", static_cast<double>(reads_.cell_mismatch),
              phys.branch_energy(phys.g_ap(), t_read));
  // Non-ideal devices: the read energy from each MTJ's own conductance, in whole 10 aJ units (an
  // integer, so the same for any --jobs; ArrayEngine::analog_read_units).
  sink.action(m, "crossbar_read", "analog_10aJ", static_cast<double>(engine_.analog_read_units()),
              ArrayEngine::kAnalogUnitJ);
  // eq. X2: the reference current I_ref drawn from the read supply, V_read I_ref t, in half-cell
  // units, plus the latch.
  sink.action(m, "sense_amp", "reference_half_p", static_cast<double>(reads_.ref_p_half),
              0.5 * phys.branch_energy(phys.g_p(), t_read));
  sink.action(m, "sense_amp", "reference_half_ap", static_cast<double>(reads_.ref_ap_half),
              0.5 * phys.branch_energy(phys.g_ap(), t_read));
  sink.action(m, "sense_amp", "latch", static_cast<double>(reads_.sa_decisions), actions_.sa_decision_J);
  sink.action(m, "adc", "conversion", static_cast<double>(reads_.adc_conversions), actions_.adc_conversion_J);
  sink.action(m, "adc", "sample_hold", static_cast<double>(reads_.adc_conversions), actions_.sample_hold_J);
  // eq. E1, E2: one wordline raised per enabled row per read, every bitline charged per read.
  sink.action(m, "drivers", "wordline", static_cast<double>(reads_.wordlines), actions_.wordline_row_J);
  sink.action(m, "drivers", "bitline", static_cast<double>(reads_.bitlines), bitline_energy(cfg_.arch, cfg_.device));
  sink.action(m, "digital", "partial_sum_add", static_cast<double>(reads_.tile_adds), actions_.digital_add_J);
  sink.count(m, "read_disturbs", static_cast<double>(disturbs));
  sink.count(m, "read_disturb_exposures", static_cast<double>(engine_.cells().disturb_exposures()));
  sink.action(m, "read_disturb", "restore_write", static_cast<double>(disturbs), mtj_write_energy(cfg_.device, true));
  sink.action(m, "programming", "mtj_write_p", static_cast<double>(w.p_writes), mtj_write_energy(cfg_.device, false));
  sink.action(m, "programming", "mtj_write_ap", static_cast<double>(w.ap_writes), mtj_write_energy(cfg_.device, true));
  // Write-verify: one read of the MTJ just written (V_read V_cell G t_read with its nominal G) and an SA decision.
  sink.action(m, "programming", "verify_read_p", static_cast<double>(w.verify_p),
              phys.branch_energy(phys.g_p(), t_read) + actions_.sa_decision_J);
  sink.action(m, "programming", "verify_read_ap", static_cast<double>(w.verify_ap),
              phys.branch_energy(phys.g_ap(), t_read) + actions_.sa_decision_J);
  sink.count(m, "programming.mtj_writes", static_cast<double>(w.p_writes + w.ap_writes));
  sink.count(m, "programming.verify_reads", static_cast<double>(w.verify_p + w.verify_ap));
  sink.count(m, "programming.write_errors", static_cast<double>(w.write_errors));
  sink.count(m, "programming.pulses_to_p", static_cast<double>(w.p_writes));
  sink.count(m, "programming.pulses_to_ap", static_cast<double>(w.ap_writes));
  sink.count(m, "programming.failed_pulses_to_p", static_cast<double>(w.failed_to_p));
  sink.count(m, "programming.failed_pulses_to_ap", static_cast<double>(w.failed_to_ap));
  sink.time_ps(m, "programming.time", program_ps_);
}

}  // namespace bayescim::hw
