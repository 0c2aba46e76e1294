#include "hw/engine/sense_amp.h"

#include <algorithm>

#include "hw/physics/kernels.h"
#include "hw/physics/rng.h"

namespace bayescim::hw {

namespace {
constexpr std::uint64_t kOffsetSalt = 0x5a0f'f5e7'0000'0000ULL;

// The reference's match count M for threshold a and N active rows (floor(s / 2) = s >> 1 and
// ceil(s / 2) = (s + 1) >> 1 for any int s, arithmetic shift).
int reference_matches(int a, int active, bool invert) {
  const int sum = a + active;
  return invert ? (sum >> 1) + 1 : (sum + 1) >> 1;
}
}  // namespace

bool SenseAmp::decide(const models::Threshold& t, int m, double i_col, int active, bool analog, const Where& w,
                      ReadCounts& n) const {
  using Mode = models::Threshold::Mode;
  ++n.sa_decisions;
  if (t.mode == Mode::Always || t.mode == Mode::Never) return t.mode == Mode::Always;
  const bool invert = t.mode == Mode::AtMost;
  const int m_ref = reference_matches(t.a, active, invert);
  bool raw;
  if (m_ref <= 0) {
    raw = true;
  } else if (m_ref > active) {
    raw = false;
  } else {
    if (!analog && offset_sigma_A_ == 0) {
      // Ideal devices, no offset: I(m) > I_ref(M) is exactly m >= M (eq. X1, X2; tested in
      // test_physics), so compare the counts and skip the floating-point currents.
      raw = m >= m_ref;
    } else {
      double offset = 0;  // input-referred SA offset, drawn per decision
      if (offset_sigma_A_ > 0)
        offset = offset_sigma_A_ *
                 gaussian(seed_ ^ kOffsetSalt, w.image_key,
                          (static_cast<std::uint64_t>(w.sample) << 24) | static_cast<std::uint64_t>(index_),
                          (static_cast<std::uint64_t>(w.position) << 16) | static_cast<std::uint64_t>(w.column));
      raw = i_col + offset > phys_.reference_current(m_ref, active);
    }
    n.ref_p_half += static_cast<std::uint64_t>(2 * m_ref - 1);
    n.ref_ap_half += static_cast<std::uint64_t>(2 * (active - m_ref) + 1);
  }
  return invert ? !raw : raw;
}

void SenseAmp::decide_columns(const ArrayOp& op, const ArrayAssignment& s, const std::vector<models::Threshold>& thr,
                              const std::uint64_t* cells, std::size_t words, ReadCounts& n) {
  const std::size_t np = static_cast<std::size_t>(s.positions);
  const int rows_in_slice = s.rows, cols = s.cols, col_begin = s.col_begin, position_begin = s.position_begin;
  out_words_.resize(np / 64 + 1);
  const std::uint64_t wordlines = drive_.gather(op, s, words);  // word-major, for the kernel
  act_count_.assign(static_cast<std::size_t>(rows_in_slice) + 1, 0);
  for (const std::int32_t on : drive_.active) ++act_count_[static_cast<std::size_t>(on)];
  act_values_.clear();
  for (std::size_t v = 0; v < act_count_.size(); ++v)
    if (act_count_[v] > 0) act_values_.emplace_back(static_cast<int>(v), act_count_[v]);
  constexpr std::int32_t kConstant = 1 << 28;  // a threshold no count reaches: a constant output
  std::uint64_t match = 0, ref_p = 0, ref_ap = 0;
  for (int c = 0; c < cols; ++c) {
    const int o = col_begin + c;
    const models::Threshold& t = thr[static_cast<std::size_t>(o)];
    const bool invert = t.mode == models::Threshold::Mode::AtMost;
    // Always: m_ref <= 0 at every position; Never: m_ref above every count.
    const std::int32_t a = t.mode == models::Threshold::Mode::Always  ? -kConstant
                           : t.mode == models::Threshold::Mode::Never ? kConstant
                                                                      : t.a;
    match += sa_column(drive_.x.data(), drive_.a.data(), np, cells + static_cast<std::size_t>(c) * words, words, np,
                       drive_.active.data(), a, invert, out_words_.data());
    // The reference branch is read where 1 <= m_ref <= N (as in decide); m_ref depends only on
    // the threshold and the active rows N, so it is summed once per distinct N.
    if (t.mode == models::Threshold::Mode::AtLeast || invert)
      for (const auto& [on, count] : act_values_) {
        const int m_ref = reference_matches(t.a, on, invert);
        if (m_ref >= 1 && m_ref <= on) {
          ref_p += count * static_cast<std::uint64_t>(2 * m_ref - 1);
          ref_ap += count * static_cast<std::uint64_t>(2 * (on - m_ref) + 1);
        }
      }
    // The outputs of column o at consecutive positions are consecutive bits of out_bits.
    const std::size_t at = static_cast<std::size_t>(o) * static_cast<std::size_t>(op.positions) +
                           static_cast<std::size_t>(position_begin);
    for (std::size_t i = 0; i < np; i += 64)
      models::write_bits_at(op.out_bits, at + i, static_cast<int>(std::min<std::size_t>(64, np - i)), out_words_[i / 64]);
  }
  const std::uint64_t reads = static_cast<std::uint64_t>(np);
  const std::uint64_t decisions = reads * static_cast<std::uint64_t>(cols);
  n.cell_match += match;
  n.cell_mismatch += wordlines * static_cast<std::uint64_t>(cols) - match;
  n.ref_p_half += ref_p;
  n.ref_ap_half += ref_ap;
  n.sa_decisions += decisions;
  n.reads += reads;
  n.wordlines += wordlines;
  n.bitlines += decisions;
}

}  // namespace bayescim::hw
