// Bit-packed ±1 vectors: bit i of word i/64 is 1 iff element i is +1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bayescim::models {

inline std::size_t words_for(int n) { return (static_cast<std::size_t>(n) + 63) / 64; }

// Number of positions where the first n elements of x and w agree (= popcount(XNOR)).
inline int xnor_matches(const std::uint64_t* x, const std::uint64_t* w, int n) {
  const std::size_t full = static_cast<std::size_t>(n) / 64;
  int m = 0;
  for (std::size_t i = 0; i < full; ++i) m += __builtin_popcountll(~(x[i] ^ w[i]));
  if (const int rem = n % 64) {
    const std::uint64_t mask = (std::uint64_t{1} << rem) - 1;
    m += __builtin_popcountll(~(x[full] ^ w[full]) & mask);
  }
  return m;
}

// Matches over the element range [begin, begin + len) (used for row tiles).
int xnor_matches_range(const std::uint64_t* x, const std::uint64_t* w, int begin, int len);

inline void set_bit(std::uint64_t* v, int i, bool one) {
  const std::uint64_t b = std::uint64_t{1} << (i % 64);
  if (one) v[i / 64] |= b; else v[i / 64] &= ~b;
}
inline bool get_bit(const std::uint64_t* v, int i) { return (v[i / 64] >> (i % 64)) & 1U; }

// The len (1..64) elements starting at element `begin`, as the low bits of one word. Reads the
// word after begin's only when the range extends into it.
inline std::uint64_t bits_at(const std::uint64_t* v, std::size_t begin, int len) {
  const std::size_t word = begin / 64;
  const int off = static_cast<int>(begin % 64);
  std::uint64_t b = v[word] >> off;
  if (off + len > 64) b |= v[word + 1] << (64 - off);
  return len == 64 ? b : b & ((std::uint64_t{1} << len) - 1);
}

// ORs the len (1..64) low bits of `bits` into v at element `begin` onwards.
inline void or_bits_at(std::uint64_t* v, std::size_t begin, int len, std::uint64_t bits) {
  const std::size_t word = begin / 64;
  const int off = static_cast<int>(begin % 64);
  v[word] |= bits << off;
  if (off + len > 64) v[word + 1] |= bits >> (64 - off);
}

// Replaces the len (1..64) elements of v starting at element `begin` with the low bits of `bits`.
inline void write_bits_at(std::uint64_t* v, std::size_t begin, int len, std::uint64_t bits) {
  const std::uint64_t keep = len == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << len) - 1;
  bits &= keep;
  const std::size_t word = begin / 64;
  const int off = static_cast<int>(begin % 64);
  v[word] = (v[word] & ~(keep << off)) | (bits << off);
  if (off + len > 64) v[word + 1] = (v[word + 1] & ~(keep >> (64 - off))) | (bits >> (64 - off));
}

// Writes bits one after another at elements begin, begin + stride, begin + 2 * stride, ...; with
// stride 1 it collects them and writes 64 at a time. Flushes on destruction.
class BitWriter {
 public:
  BitWriter(std::uint64_t* v, std::size_t begin, std::size_t stride) : v_(v), at_(begin), stride_(stride) {}
  BitWriter(const BitWriter&) = delete;
  BitWriter& operator=(const BitWriter&) = delete;
  ~BitWriter() { flush(); }
  void push(bool one) {
    if (stride_ != 1) {
      set_bit(v_, static_cast<int>(at_), one);
      at_ += stride_;
      return;
    }
    bits_ |= static_cast<std::uint64_t>(one) << filled_;
    if (++filled_ == 64) flush();
  }
  void flush() {
    if (filled_ == 0) return;
    write_bits_at(v_, at_, filled_, bits_);
    at_ += static_cast<std::size_t>(filled_);
    bits_ = 0;
    filled_ = 0;
  }

 private:
  std::uint64_t* v_;
  std::size_t at_, stride_;
  std::uint64_t bits_ = 0;
  int filled_ = 0;
};

}  // namespace bayescim::models
