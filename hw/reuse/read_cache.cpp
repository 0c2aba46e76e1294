#include "hw/reuse/read_cache.h"

#include <algorithm>

namespace bayescim::hw {

void ReadCache::configure(std::size_t sets, std::size_t words, std::size_t per_read) {
  words_ = words;
  per_read_ = per_read;
  const std::size_t slots = sets * kWays;
  if (slots * per_read > (std::size_t{1} << 17)) return;
  key_.assign(slots * (2 * words + 1), 0);
  cur_.assign(slots * per_read, 0.0);
  code_.assign(slots * per_read, 0);
  next_.assign(sets, 0);
}

ReadCache::Slot ReadCache::lookup(std::size_t set, std::uint64_t image_key, const std::uint64_t* x,
                                  const std::uint64_t* a) {
  const std::size_t key_len = 2 * words_ + 1;
  Slot s;
  for (std::size_t way = 0; way < kWays; ++way) {
    const std::uint64_t* key = key_.data() + (set * kWays + way) * key_len;
    if (key[0] == image_key + 1 && std::equal(x, x + words_, key + 1) && std::equal(a, a + words_, key + 1 + words_)) {
      s.current = cur_.data() + (set * kWays + way) * per_read_;
      s.code = code_.data() + (set * kWays + way) * per_read_;
      s.hit = true;
      return s;
    }
  }
  const std::size_t way = next_[set];  // fill the ways in turn
  next_[set] = static_cast<std::uint8_t>((way + 1) % kWays);
  std::uint64_t* key = key_.data() + (set * kWays + way) * key_len;
  key[0] = image_key + 1;
  std::copy(x, x + words_, key + 1);
  std::copy(a, a + words_, key + 1 + words_);
  s.current = cur_.data() + (set * kWays + way) * per_read_;
  s.code = code_.data() + (set * kWays + way) * per_read_;
  return s;
}

}  // namespace bayescim::hw
