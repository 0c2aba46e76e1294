#include "hw/tile.h"

#include <algorithm>
#include <cmath>

#include "hw/log.h"
#include "hw/physics/kernels.h"
#include "hw/physics/rng.h"
#include "hw/protocol.h"

namespace bayescim::hw {

using sc_core::sc_time;
using sc_core::SC_SEC;

namespace {

constexpr std::uint64_t kDisturbSalt = 0xd157'0000'0000'0000ULL;
constexpr std::uint64_t kOffsetSalt = 0x5a0f'f5e7'0000'0000ULL;

// Ones of f(word) over bits [lo, hi) of a bit vector (f combines the vectors of one word index):
// a masked head word if lo is not word-aligned, whole words, then a masked tail.
template <class F>
int count_range(int lo, int hi, F f) {
  int n = 0;
  int w = lo / 64;
  if (lo % 64 != 0) {
    std::uint64_t m = ~std::uint64_t{0} << (lo % 64);
    if ((w + 1) * 64 > hi) m &= (std::uint64_t{1} << (hi % 64)) - 1;
    n += __builtin_popcountll(f(static_cast<std::size_t>(w)) & m);
    ++w;
  }
  for (const int end = hi / 64; w < end; ++w) n += __builtin_popcountll(f(static_cast<std::size_t>(w)));
  if (w * 64 < hi && hi % 64 != 0)
    n += __builtin_popcountll(f(static_cast<std::size_t>(w)) & ((std::uint64_t{1} << (hi % 64)) - 1));
  return n;
}

std::uint64_t mtj_id(int index, int c, int r, bool b) {
  return (((static_cast<std::uint64_t>(index) << 40) | (static_cast<std::uint64_t>(c) << 20) |
           static_cast<std::uint64_t>(r))
          << 1) |
         (b ? 1U : 0U);
}

}  // namespace

Tile::Tile(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name),
      socket("socket"),
      cfg_(cfg),
      log_(module_logger(*this)),
      phys_(cfg.device.cell),
      actions_(derive_action_table(cfg.arch)) {
  socket.register_b_transport(this, &Tile::b_transport);
  two_phase_ = cfg_.arch.cell == CellScheme::TwoPhase;
  group_rows_ = std::min(rows_per_read(cfg_.arch), std::max(cfg_.slice.rows, 1));
  groups_ = (cfg_.slice.rows + group_rows_ - 1) / group_rows_;
  reads_per_position_ = groups_ * (two_phase_ ? 2 : 1);
  sa_op_time_ = sc_time(cfg_.arch.read_pulse_s, SC_SEC);
  const int conversions_per_adc = (cfg_.slice.cols + cfg_.arch.cols_per_adc - 1) / cfg_.arch.cols_per_adc;
  adc_op_time_ = sa_op_time_ + conversions_per_adc * sc_time(cfg_.arch.adc_latency_s, SC_SEC);
  analog_ = cfg_.device.variation.any();
  adc_levels_ = (1 << actions_.adc_bits) - 1;
}

void Tile::b_transport(tlm::tlm_generic_payload& tx, sc_time& delay) {
  if (!check_payload(tx, name())) return;
  if (auto* p = command_of<TileProgram>(tx)) program(*p, delay);
  else if (auto* op = command_of<TileOp>(tx)) compute(*op, delay);
  else return reject_command(tx, name(), "TileProgram or TileOp");
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Writes every MTJ of the slice, one row at a time with all columns in parallel: one pulse for the
// MTJs going to P and one (opposite current) for those going to AP. With write-verify each pulse
// is followed by a verify read and repeated for the MTJs not yet right, so a row's pulse takes as
// many rounds as its slowest MTJ: latency = sum over rows and polarities of rounds * (t_w + t_r).
void Tile::program(const TileProgram& p, sc_time& delay) {
  layer_ = p.layer;
  const auto& s = cfg_.slice;
  const auto& var = cfg_.device.variation;
  const bool verify = cfg_.arch.write_verify;
  words_ = models::words_for(s.rows);
  aligned_ = s.row_begin % 64 == 0;
  cells_.assign(words_ * s.cols, 0);
  for (int c = 0; c < s.cols; ++c) {
    const std::uint64_t* col = layer_->column(s.col_begin + c);
    for (int r = 0; r < s.rows; ++r) models::set_bit(cells_.data() + c * words_, r, models::get_bit(col, s.row_begin + r));
  }
  cells_t_.assign(words_ * s.cols, 0);  // the same bits word-major, for xnor_counts_columns
  for (int c = 0; c < s.cols; ++c)
    for (std::size_t w = 0; w < words_; ++w) cells_t_[w * s.cols + c] = cells_[c * words_ + w];
  const std::size_t n = static_cast<std::size_t>(s.cols) * s.rows;
  wrong_a_.assign(n, 0);
  wrong_b_.assign(two_phase_ ? 0 : n, 0);
  std::uint64_t rounds = 0;  // write rounds over all rows and polarities
  const int mtjs = two_phase_ ? 1 : 2;
  for (int r = 0; r < s.rows; ++r) {
    int worst[2] = {0, 0};  // [to P, to AP]
    for (int c = 0; c < s.cols; ++c) {
      const bool plus = models::get_bit(cells_.data() + c * words_, r);
      for (int m = 0; m < mtjs; ++m) {
        const bool to_p = m == 0 ? plus : !plus;  // A stores w (P = +1), B stores not w
        bool ok = true;
        const int k = write_attempts(cfg_.seed, mtj_id(cfg_.index, c, r, m == 1), var.write_error_rate, verify,
                                     cfg_.arch.write_max_attempts, &ok);
        (to_p ? p_writes_ : ap_writes_) += static_cast<std::uint64_t>(k);
        if (verify) (to_p ? verify_p_ : verify_ap_) += static_cast<std::uint64_t>(k);
        worst[to_p ? 0 : 1] = std::max(worst[to_p ? 0 : 1], k);
        if (!ok) {
          ++write_errors_;
          (m == 0 ? wrong_a_ : wrong_b_)[static_cast<std::size_t>(c) * s.rows + r] = 1;
        }
      }
    }
    rounds += static_cast<std::uint64_t>(std::max(worst[0], 1) + std::max(worst[1], 1));
  }
  if (write_errors_ > 0) analog_ = true;  // the cells no longer hold (w, not w): read them one by one
  if (analog_) make_analog();
  const sc_time round = sc_time(cfg_.device.write_pulse_s, SC_SEC) + (verify ? sa_op_time_ : sc_core::SC_ZERO_TIME);
  const sc_time t = static_cast<double>(rounds) * round;
  program_ps_ += t.value();
  delay += t;
}

// Each MTJ keeps its own conductance (variation, stuck-at faults, write errors) for the run.
void Tile::make_analog() {
  const auto& s = cfg_.slice;
  const std::size_t n = static_cast<std::size_t>(s.cols) * s.rows;
  const double r_t = cfg_.device.cell.r_access_ohm;
  g_a_.assign(n, 0.0);
  g_b_.assign(two_phase_ ? 0 : n, 0.0);
  ap_a_.assign(words_ * s.cols, 0);
  ap_b_.assign(two_phase_ ? 0 : words_ * s.cols, 0);
  for (int c = 0; c < s.cols; ++c)
    for (int r = 0; r < s.rows; ++r) {
      const bool plus = models::get_bit(cells_.data() + c * words_, r);
      const std::size_t k = static_cast<std::size_t>(c) * s.rows + r;
      for (int m = 0; m < (two_phase_ ? 1 : 2); ++m) {
        const MtjDevice d = mtj_device(cfg_.device.cell, cfg_.device.variation, cfg_.seed, mtj_id(cfg_.index, c, r, m == 1));
        bool want_p = m == 0 ? plus : !plus;
        if ((m == 0 ? wrong_a_ : wrong_b_)[k]) want_p = !want_p;
        const bool state = d.state_after_write(want_p);
        (m == 0 ? g_a_ : g_b_)[k] = d.conductance(state, r_t);
        if (!state && d.stuck == MtjDevice::Stuck::None)
          models::set_bit((m == 0 ? ap_a_ : ap_b_).data() + c * words_, r, true);
      }
    }
  sel_a_.assign(static_cast<std::size_t>(s.rows), 0.0);
  sel_b_.assign(static_cast<std::size_t>(s.rows), 0.0);
  // The read cache: per (position, group) the drive and currents of the last two different reads
  // (two ways: under Scale-Dropout a layer's input often alternates between two patterns);
  // capped at 2^17 currents (1 MB) per array, beyond which every read is summed afresh.
  const std::size_t slots = static_cast<std::size_t>(s.positions) * static_cast<std::size_t>(groups_) * kCacheWays;
  const std::size_t currents = slots * static_cast<std::size_t>(s.cols) * (two_phase_ ? 2 : 1);
  if (cfg_.device.variation.read_disturb_rate == 0 && currents <= (std::size_t{1} << 17)) {
    cache_key_.assign(slots * (2 * words_ + 1), 0);
    cache_cur_.assign(currents, 0.0);
    cache_code_.assign(currents, 0);
    cache_next_.assign(slots / kCacheWays, 0);
  }
}

// Read disturb (eq. X3): walks the eligible MTJs (conducting, in AP, not stuck) of rows [lo, hi)
// of column `col` in row order with geometric skips, and switches each one hit to P.
void Tile::disturb(int col, const std::uint64_t* x, const std::uint64_t* eligible, int lo, int hi, std::uint64_t key) {
  const double q = cfg_.device.variation.read_disturb_rate;
  const int total = count_range(lo, hi, [&](std::size_t w) { return eligible[w]; });
  disturb_exposures_ += static_cast<std::uint64_t>(total);
  long pos = 0;
  for (std::uint64_t j = 0;; ++j) {
    pos += disturb_skip(uniform01(hash_key(key, static_cast<std::uint64_t>(col), j, 0)), q);
    if (pos >= total) return;
    // The pos-th eligible row (0-based) in [lo, hi).
    long left = pos;
    int row = -1;
    for (int r = lo; r < hi && row < 0; ++r)
      if (models::get_bit(eligible, r) && left-- == 0) row = r;
    // With the complementary cell the conducting MTJ is A for x = +1 and B for x = -1.
    const bool through_b = !two_phase_ && !models::get_bit(x, row);
    auto& ap = through_b ? ap_b_ : ap_a_;
    auto& g = through_b ? g_b_ : g_a_;
    const std::size_t k = static_cast<std::size_t>(col) * cfg_.slice.rows + row;
    const MtjDevice d = mtj_device(cfg_.device.cell, cfg_.device.variation, cfg_.seed, mtj_id(cfg_.index, col, row, through_b));
    g[k] = d.conductance(true, cfg_.device.cell.r_access_ohm);
    models::set_bit(ap.data() + col * words_, row, false);
    flipped_.push_back({k, through_b});
    ++disturbs_;
    ++pos;
  }
}

// Disturbed MTJs are rewritten to AP before the next image (the write is counted when the disturb
// happens, so the energy does not depend on where a worker's share of the images ends).
void Tile::restore_disturbed() {
  const int rows = cfg_.slice.rows;
  for (const Flip& f : flipped_) {
    const int c = static_cast<int>(f.k / rows), r = static_cast<int>(f.k % rows);
    const MtjDevice d = mtj_device(cfg_.device.cell, cfg_.device.variation, cfg_.seed, mtj_id(cfg_.index, c, r, f.b));
    (f.b ? g_b_ : g_a_)[f.k] = d.conductance(false, cfg_.device.cell.r_access_ohm);
    models::set_bit((f.b ? ap_b_ : ap_a_).data() + c * words_, r, true);
  }
  flipped_.clear();
}

void Tile::read_group(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, int p, int g, const TileOp& op,
                      int* codes, int* active_out) {
  const auto& s = cfg_.slice;
  const double pulse = cfg_.arch.read_pulse_s;
  const int size = hi - lo;
  const int step = CrossbarPhysics::adc_step(size, adc_levels_);
  const bool disturb_on = analog_ && cfg_.device.variation.read_disturb_rate > 0;
  std::uint64_t dkey = 0;
  if (disturb_on)
    dkey = hash_key(cfg_.seed ^ kDisturbSalt, op.image_key,
                    (static_cast<std::uint64_t>(op.sample) << 32) | static_cast<std::uint64_t>(cfg_.index),
                    (static_cast<std::uint64_t>(p) << 16) | static_cast<std::uint64_t>(g));
  std::vector<std::uint64_t> elig;
  // Analog reads that repeat an earlier read of this image exactly (same rows driven, same
  // wordlines on, e.g. a layer before the first dropout, or under Scale-Dropout, in every MC
  // sample) reuse its currents: the devices have not changed (no read disturb), so the Kirchhoff
  // sums are the same numbers. The read is still counted and costed as a read.
  double* cur = nullptr;         // this read's currents [cols][phases], cached
  std::int32_t* ccode = nullptr;  // and their ADC codes (a pure function of current and active rows)
  bool hit = false;
  if (analog_ && !disturb_on && !cache_cur_.empty()) {
    const std::size_t set = static_cast<std::size_t>(p - s.position_begin) * groups_ + static_cast<std::size_t>(g);
    const std::size_t key_len = 2 * words_ + 1, cur_len = static_cast<std::size_t>(s.cols) * (two_phase_ ? 2 : 1);
    for (std::size_t way = 0; way < kCacheWays && !hit; ++way) {
      const std::uint64_t* key = cache_key_.data() + (set * kCacheWays + way) * key_len;
      hit = key[0] == op.image_key + 1 && std::equal(x, x + words_, key + 1) && std::equal(a, a + words_, key + 1 + words_);
      if (hit) {
        cur = cache_cur_.data() + (set * kCacheWays + way) * cur_len;
        ccode = cache_code_.data() + (set * kCacheWays + way) * cur_len;
      }
    }
    if (!hit) {  // fill the ways in turn
      const std::size_t way = cache_next_[set];
      cache_next_[set] = static_cast<std::uint8_t>((way + 1) % kCacheWays);
      std::uint64_t* key = cache_key_.data() + (set * kCacheWays + way) * key_len;
      key[0] = op.image_key + 1;  // 0 = empty
      std::copy(x, x + words_, key + 1);
      std::copy(a, a + words_, key + 1 + words_);
      cur = cache_cur_.data() + (set * kCacheWays + way) * cur_len;
      ccode = cache_code_.data() + (set * kCacheWays + way) * cur_len;
    }
  }
  // Complementary cell without read disturb: every column's sum at once from the packed bits
  // (same terms, same order as conductance_sum; the devices do not change during the read).
  static const bool kNibbles = conductance_sums_nibbles_vectorised();
  const bool all_columns = kNibbles && analog_ && !hit && !two_phase_ && !disturb_on;
  if (analog_) {
    if (all_columns) {
      sel_nib_.resize(static_cast<std::size_t>((size + 3) / 4));
      col_g_.resize(static_cast<std::size_t>(s.cols));
      expand_selector_nibbles(x, a, lo, size, sel_nib_.data());
      conductance_sums_nibbles(g_a_.data() + lo, g_b_.data() + lo, static_cast<std::size_t>(s.rows), sel_nib_.data(),
                               size, s.cols, col_g_.data());
    } else if (!hit) {
      expand_selectors(x, a, lo, hi, sel_a_.data() + lo, sel_b_.data() + lo);
    }
    if (disturb_on) elig.assign(words_, 0);
  }
  const int active = count_range(lo, hi, [&](std::size_t w) { return a[w]; });
  if (!two_phase_) {
    // Complementary cell: one read, every active row conducts through A (x = +1) or B. Counters
    // are kept in locals (a store to a member could alias the packed inputs and force reloads).
    const bool sa = cfg_.sa_path;
    std::uint64_t match = 0, mismatch = 0, conversions = 0;
    double aJ = analog_aJ_;  // the same additions in the same order, without a store per column
    if (!analog_) {  // every column's matches over rows [lo, hi) at once
      const int w0 = lo / 64, w1 = (hi + 63) / 64;
      range_a_.resize(static_cast<std::size_t>(w1 - w0));
      for (int w = w0; w < w1; ++w) {
        const int b0 = std::max(lo, w * 64) - w * 64, b1 = std::min(hi, (w + 1) * 64) - w * 64;
        const std::uint64_t upto = b1 == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << b1) - 1;
        range_a_[static_cast<std::size_t>(w - w0)] = a[w] & upto & (~std::uint64_t{0} << b0);
      }
      col_m_.resize(static_cast<std::size_t>(s.cols));
      xnor_counts_columns(x + w0, range_a_.data(), cells_t_.data() + static_cast<std::size_t>(w0) * s.cols,
                          static_cast<std::size_t>(w1 - w0), static_cast<std::size_t>(s.cols), col_m_.data());
    }
    for (int c = 0; c < s.cols; ++c) {
      const int m = analog_ ? 0 : col_m_[static_cast<std::size_t>(c)];
      double i_col = 0;
      if (analog_) {  // Kirchhoff over the conducting MTJ of every active row
        const std::size_t base = static_cast<std::size_t>(c) * s.rows;
        if (hit) {
          i_col = cur[c];
        } else {
          i_col = phys_.v_read() * (all_columns ? col_g_[static_cast<std::size_t>(c)]
                                                : conductance_sum(g_a_.data() + base + lo, g_b_.data() + base + lo,
                                                                  sel_a_.data() + lo, sel_b_.data() + lo, size));
          if (cur) cur[c] = i_col;
        }
        aJ += phys_.column_energy(i_col, pulse) * 1e18;
      } else {
        if (cfg_.arch.sa_offset_sigma_A > 0) i_col = phys_.column_current(m, active);
        match += static_cast<std::uint64_t>(m);
        mismatch += static_cast<std::uint64_t>(active - m);
      }
      if (sa) {  // the caller takes the SA decision from the count or the current
        codes[c] = m;
        sa_current_[c] = i_col;
        sa_matches_[c] = m;
      } else {
        if (analog_) {  // a cached read has its code: same current, same active rows
          if (hit) {
            codes[c] = ccode[c];
          } else {
            codes[c] = phys_.adc(i_col, active, size, adc_levels_);
            if (ccode) ccode[c] = codes[c];
          }
        } else {
          codes[c] = step == 1 ? m  // an exact ADC: the code is the count (m <= active)
                               : CrossbarPhysics::adc_of_matches(m, active, step);
        }
        ++conversions;
      }
      if (disturb_on) {
        const std::uint64_t* apa = ap_a_.data() + c * words_;
        const std::uint64_t* apb = ap_b_.data() + c * words_;
        for (std::size_t w = 0; w < words_; ++w) elig[w] = a[w] & ((x[w] & apa[w]) | (~x[w] & apb[w]));
        disturb(c, x, elig.data(), lo, hi, dkey);
      }
    }
    analog_aJ_ = aJ;
    cell_match_ += match;
    cell_mismatch_ += mismatch;
    adc_conversions_ += conversions;
    *active_out = active;
    ++reads_;
    wordlines_ += static_cast<std::uint64_t>(active);
    bitlines_ += static_cast<std::uint64_t>(s.cols);
    return;
  }
  // 1T-1MTJ, two phases: rows with x = +1 conduct through their MTJ in the first read, rows with
  // x = -1 in the second. Each phase's ADC code estimates q, the P (w = +1) MTJs among its k rows;
  // matches = q(+) + k(-) - q(-).
  const int k_plus = count_range(lo, hi, [&](std::size_t w) { return a[w] & x[w]; });
  const int k_minus = active - k_plus;
  for (int c = 0; c < s.cols; ++c) {
    const std::uint64_t* wcol = cells_.data() + c * words_;
    int code_plus, code_minus;
    if (analog_) {
      const std::size_t base = static_cast<std::size_t>(c) * s.rows + lo;
      const double* ga = g_a_.data() + base;
      double i_plus, i_minus;
      if (hit) {
        i_plus = cur[2 * c];
        i_minus = cur[2 * c + 1];
      } else {
        i_plus = phys_.v_read() * conductance_sum(ga, ga, sel_a_.data() + lo, zeros_.data(), size);
        i_minus = phys_.v_read() * conductance_sum(ga, ga, sel_b_.data() + lo, zeros_.data(), size);
        if (cur) cur[2 * c] = i_plus, cur[2 * c + 1] = i_minus;
      }
      analog_aJ_ += (phys_.column_energy(i_plus, pulse) + phys_.column_energy(i_minus, pulse)) * 1e18;
      if (hit) {
        code_plus = ccode[2 * c];
        code_minus = ccode[2 * c + 1];
      } else {
        code_plus = phys_.adc(i_plus, k_plus, size, adc_levels_);
        code_minus = phys_.adc(i_minus, k_minus, size, adc_levels_);
        if (ccode) ccode[2 * c] = code_plus, ccode[2 * c + 1] = code_minus;
      }
    } else {
      const int q_plus = count_range(lo, hi, [&](std::size_t w) { return a[w] & x[w] & wcol[w]; });
      const int q_minus = count_range(lo, hi, [&](std::size_t w) { return a[w] & ~x[w] & wcol[w]; });
      cell_match_ += static_cast<std::uint64_t>(q_plus + q_minus);
      cell_mismatch_ += static_cast<std::uint64_t>(active - q_plus - q_minus);
      code_plus = CrossbarPhysics::adc_of_matches(q_plus, k_plus, step);
      code_minus = CrossbarPhysics::adc_of_matches(q_minus, k_minus, step);
    }
    codes[c] = code_plus + (k_minus - code_minus);
    adc_conversions_ += 2;
    ++tile_adds_;
    if (disturb_on) {
      const std::uint64_t* apa = ap_a_.data() + c * words_;
      for (std::size_t w = 0; w < words_; ++w) elig[w] = a[w] & apa[w];
      disturb(c, x, elig.data(), lo, hi, dkey);
    }
  }
  *active_out = active;
  reads_ += 2;
  wordlines_ += static_cast<std::uint64_t>(active);
  bitlines_ += 2 * static_cast<std::uint64_t>(s.cols);
}

Tile::OpCounts Tile::counts() const {
  return {reads_,     sa_decisions_, adc_conversions_, tile_adds_, cell_match_, cell_mismatch_,
          ref_p_half_, ref_ap_half_, wordlines_,       bitlines_,  busy_ps_};
}

void Tile::replay(sc_time& delay) {
  const OpCounts& d = last_op_;
  reads_ += d.reads;
  sa_decisions_ += d.sa_decisions;
  adc_conversions_ += d.adc_conversions;
  tile_adds_ += d.tile_adds;
  cell_match_ += d.cell_match;
  cell_mismatch_ += d.cell_mismatch;
  ref_p_half_ += d.ref_p_half;
  ref_ap_half_ += d.ref_ap_half;
  wordlines_ += d.wordlines;
  bitlines_ += d.bitlines;
  busy_ps_ += d.busy_ps;
  delay += sc_time(static_cast<double>(d.busy_ps), sc_core::SC_PS);
}

// The words of op's row vectors and wordline enables that hold this slice's rows, at its positions.
void Tile::op_key(const TileOp& op, std::vector<std::uint64_t>& key) const {
  const auto& s = cfg_.slice;
  const std::size_t w0 = static_cast<std::size_t>(s.row_begin) / 64;
  const std::size_t w1 = static_cast<std::size_t>(s.row_begin + s.rows - 1) / 64 + 1;
  key.clear();
  key.push_back(op.drop ? 1 : 0);
  key.push_back(static_cast<std::uint64_t>(op.positions));
  for (int p = s.position_begin; p < s.position_begin + s.positions; ++p) {
    const std::size_t base = static_cast<std::size_t>(p) * op.words;
    key.insert(key.end(), op.rows + base + w0, op.rows + base + w1);
    key.insert(key.end(), op.active + base + w0, op.active + base + w1);
  }
}

void Tile::compute(TileOp& op, sc_time& delay) {
  const auto& s = cfg_.slice;
  // An operation with exactly the inputs of this tile's previous one (e.g. the first layer under
  // Scale-Dropout, whose bit only selects the reference, or the same ADC partial sums in every
  // sample) gives the same outputs on ideal devices: write them again and replay the accounting.
  // (A tile that has missed 16 times without a hit stops looking: its inputs change every time.)
  const bool memo = cfg_.memo && !analog_ && cfg_.arch.sa_offset_sigma_A == 0 && !op.trace && (memo_hits_ > 0 || memo_misses_ < 16);
  if (memo) {
    op_key(op, key_now_);
    if (memo_valid_ && key_now_ == memo_key_) {
      ++memo_hits_;
      for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i) {
        if (cfg_.sa_path) {
          models::BitWriter out(op.out_bits, static_cast<std::size_t>(s.col_begin) * op.positions + p,
                                static_cast<std::size_t>(op.positions));
          for (int c = 0; c < s.cols; ++c) out.push(memo_bits_[static_cast<std::size_t>(i) * s.cols + c] != 0);
        } else {
          std::copy_n(memo_partial_.data() + static_cast<std::size_t>(i) * s.cols, s.cols,
                      op.partial + static_cast<std::size_t>(p) * cfg_.arch.cols);
          op.active_rows[p] = memo_active_[static_cast<std::size_t>(i)];
        }
      }
      replay(delay);
      return;
    }
  } else {
    memo_valid_ = false;  // this operation's counts replace last_op_: the kept outputs no longer match them
  }
  const OpCounts before = counts();
  const int n = s.rows;
  const auto& thr = layer_->threshold[op.drop ? 1 : 0];
  const int positions = op.positions;  // the layer's; this copy reads [position_begin, + s.positions)
  if (analog_ && op.image_key != image_) {
    restore_disturbed();
    image_ = op.image_key;
  }
  std::uint64_t xl[64], al[64];  // this tile's rows of one position, word-aligned
  const std::size_t cols = static_cast<std::size_t>(s.cols);
  if (codes_.size() != cols) {  // sized once; reused by every operation
    codes_.assign(cols, 0);
    sum_.assign(cols, 0);
    sa_current_.assign(cols, 0.0);
    sa_matches_.assign(cols, 0);
  }
  if (zeros_.size() < static_cast<std::size_t>(n)) zeros_.assign(static_cast<std::size_t>(n), 0.0);
  std::vector<int>& codes = codes_;
  std::vector<int>& sum = sum_;
  // Column by column pays off when a column has positions to fill the kernel's 8 lanes (conv
  // layers); a dense layer's single position stays on the position loop below.
  const bool ideal_sa = cfg_.memo && cfg_.sa_path && !analog_ && !two_phase_ && aligned_ && groups_ == 1 &&
                        cfg_.arch.sa_offset_sigma_A == 0 && words_ > 0 && s.positions >= 8;
  if (ideal_sa) compute_sa_ideal(op);
  for (int p = s.position_begin; !ideal_sa && p < s.position_begin + s.positions; ++p) {
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
    int active = 0, g = 0;
    std::fill(sum.begin(), sum.end(), 0);
    for (int lo = 0; lo < n; lo += group_rows_, ++g) {
      int act_g = 0;
      read_group(x, a, lo, std::min(n, lo + group_rows_), p, g, op, codes.data(), &act_g);
      active += act_g;
      for (int c = 0; c < s.cols; ++c) sum[c] += codes[c];
      if (lo > 0) tile_adds_ += static_cast<std::uint64_t>(s.cols) * (two_phase_ ? 2 : 1);
    }
    std::uint64_t ref_p = 0, ref_ap = 0, decisions = 0;  // locals: see read_group
    models::BitWriter out_bits(op.out_bits, static_cast<std::size_t>(s.col_begin) * positions + p,
                               static_cast<std::size_t>(positions));
    for (int c = 0; c < s.cols; ++c) {
      if (cfg_.sa_path) {
        // The SA compares with a replica reference column gated by the same wordlines, set for
        // the selected scale state: out = +1 iff 2m - N >= A, i.e. m >= ceil((A + N) / 2)
        // (AtMost: the inverted output of m >= floor((A + N) / 2) + 1). A reference outside
        // [1, N] would give a constant, so no reference is read then.
        const int o = s.col_begin + c;
        const models::Threshold& t = thr[o];
        const int m = sa_matches_[c];
        const double i_col = sa_current_[c];
        bool out;
        if (t.mode == models::Threshold::Mode::Always || t.mode == models::Threshold::Mode::Never) {
          out = t.mode == models::Threshold::Mode::Always;
        } else {
          const bool invert = t.mode == models::Threshold::Mode::AtMost;
          // floor(s / 2) = s >> 1 and ceil(s / 2) = (s + 1) >> 1 for any int s (arithmetic shift).
          const int sum = t.a + active;
          const int m_ref = invert ? (sum >> 1) + 1 : (sum + 1) >> 1;
          bool raw;
          if (m_ref <= 0) {
            raw = true;
          } else if (m_ref > active) {
            raw = false;
          } else if (!analog_ && cfg_.arch.sa_offset_sigma_A == 0) {
            // Ideal devices, no offset: I(m) > I_ref(M) is exactly m >= M (eq. X1, X2; tested in
            // test_physics), so compare the counts and skip the floating-point currents.
            raw = m >= m_ref;
            ref_p += static_cast<std::uint64_t>(2 * m_ref - 1);
            ref_ap += static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
          } else {
            double offset = 0;  // input-referred SA offset, drawn per decision
            if (cfg_.arch.sa_offset_sigma_A > 0)
              offset = cfg_.arch.sa_offset_sigma_A *
                       gaussian(cfg_.seed ^ kOffsetSalt, op.image_key,
                                (static_cast<std::uint64_t>(op.sample) << 24) | static_cast<std::uint64_t>(cfg_.index),
                                (static_cast<std::uint64_t>(p) << 16) | static_cast<std::uint64_t>(c));
            raw = i_col + offset > phys_.reference_current(m_ref, active);
            ref_p += static_cast<std::uint64_t>(2 * m_ref - 1);
            ref_ap += static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
          }
          out = invert ? !raw : raw;
        }
        ++decisions;
        out_bits.push(out);
      } else {
        op.partial[static_cast<std::size_t>(p) * cfg_.arch.cols + c] = sum[c];
      }
    }
    ref_p_half_ += ref_p;
    ref_ap_half_ += ref_ap;
    sa_decisions_ += decisions;
    if (!cfg_.sa_path) op.active_rows[p] = active;
  }
  if (op.trace) {
    std::uint64_t sa = 0;
    if (cfg_.sa_path && s.positions > 0)
      for (int c = 0; c < std::min(s.cols, 64); ++c)
        if (models::get_bit(op.out_bits, (s.col_begin + c) * positions + s.position_begin)) sa |= std::uint64_t{1} << c;
    sig_sa_out_.write(sa);
    StatsSink now;
    report_stats(now);
    double e = 0;
    for (const auto& [comp, joules] : now.energy_by_component()) e += joules;
    sig_energy_.write(e);
  }
  const sc_time t = static_cast<double>(s.positions) * static_cast<double>(reads_per_position_) *
                    (cfg_.sa_path ? sa_op_time_ : adc_op_time_);
  if (log_->should_log(spdlog::level::trace))
    log_->trace("{} read(s) of layer {} ({}), {}", s.positions * reads_per_position_, layer_->src->name,
                cfg_.sa_path ? "SA" : "ADC", t.to_string());
  busy_ps_ += t.value();
  delay += t;
  const OpCounts after = counts();
  last_op_ = {after.reads - before.reads,
              after.sa_decisions - before.sa_decisions,
              after.adc_conversions - before.adc_conversions,
              after.tile_adds - before.tile_adds,
              after.cell_match - before.cell_match,
              after.cell_mismatch - before.cell_mismatch,
              after.ref_p_half - before.ref_p_half,
              after.ref_ap_half - before.ref_ap_half,
              after.wordlines - before.wordlines,
              after.bitlines - before.bitlines,
              after.busy_ps - before.busy_ps};
  if (memo) {  // keep this operation's inputs and outputs for the next
    ++memo_misses_;
    std::swap(memo_key_, key_now_);
    memo_valid_ = true;
    const std::size_t n_out = static_cast<std::size_t>(s.positions) * s.cols;
    if (cfg_.sa_path) {
      memo_bits_.resize(n_out);
      for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i)
        for (int c = 0; c < s.cols; ++c)
          memo_bits_[static_cast<std::size_t>(i) * s.cols + c] =
              models::get_bit(op.out_bits, (s.col_begin + c) * op.positions + p) ? 1 : 0;
    } else {
      memo_partial_.resize(n_out);
      memo_active_.resize(static_cast<std::size_t>(s.positions));
      for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i) {
        std::copy_n(op.partial + static_cast<std::size_t>(p) * cfg_.arch.cols, s.cols,
                    memo_partial_.data() + static_cast<std::size_t>(i) * s.cols);
        memo_active_[static_cast<std::size_t>(i)] = op.active_rows[p];
      }
    }
  }
}

void Tile::compute_sa_ideal(const TileOp& op) {
  const auto& s = cfg_.slice;
  const std::size_t np = static_cast<std::size_t>(s.positions);
  const std::size_t words = words_;
  const auto& thr = layer_->threshold[op.drop ? 1 : 0];
  // This slice's rows of each position, word-major ([word][position], for the kernel), with the
  // rows past the slice cleared from the enables (what count_range's tail mask does in read_group).
  xs_.resize(np * words);
  as_.resize(np * words);
  act_.resize(np);
  out_words_.resize(np / 64 + 1);
  const std::uint64_t tail = s.rows % 64 ? (std::uint64_t{1} << (s.rows % 64)) - 1 : ~std::uint64_t{0};
  std::uint64_t wordlines = 0;
  act_count_.assign(static_cast<std::size_t>(s.rows) + 1, 0);  // positions with each number of active rows
  for (std::size_t i = 0; i < np; ++i) {
    const std::size_t at = (static_cast<std::size_t>(s.position_begin) + i) * op.words + static_cast<std::size_t>(s.row_begin) / 64;
    int active = 0;
    for (std::size_t w = 0; w < words; ++w) {
      const std::uint64_t en = op.active[at + w] & (w + 1 == words ? tail : ~std::uint64_t{0});
      xs_[w * np + i] = op.rows[at + w];
      as_[w * np + i] = en;
      active += __builtin_popcountll(en);
    }
    act_[i] = active;
    ++act_count_[static_cast<std::size_t>(active)];
    wordlines += static_cast<std::uint64_t>(active);
  }
  std::vector<std::pair<int, std::uint64_t>>& act_values = act_values_;
  act_values.clear();
  for (std::size_t v = 0; v < act_count_.size(); ++v)
    if (act_count_[v] > 0) act_values.emplace_back(static_cast<int>(v), act_count_[v]);
  constexpr std::int32_t kConstant = 1 << 28;  // a threshold no count reaches: a constant output
  std::uint64_t match = 0, ref_p = 0, ref_ap = 0;
  for (int c = 0; c < s.cols; ++c) {
    const int o = s.col_begin + c;
    const models::Threshold& t = thr[static_cast<std::size_t>(o)];
    const bool invert = t.mode == models::Threshold::Mode::AtMost;
    // Always: m_ref <= 0 at every position; Never: m_ref above every count.
    const std::int32_t a = t.mode == models::Threshold::Mode::Always  ? -kConstant
                           : t.mode == models::Threshold::Mode::Never ? kConstant
                                                                      : t.a;
    match += sa_column(xs_.data(), as_.data(), np, cells_.data() + static_cast<std::size_t>(c) * words, words, np,
                       act_.data(), a, invert, out_words_.data());
    // The reference branch is read where 1 <= m_ref <= N (as in compute); m_ref depends only on
    // the threshold and the active rows N, so it is summed once per distinct N.
    if (t.mode == models::Threshold::Mode::AtLeast || invert)
      for (const auto& [active, count] : act_values) {
        const int sum = t.a + active;
        const int m_ref = invert ? (sum >> 1) + 1 : (sum + 1) >> 1;
        if (m_ref >= 1 && m_ref <= active) {
          ref_p += count * static_cast<std::uint64_t>(2 * m_ref - 1);
          ref_ap += count * static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
        }
      }
    // The outputs of column o at consecutive positions are consecutive bits of out_bits.
    const std::size_t at = static_cast<std::size_t>(o) * static_cast<std::size_t>(op.positions) +
                           static_cast<std::size_t>(s.position_begin);
    for (std::size_t i = 0; i < np; i += 64)
      models::write_bits_at(op.out_bits, at + i, static_cast<int>(std::min<std::size_t>(64, np - i)), out_words_[i / 64]);
  }
  const std::uint64_t reads = static_cast<std::uint64_t>(np);
  const std::uint64_t decisions = reads * static_cast<std::uint64_t>(s.cols);
  cell_match_ += match;
  cell_mismatch_ += wordlines * static_cast<std::uint64_t>(s.cols) - match;
  ref_p_half_ += ref_p;
  ref_ap_half_ += ref_ap;
  sa_decisions_ += decisions;
  reads_ += reads;
  wordlines_ += wordlines;
  bitlines_ += decisions;
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
  // eq. E1, E2: one wordline raised per enabled row per read, every bitline charged per read.
  sink.action(m, "drivers", "wordline", static_cast<double>(wordlines_), actions_.wordline_row_J);
  sink.action(m, "drivers", "bitline", static_cast<double>(bitlines_), bitline_energy(cfg_.arch, cfg_.device));
  sink.action(m, "digital", "partial_sum_add", static_cast<double>(tile_adds_), actions_.digital_add_J);
  sink.count(m, "read_disturbs", static_cast<double>(disturbs_));
  sink.count(m, "read_disturb_exposures", static_cast<double>(disturb_exposures_));
  sink.action(m, "read_disturb", "restore_write", static_cast<double>(disturbs_), mtj_write_energy(cfg_.device, true));
  sink.action(m, "programming", "mtj_write_p", static_cast<double>(p_writes_), mtj_write_energy(cfg_.device, false));
  sink.action(m, "programming", "mtj_write_ap", static_cast<double>(ap_writes_), mtj_write_energy(cfg_.device, true));
  // Write-verify: one read of the MTJ just written (V^2 G t_read with its nominal G) and an SA decision.
  sink.action(m, "programming", "verify_read_p", static_cast<double>(verify_p_), v2t * phys_.g_p() + actions_.sa_decision_J);
  sink.action(m, "programming", "verify_read_ap", static_cast<double>(verify_ap_), v2t * phys_.g_ap() + actions_.sa_decision_J);
  sink.count(m, "programming.mtj_writes", static_cast<double>(p_writes_ + ap_writes_));
  sink.count(m, "programming.verify_reads", static_cast<double>(verify_p_ + verify_ap_));
  sink.count(m, "programming.write_errors", static_cast<double>(write_errors_));
  sink.time_ps(m, "programming.time", program_ps_);
}

}  // namespace bayescim::hw
