// The wordline drive of a layer: for every output position, the packed row vector the layer's
// arrays read and the wordlines enabled (not padding, not gated off by the sample's dropout draws).
// Plain C++ (no SystemC).
#pragma once
#include <cstdint>
#include <vector>

#include "models/compiled.h"

namespace bayescim::hw {

// One layer's drive: rows and active are [reads][words] (words = the layer's row stride; reads =
// output positions, times the bit planes of a k-bit first layer).
struct Drive {
  std::vector<std::uint64_t> rows, active;
  // Keeps the first n words of a drive (a copy of the row vectors and enables).
  void assign(const std::uint64_t* rows_in, const std::uint64_t* active_in, std::size_t n);
};

// The controller's drive buffer, sized once for the network's largest layer (no allocation per
// sample). Each call overwrites the drive of the previous layer.
class WordlineDrive {
 public:
  explicit WordlineDrive(const models::CompiledNetwork& net);
  WordlineDrive(const WordlineDrive&) = delete;
  WordlineDrive& operator=(const WordlineDrive&) = delete;

  // Drives every position of layer l from its packed input; `mask` holds the layer's draws for
  // the sample (1 = drop) or is null.
  void gather(const models::CompiledLayer& l, const std::uint64_t* input, const std::uint64_t* mask);
  // The same result as gather(l, input, mask), from the unmasked drive of the same input
  // (gather with a null mask): only the rows the draws gate off are cleared.
  void gate(const models::CompiledLayer& l, const std::uint64_t* mask, const Drive& unmasked);

  const std::uint64_t* rows() const { return rows_.data(); }
  const std::uint64_t* active() const { return active_.data(); }
  // Words of the drive of layer l (reads x words).
  static std::size_t size(const models::CompiledLayer& l);
  // Fills `d` with the unmasked drive of layer l for `input` (resizing it).
  static void gather_unmasked(const models::CompiledLayer& l, const std::uint64_t* input, Drive& d);

 private:
  std::vector<std::uint64_t> rows_, active_;
};

}  // namespace bayescim::hw
