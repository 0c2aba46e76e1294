#include "hw/reuse/tile_memo.h"

#include <algorithm>

#include "models/bitops.h"

namespace bayescim::hw {

// The words of a row-vector array ([positions][words]) that hold this slice's rows, at its positions;
// one block when the slice spans whole row vectors.
template <class F>
void TileMemo::for_each_block(const ArrayOp& op, const std::uint64_t* v, F f) const {
  const auto& s = slice_;
  const std::size_t w0 = static_cast<std::size_t>(s.row_begin) / 64;
  const std::size_t w1 = static_cast<std::size_t>(s.row_begin + s.rows - 1) / 64 + 1;
  const std::size_t first = static_cast<std::size_t>(s.position_begin) * op.words;
  if (w0 == 0 && w1 == op.words) {
    f(v + first, v + first + static_cast<std::size_t>(s.positions) * op.words);
    return;
  }
  for (int p = 0; p < s.positions; ++p) {
    const std::uint64_t* at = v + first + static_cast<std::size_t>(p) * op.words;
    f(at + w0, at + w1);
  }
}

void TileMemo::key_of(const ArrayOp& op, std::vector<std::uint64_t>& key) const {
  key.clear();
  key.push_back(drop_key(op));
  key.push_back(static_cast<std::uint64_t>(op.positions));
  for (const std::uint64_t* v : {op.rows, op.active})
    for_each_block(op, v, [&](const std::uint64_t* b, const std::uint64_t* e) { key.insert(key.end(), b, e); });
}

// The slice's SA outputs as runs of consecutive bits of out_bits ([out][positions]): one run per
// column (its positions), or with one position per layer, one run of all columns.
std::vector<TileMemo::Run> TileMemo::runs(const ArrayOp& op) const {
  const auto& s = slice_;
  std::vector<Run> out;
  std::size_t word = 0;
  auto add = [&](std::size_t at, int len) {
    out.push_back({at, len, word});
    word += models::words_for(len);
  };
  if (op.positions == 1) {
    add(static_cast<std::size_t>(s.col_begin), s.cols);
  } else {
    for (int c = 0; c < s.cols; ++c)
      add(static_cast<std::size_t>(s.col_begin + c) * static_cast<std::size_t>(op.positions) +
              static_cast<std::size_t>(s.position_begin),
          s.positions);
  }
  return out;
}

bool TileMemo::same_inputs(const ArrayOp& op, const std::vector<std::uint64_t>& key) const {
  if (key.size() < 2 || key[0] != drop_key(op) || key[1] != static_cast<std::uint64_t>(op.positions)) return false;
  const std::uint64_t* k = key.data() + 2;
  const std::uint64_t* end = key.data() + key.size();
  bool same = true;
  for (const std::uint64_t* v : {op.rows, op.active})
    for_each_block(op, v, [&](const std::uint64_t* b, const std::uint64_t* e) {
      if (!same) return;
      const auto n = e - b;
      same = end - k >= n && std::equal(b, e, k);
      k += same ? n : 0;
    });
  return same && k == end;
}

bool TileMemo::answer(const ArrayOp& op, ReadCounts& counts, double& aJ) {
  const Entry* hit = nullptr;
  for (const Entry& e : ways_)
    if (e.valid && same_inputs(op, e.key)) {
      hit = &e;
      break;
    }
  if (!hit) {
    key_of(op, key_now_);
    return false;
  }
  ++hits_;
  const Entry& e = *hit;
  const auto& s = slice_;
  if (op.outputs_unused) {
    // nothing to write: the controller restores the layer's outputs itself
  } else if (sa_path_) {
    for (const Run& r : runs_) {
      for (int i = 0; i < r.len; i += 64)
        models::write_bits_at(op.out_bits, r.at + static_cast<std::size_t>(i), std::min(64, r.len - i),
                              e.bits[r.word + static_cast<std::size_t>(i) / 64]);
    }
  } else {
    for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i) {
      std::copy_n(e.partial.data() + static_cast<std::size_t>(i) * s.cols, s.cols,
                  op.partial + static_cast<std::size_t>(p) * arch_cols_);
      op.active_rows[p] = e.active[static_cast<std::size_t>(i)];
    }
  }
  counts = e.counts;
  aJ = e.aJ;
  return true;
}

void TileMemo::keep(const ArrayOp& op, const ReadCounts& counts, double aJ) {
  ++misses_;
  Entry& e = ways_[next_];
  next_ ^= 1;
  std::swap(e.key, key_now_);
  e.valid = true;
  e.counts = counts;
  e.aJ = aJ;
  const auto& s = slice_;
  if (sa_path_) {
    if (runs_.empty()) runs_ = runs(op);  // the tile's layer, so its positions, never change
    e.bits.clear();
    for (const Run& r : runs_)
      for (int i = 0; i < r.len; i += 64)
        e.bits.push_back(models::bits_at(op.out_bits, r.at + static_cast<std::size_t>(i), std::min(64, r.len - i)));
  } else {
    e.partial.resize(static_cast<std::size_t>(s.positions) * s.cols);
    e.active.resize(static_cast<std::size_t>(s.positions));
    for (int p = s.position_begin, i = 0; p < s.position_begin + s.positions; ++p, ++i) {
      std::copy_n(op.partial + static_cast<std::size_t>(p) * arch_cols_, s.cols,
                  e.partial.data() + static_cast<std::size_t>(i) * s.cols);
      e.active[static_cast<std::size_t>(i)] = op.active_rows[p];
    }
  }
}

}  // namespace bayescim::hw
