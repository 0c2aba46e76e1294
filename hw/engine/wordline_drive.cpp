#include "hw/engine/wordline_drive.h"

#include <algorithm>

namespace bayescim::hw {

void Drive::assign(const std::uint64_t* rows_in, const std::uint64_t* active_in, std::size_t n) {
  rows.assign(rows_in, rows_in + n);
  active.assign(active_in, active_in + n);
}

WordlineDrive::WordlineDrive(const models::CompiledNetwork& net) {
  std::size_t n = 0;
  for (const auto& l : net.layers) n = std::max(n, size(l));
  rows_.assign(n, 0);
  active_.assign(n, 0);
}

std::size_t WordlineDrive::size(const models::CompiledLayer& l) {
  return static_cast<std::size_t>(l.reads()) * l.words;
}

void WordlineDrive::gather(const models::CompiledLayer& l, const std::uint64_t* input, const std::uint64_t* mask) {
  const int reads = l.reads();
  for (int p = 0; p < reads; ++p)
    l.rows_at(p, input, mask, rows_.data() + static_cast<std::size_t>(p) * l.words,
              active_.data() + static_cast<std::size_t>(p) * l.words);
}

void WordlineDrive::gate(const models::CompiledLayer& l, const std::uint64_t* mask, const Drive& unmasked) {
  l.mask_rows(mask, unmasked.rows.data(), unmasked.active.data(), rows_.data(), active_.data());
}

void WordlineDrive::gather_unmasked(const models::CompiledLayer& l, const std::uint64_t* input, Drive& d) {
  const std::size_t n = size(l);
  d.rows.resize(n);
  d.active.resize(n);
  const int reads = l.reads();
  for (int p = 0; p < reads; ++p)
    l.rows_at(p, input, nullptr, d.rows.data() + static_cast<std::size_t>(p) * l.words,
              d.active.data() + static_cast<std::size_t>(p) * l.words);
}

}  // namespace bayescim::hw
