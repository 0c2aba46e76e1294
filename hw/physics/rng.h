// Counter-based random numbers: every draw is a pure function of (seed, stream, index), so a run
// gives the same bits however images are ordered or split across workers.
#pragma once
#include <cstdint>

namespace bayescim::hw {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Each key enters through a full splitmix64 round, so draws that differ only in the last key
// (the draws of one sample) are independent, not one value XORed with a pattern.
inline std::uint64_t hash_key(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return splitmix64(splitmix64(splitmix64(splitmix64(seed ^ 0x6a09e667f3bcc909ULL) + a) + b) + c);
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform01(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// The image key used by the dropout sources: unique per (split, index).
inline std::uint64_t image_key(int split, std::uint64_t index) {
  return (static_cast<std::uint64_t>(split) << 40) | index;
}

// One dropout draw: true (drop) with probability p.
inline bool dropout_draw(std::uint64_t seed, std::uint64_t image, std::uint64_t sample, std::uint64_t draw,
                         double p) {
  return uniform01(hash_key(seed, image, sample, draw)) < p;
}

}  // namespace bayescim::hw
