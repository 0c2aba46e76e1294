#include "hw/reuse/tile_memo.h"

#include <algorithm>

#include "models/bitops.h"

namespace bayescim::hw {

void TileMemo::key_of(const ArrayOp& op, std::vector<std::uint64_t>& key) const {
  const auto& s = slice_;
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

bool TileMemo::answer(const ArrayOp& op, ReadCounts& counts) {
  key_of(op, key_now_);
  if (!valid_ || key_now_ != key_) return false;
  ++hits_;
  const auto& s = slice_;
  for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i) {
    if (sa_path_) {
      models::BitWriter out(op.out_bits, static_cast<std::size_t>(s.col_begin) * op.positions + p,
                            static_cast<std::size_t>(op.positions));
      for (int c = 0; c < s.cols; ++c) out.push(bits_[static_cast<std::size_t>(i) * s.cols + c] != 0);
    } else {
      std::copy_n(partial_.data() + static_cast<std::size_t>(i) * s.cols, s.cols,
                  op.partial + static_cast<std::size_t>(p) * arch_cols_);
      op.active_rows[p] = active_[static_cast<std::size_t>(i)];
    }
  }
  counts = counts_;
  return true;
}

void TileMemo::keep(const ArrayOp& op, const ReadCounts& counts) {
  ++misses_;
  std::swap(key_, key_now_);
  valid_ = true;
  counts_ = counts;
  const auto& s = slice_;
  const std::size_t n_out = static_cast<std::size_t>(s.positions) * s.cols;
  if (sa_path_) {
    bits_.resize(n_out);
    for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i)
      for (int c = 0; c < s.cols; ++c)
        bits_[static_cast<std::size_t>(i) * s.cols + c] =
            models::get_bit(op.out_bits, (s.col_begin + c) * op.positions + p) ? 1 : 0;
  } else {
    partial_.resize(n_out);
    active_.resize(static_cast<std::size_t>(s.positions));
    for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i) {
      std::copy_n(op.partial + static_cast<std::size_t>(p) * arch_cols_, s.cols,
                  partial_.data() + static_cast<std::size_t>(i) * s.cols);
      active_[static_cast<std::size_t>(i)] = op.active_rows[p];
    }
  }
}

}  // namespace bayescim::hw
