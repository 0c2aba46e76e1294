// Bit-range helpers of the array engines.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bayescim::hw {

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

// The identity of one MTJ of the design (array, column, row, A or B): keys its variation and faults.
inline std::uint64_t mtj_id(int index, int c, int r, bool b) {
  return (((static_cast<std::uint64_t>(index) << 40) | (static_cast<std::uint64_t>(c) << 20) |
           static_cast<std::uint64_t>(r))
          << 1) |
         (b ? 1U : 0U);
}

}  // namespace bayescim::hw
