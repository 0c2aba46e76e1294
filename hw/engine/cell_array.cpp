#include "hw/engine/cell_array.h"

#include <algorithm>

#include "hw/engine/bit_range.h"
#include "hw/physics/rng.h"

namespace bayescim::hw {

CellArray::CellArray(const DeviceParams& device, const ArchParams& arch, const ArrayAssignment& slice, int index,
                     std::uint64_t seed)
    : device_(device),
      arch_(arch),
      slice_(slice),
      index_(index),
      seed_(seed),
      two_phase_(arch.cell == CellScheme::TwoPhase),
      analog_(device.variation.any()),
      weak_p_(device.variation.read_disturbs_p) {}

std::uint64_t CellArray::program(const models::CompiledLayer& layer) {
  const auto& s = slice_;
  const auto& var = device_.variation;
  const bool verify = arch_.write_verify;
  words_ = models::words_for(s.rows);
  aligned_ = s.row_begin % 64 == 0;
  cells_.assign(words_ * s.cols, 0);
  for (int c = 0; c < s.cols; ++c) {
    const std::uint64_t* col = layer.column(s.col_begin + c);
    for (int r = 0; r < s.rows; ++r) models::set_bit(cells_.data() + c * words_, r, models::get_bit(col, s.row_begin + r));
  }
  cells_t_.assign(words_ * s.cols, 0);  // the same bits word-major, for xnor_counts_columns
  for (int c = 0; c < s.cols; ++c)
    for (std::size_t w = 0; w < words_; ++w) cells_t_[w * s.cols + c] = cells_[c * words_ + w];
  const std::size_t n = static_cast<std::size_t>(s.cols) * s.rows;
  wrong_a_.assign(n, 0);
  wrong_b_.assign(two_phase_ ? 0 : n, 0);
  std::uint64_t rounds = 0;
  const int mtjs = two_phase_ ? 1 : 2;
  for (int r = 0; r < s.rows; ++r) {
    int worst[2] = {0, 0};  // [to P, to AP]
    for (int c = 0; c < s.cols; ++c) {
      const bool plus = models::get_bit(cells_.data() + c * words_, r);
      for (int m = 0; m < mtjs; ++m) {
        const bool to_p = m == 0 ? plus : !plus;  // A stores w (P = +1), B stores not w
        bool ok = true;
        const int k = write_attempts(seed_, mtj_id(index_, c, r, m == 1), var.write_error(to_p), verify,
                                     arch_.write_max_attempts, &ok);
        (to_p ? writes_.failed_to_p : writes_.failed_to_ap) += static_cast<std::uint64_t>(ok ? k - 1 : k);
        (to_p ? writes_.p_writes : writes_.ap_writes) += static_cast<std::uint64_t>(k);
        if (verify) (to_p ? writes_.verify_p : writes_.verify_ap) += static_cast<std::uint64_t>(k);
        worst[to_p ? 0 : 1] = std::max(worst[to_p ? 0 : 1], k);
        if (!ok) {
          ++writes_.write_errors;
          (m == 0 ? wrong_a_ : wrong_b_)[static_cast<std::size_t>(c) * s.rows + r] = 1;
        }
      }
    }
    rounds += static_cast<std::uint64_t>(std::max(worst[0], 1) + std::max(worst[1], 1));
  }
  if (writes_.write_errors > 0) analog_ = true;  // the cells no longer hold (w, not w): read them one by one
  if (analog_) make_analog();
  return rounds;
}

// Each MTJ keeps its own conductance (variation, stuck-at faults, write errors) for the run.
void CellArray::make_analog() {
  const auto& s = slice_;
  const std::size_t n = static_cast<std::size_t>(s.cols) * s.rows;
  const double r_t = device_.cell.r_access_ohm;
  g_a_.assign(n, 0.0);
  g_b_.assign(two_phase_ ? 0 : n, 0.0);
  const bool ir = arch_.wire_ohm_per_cell > 0 || arch_.source_line_ohm_per_cell > 0 || arch_.sense_node_ohm > 0;
  g_a_r_.assign(ir ? n : 0, 0.0);
  g_b_r_.assign(ir && !two_phase_ ? n : 0, 0.0);
  ap_a_.assign(words_ * s.cols, 0);
  ap_b_.assign(two_phase_ ? 0 : words_ * s.cols, 0);
  for (int c = 0; c < s.cols; ++c)
    for (int r = 0; r < s.rows; ++r) {
      const bool plus = models::get_bit(cells_.data() + c * words_, r);
      const std::size_t k = static_cast<std::size_t>(c) * s.rows + r;
      for (int m = 0; m < (two_phase_ ? 1 : 2); ++m) {
        const MtjDevice d = mtj_device(device_.cell, device_.variation, seed_, mtj_id(index_, c, r, m == 1));
        bool want_p = m == 0 ? plus : !plus;
        if ((m == 0 ? wrong_a_ : wrong_b_)[k]) want_p = !want_p;
        const bool state = d.state_after_write(want_p);
        set_g(k, m == 1, d.conductance(state, r_t));
        if (state == weak_p_ && d.stuck == MtjDevice::Stuck::None)
          models::set_bit((m == 0 ? ap_a_ : ap_b_).data() + c * words_, r, true);
      }
    }
}

void CellArray::set_g(std::size_t k, bool b, double g) {
  (b ? g_b_ : g_a_)[k] = g;
  auto& rows = b ? g_b_r_ : g_a_r_;
  if (!rows.empty()) {
    const std::size_t n = static_cast<std::size_t>(slice_.rows);
    rows[(k % n) * static_cast<std::size_t>(slice_.cols) + k / n] = g;
  }
}

void CellArray::disturb(int col, const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, std::uint64_t key) {
  // Eligible: conducting and in the state the read destabilises (ap_*: AP, or P with
  // read_disturbs_p). With the complementary cell the conducting MTJ is A for
  // x = +1 and B for x = -1; with 1T-1MTJ cells it is A in both phases.
  elig_.assign(words_, 0);
  const std::uint64_t* apa = ap_a_.data() + col * words_;
  if (two_phase_) {
    for (std::size_t w = 0; w < words_; ++w) elig_[w] = a[w] & apa[w];
  } else {
    const std::uint64_t* apb = ap_b_.data() + col * words_;
    for (std::size_t w = 0; w < words_; ++w) elig_[w] = a[w] & ((x[w] & apa[w]) | (~x[w] & apb[w]));
  }
  const std::uint64_t* eligible = elig_.data();
  const double q = device_.variation.read_disturb_rate;
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
    const bool through_b = !two_phase_ && !models::get_bit(x, row);
    auto& ap = through_b ? ap_b_ : ap_a_;
    const std::size_t k = static_cast<std::size_t>(col) * slice_.rows + row;
    const MtjDevice d = mtj_device(device_.cell, device_.variation, seed_, mtj_id(index_, col, row, through_b));
    set_g(k, through_b, d.conductance(!weak_p_, device_.cell.r_access_ohm));
    models::set_bit(ap.data() + col * words_, row, false);
    flipped_.push_back({k, through_b});
    ++disturbs_;
    ++pos;
  }
}

void CellArray::start_image(std::uint64_t image_key) {
  if (!analog_ || image_key == image_) return;
  image_ = image_key;
  const int rows = slice_.rows;
  for (const Flip& f : flipped_) {
    const int c = static_cast<int>(f.k / rows), r = static_cast<int>(f.k % rows);
    const MtjDevice d = mtj_device(device_.cell, device_.variation, seed_, mtj_id(index_, c, r, f.b));
    set_g(f.k, f.b, d.conductance(weak_p_, device_.cell.r_access_ohm));
    models::set_bit((f.b ? ap_b_ : ap_a_).data() + c * words_, r, true);
  }
  flipped_.clear();
}

}  // namespace bayescim::hw
