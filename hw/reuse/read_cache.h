// Analog read cache (acceleration layer): an analog read that repeats an earlier read of the
// same image exactly (same rows driven, same wordlines on: a layer before the first dropout, or
// under Scale-Dropout in every MC sample) reuses its column currents and ADC codes. The devices
// have not changed (the cache is off with read disturb), so the Kirchhoff sums are the same
// numbers; the read is still counted and costed as a read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bayescim::hw {

class ReadCache {
 public:
  // Per (position, group) set: the drive and results of the last two different reads (two ways:
  // under Scale-Dropout a layer's input often alternates between two patterns). `per_read` values
  // per read (columns x phases). Stays off beyond 2^17 values (1 MB) per array.
  void configure(std::size_t sets, std::size_t words, std::size_t per_read);
  bool enabled() const { return !cur_.empty(); }

  struct Slot {
    double* current = nullptr;         // [per_read] this read's currents
    std::int32_t* code = nullptr;      // [per_read] and their ADC codes
    bool hit = false;                  // true: both hold this read's values
  };
  // The slot of this read: its cached values, or (miss) the way to fill next, now keyed to it.
  Slot lookup(std::size_t set, std::uint64_t image_key, const std::uint64_t* x, const std::uint64_t* a);

 private:
  static constexpr std::size_t kWays = 2;
  std::size_t words_ = 0, per_read_ = 0;
  std::vector<std::uint64_t> key_;  // [set][way][1 + 2 words] image + 1 (0 = empty), x, a
  std::vector<double> cur_;
  std::vector<std::int32_t> code_;
  std::vector<std::uint8_t> next_;  // [set] the way to fill next
};

}  // namespace bayescim::hw
