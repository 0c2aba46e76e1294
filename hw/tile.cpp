#include "hw/tile.h"

#include <algorithm>
#include <cmath>

#include "hw/log.h"
#include "hw/protocol.h"

namespace bayescim::hw {

using sc_core::sc_time;
using sc_core::SC_SEC;

Tile::Tile(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name),
      socket("socket"),
      cfg_(cfg),
      log_(module_logger(*this)),
      phys_(cfg.device.cell),
      actions_(derive_action_table(cfg.arch)) {
  socket.register_b_transport(this, &Tile::b_transport);
  sa_op_time_ = sc_time(cfg_.arch.read_pulse_s, SC_SEC);
  const int conversions_per_adc = (cfg_.slice.cols + cfg_.arch.cols_per_adc - 1) / cfg_.arch.cols_per_adc;
  adc_op_time_ = sa_op_time_ + conversions_per_adc * sc_time(cfg_.arch.adc_latency_s, SC_SEC);
  analog_ = cfg_.device.variation.any();
  adc_levels_ = (1 << actions_.adc_bits) - 1;
  adc_step_ = CrossbarPhysics::adc_step(cfg_.slice.rows, adc_levels_);
}

void Tile::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  const auto addr = tx.get_address();
  if (tx.get_command() != tlm::TLM_WRITE_COMMAND || (addr != kProgram && addr != kCompute)) {
    tx.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  if (addr == kProgram) program(*reinterpret_cast<TileProgram*>(tx.get_data_ptr()), delay);
  else compute(*reinterpret_cast<TileOp*>(tx.get_data_ptr()), delay);
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Writes both MTJs of every cell of the slice, one row at a time with all columns in parallel,
// the true and the complement MTJ in two pulses: latency 2 * rows * t_write.
void Tile::program(const TileProgram& p, sc_time& delay) {
  layer_ = p.layer;
  const auto& s = cfg_.slice;
  words_ = models::words_for(s.rows);
  aligned_ = s.row_begin % 64 == 0;
  cells_.assign(words_ * s.cols, 0);
  for (int c = 0; c < s.cols; ++c) {
    const std::uint64_t* col = layer_->column(s.col_begin + c);
    for (int r = 0; r < s.rows; ++r) {
      const bool plus = models::get_bit(col, s.row_begin + r);
      models::set_bit(cells_.data() + c * words_, r, plus);
      ++p_writes_;  // one MTJ of the pair is written P, the other AP
      ++ap_writes_;
    }
  }
  if (analog_) {  // each MTJ keeps its own conductance (variation, stuck-at faults) for the run
    g_a_.assign(static_cast<std::size_t>(s.cols) * s.rows, 0.0);
    g_b_.assign(g_a_.size(), 0.0);
    for (int c = 0; c < s.cols; ++c)
      for (int r = 0; r < s.rows; ++r) {
        const bool plus = models::get_bit(cells_.data() + c * words_, r);
        const std::uint64_t id = ((static_cast<std::uint64_t>(cfg_.index) << 40) | (static_cast<std::uint64_t>(c) << 20) |
                                  static_cast<std::uint64_t>(r)) << 1;
        const std::size_t k = static_cast<std::size_t>(c) * s.rows + r;
        g_a_[k] = mtj_conductance(cfg_.device.cell, cfg_.device.variation, cfg_.seed, id, plus);       // stores w
        g_b_[k] = mtj_conductance(cfg_.device.cell, cfg_.device.variation, cfg_.seed, id | 1, !plus);  // stores not w
      }
  }
  const sc_time t = 2.0 * s.rows * sc_time(cfg_.device.write_pulse_s, SC_SEC);
  program_ps_ += t.value();
  delay += t;
}

void Tile::compute(TileOp& op, sc_time& delay) {
  const auto& s = cfg_.slice;
  const int n = s.rows;
  const auto& thr = layer_->threshold[op.drop ? 1 : 0];
  const double pulse = cfg_.arch.read_pulse_s;
  const int positions = op.positions;
  std::uint64_t xl[64], al[64];  // this tile's rows of one position, word-aligned
  for (int p = 0; p < positions; ++p) {
    const std::uint64_t* rows = op.rows + static_cast<std::size_t>(p) * op.words;
    const std::uint64_t* act = op.active + static_cast<std::size_t>(p) * op.words;
    const std::uint64_t* x;
    const std::uint64_t* a;
    if (aligned_) {
      x = rows + s.row_begin / 64;
      a = act + s.row_begin / 64;
    } else {
      for (std::size_t w = 0; w < words_; ++w) xl[w] = al[w] = 0;
      for (int r = 0; r < n; ++r) {
        if (models::get_bit(rows, s.row_begin + r)) xl[r / 64] |= std::uint64_t{1} << (r % 64);
        if (models::get_bit(act, s.row_begin + r)) al[r / 64] |= std::uint64_t{1} << (r % 64);
      }
      x = xl;
      a = al;
    }
    // Wordlines on in this array (the last word of an aligned slice may hold other tiles' rows).
    int active = 0;
    const std::size_t full = static_cast<std::size_t>(n) / 64;
    const std::uint64_t tail = n % 64 ? (std::uint64_t{1} << (n % 64)) - 1 : 0;
    for (std::size_t w = 0; w < full; ++w) active += __builtin_popcountll(a[w]);
    if (tail) active += __builtin_popcountll(a[full] & tail);
    for (int c = 0; c < s.cols; ++c) {
      const std::uint64_t* wcol = cells_.data() + c * words_;
      int m = 0;
      for (std::size_t w = 0; w < full; ++w) m += __builtin_popcountll(~(x[w] ^ wcol[w]) & a[w]);
      if (tail) m += __builtin_popcountll(~(x[full] ^ wcol[full]) & a[full] & tail);
      double i_col = 0;
      if (analog_) {  // Kirchhoff over the conducting MTJ of every active row
        const double* ga = g_a_.data() + static_cast<std::size_t>(c) * n;
        const double* gb = g_b_.data() + static_cast<std::size_t>(c) * n;
        double g = 0;
        for (int r = 0; r < n; ++r)
          if ((a[r / 64] >> (r % 64)) & 1U) g += ((x[r / 64] >> (r % 64)) & 1U) ? ga[r] : gb[r];
        i_col = phys_.v_read() * g;
        analog_aJ_ += phys_.column_energy(i_col, pulse) * 1e18;
      } else {
        if (cfg_.arch.sa_offset_sigma_A > 0) i_col = phys_.column_current(m, active);
        cell_match_ += static_cast<std::uint64_t>(m);
        cell_mismatch_ += static_cast<std::uint64_t>(active - m);
      }
      if (cfg_.sa_path) {
        // The SA compares with a replica reference column gated by the same wordlines, set for
        // the selected scale state: out = +1 iff 2m - N >= A, i.e. m >= ceil((A + N) / 2)
        // (AtMost: the inverted output of m >= floor((A + N) / 2) + 1). A reference outside
        // [1, N] would give a constant, so no reference is read then.
        const int o = s.col_begin + c;
        const models::Threshold& t = thr[o];
        bool out;
        if (t.mode == models::Threshold::Mode::Always || t.mode == models::Threshold::Mode::Never) {
          out = t.mode == models::Threshold::Mode::Always;
        } else {
          const bool invert = t.mode == models::Threshold::Mode::AtMost;
          const int m_ref = invert ? static_cast<int>(std::floor((t.a + active) / 2.0)) + 1
                                   : static_cast<int>(std::ceil((t.a + active) / 2.0));
          bool raw;
          if (m_ref <= 0) {
            raw = true;
          } else if (m_ref > active) {
            raw = false;
          } else if (!analog_ && cfg_.arch.sa_offset_sigma_A == 0) {
            // Ideal devices, no offset: I(m) > I_ref(M) is exactly m >= M (eq. X1, X2; tested in
            // test_physics), so compare the counts and skip the floating-point currents.
            raw = m >= m_ref;
            ref_p_half_ += static_cast<std::uint64_t>(2 * m_ref - 1);
            ref_ap_half_ += static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
          } else {
            double offset = 0;  // input-referred SA offset, drawn per decision
            if (cfg_.arch.sa_offset_sigma_A > 0)
              offset = cfg_.arch.sa_offset_sigma_A *
                       gaussian(cfg_.seed ^ 0x5a0f'f5e7'0000'0000ULL, op.image_key,
                                (static_cast<std::uint64_t>(op.sample) << 24) | static_cast<std::uint64_t>(cfg_.index),
                                (static_cast<std::uint64_t>(p) << 16) | static_cast<std::uint64_t>(c));
            raw = i_col + offset > phys_.reference_current(m_ref, active);
            ref_p_half_ += static_cast<std::uint64_t>(2 * m_ref - 1);
            ref_ap_half_ += static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
          }
          out = invert ? !raw : raw;
        }
        ++sa_decisions_;
        models::set_bit(op.out_bits, o * positions + p, out);
      } else {
        // Ideal devices: the ADC's code is the quantised match count itself (CrossbarPhysics::adc
        // inverts eq. X1 exactly; tested), so quantise the integer directly.
        op.partial[static_cast<std::size_t>(p) * cfg_.arch.cols + c] =
            analog_ ? phys_.adc(i_col, active, n, adc_levels_) : CrossbarPhysics::adc_of_matches(m, active, adc_step_);
        ++adc_conversions_;
      }
    }
    if (!cfg_.sa_path) op.active_rows[p] = active;
    ++reads_;
  }
  if (op.trace) {
    std::uint64_t sa = 0;
    if (cfg_.sa_path)
      for (int c = 0; c < std::min(s.cols, 64); ++c)
        if (models::get_bit(op.out_bits, (s.col_begin + c) * positions)) sa |= std::uint64_t{1} << c;
    sig_sa_out_.write(sa);
    StatsSink now;
    report_stats(now);
    double e = 0;
    for (const auto& [comp, joules] : now.energy_by_component()) e += joules;
    sig_energy_.write(e);
  }
  const sc_time t = static_cast<double>(positions) * (cfg_.sa_path ? sa_op_time_ : adc_op_time_);
  if (log_->should_log(spdlog::level::trace))
    log_->trace("{} read(s) of layer {} ({}), {}", positions, layer_->src->name, cfg_.sa_path ? "SA" : "ADC",
                t.to_string());
  busy_ps_ += t.value();
  delay += t;
}

void Tile::trace(sc_core::sc_trace_file* tf) const {
  sc_core::sc_trace(tf, sig_busy_, sig_busy_.name());
  sc_core::sc_trace(tf, sig_sa_out_, sig_sa_out_.name());
  sc_core::sc_trace(tf, sig_energy_, sig_energy_.name());
}

void Tile::report_stats(StatsSink& sink) const {
  const std::string m = name();
  const double v2t = phys_.v_read() * phys_.v_read() * cfg_.arch.read_pulse_s;
  sink.count(m, "array_reads", static_cast<double>(reads_));
  sink.count(m, "sa_decisions", static_cast<double>(sa_decisions_));
  sink.count(m, "adc_conversions", static_cast<double>(adc_conversions_));
  sink.time_ps(m, "busy_time", busy_ps_);
  // eq. X1 summed over every column read: V^2 t (G_P * matches + G_AP * mismatches).
  sink.action(m, "crossbar_read", "matching_cell", static_cast<double>(cell_match_), v2t * phys_.g_p());
  sink.action(m, "crossbar_read", "mismatching_cell", static_cast<double>(cell_mismatch_), v2t * phys_.g_ap());
  // Non-ideal devices: the read energy from each MTJ's own conductance, counted in attojoules.
  sink.action(m, "crossbar_read", "analog_aJ", analog_aJ_, 1e-18);
  // eq. X2 reference branch V I_ref t, in half-cell units, plus the latch.
  sink.action(m, "sense_amp", "reference_half_p", static_cast<double>(ref_p_half_), 0.5 * v2t * phys_.g_p());
  sink.action(m, "sense_amp", "reference_half_ap", static_cast<double>(ref_ap_half_), 0.5 * v2t * phys_.g_ap());
  sink.action(m, "sense_amp", "latch", static_cast<double>(sa_decisions_), actions_.sa_decision_J);
  sink.action(m, "adc", "conversion", static_cast<double>(adc_conversions_), actions_.adc_conversion_J);
  sink.action(m, "programming", "mtj_write_p", static_cast<double>(p_writes_), mtj_write_energy(cfg_.device, false));
  sink.action(m, "programming", "mtj_write_ap", static_cast<double>(ap_writes_), mtj_write_energy(cfg_.device, true));
  sink.count(m, "programming.mtj_writes", static_cast<double>(p_writes_ + ap_writes_));
  sink.time_ps(m, "programming.time", program_ps_);
}

}  // namespace bayescim::hw
