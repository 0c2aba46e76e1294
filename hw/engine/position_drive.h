// The drive of every output position of an array slice, word-major ([word][position]), for the
// column-by-column kernels (sa_column, xnor_column_counts): consecutive positions sit in
// consecutive SIMD lanes. Rows past the slice are cleared from the enables. Plain C++.
#pragma once
#include <cstdint>
#include <vector>

#include "hw/engine/array_op.h"
#include "hw/mapper.h"

namespace bayescim::hw {

struct PositionDrive {
  std::vector<std::uint64_t> x, a;  // [word][position]: the slice's inputs and wordline enables
  std::vector<std::int32_t> active;  // [position]: wordlines on

  // Gathers the slice's `words` words of every position of op; returns the wordlines on in all.
  std::uint64_t gather(const ArrayOp& op, const ArrayAssignment& s, std::size_t words) {
    const std::size_t np = static_cast<std::size_t>(s.positions);
    x.resize(np * words);
    a.resize(np * words);
    active.resize(np);
    const std::uint64_t tail = s.rows % 64 ? (std::uint64_t{1} << (s.rows % 64)) - 1 : ~std::uint64_t{0};
    std::uint64_t wordlines = 0;
    for (std::size_t i = 0; i < np; ++i) {
      const std::size_t at =
          (static_cast<std::size_t>(s.position_begin) + i) * op.words + static_cast<std::size_t>(s.row_begin) / 64;
      int on = 0;
      for (std::size_t w = 0; w < words; ++w) {
        const std::uint64_t en = op.active[at + w] & (w + 1 == words ? tail : ~std::uint64_t{0});
        x[w * np + i] = op.rows[at + w];
        a[w * np + i] = en;
        on += __builtin_popcountll(en);
      }
      active[i] = on;
      wordlines += static_cast<std::uint64_t>(on);
    }
    return wordlines;
  }
};

}  // namespace bayescim::hw
