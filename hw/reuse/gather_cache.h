// The gather cache, a simulation shortcut of the controller: the first dropout layer's input is
// the same in every MC sample of an image (when the layers before it are deterministic), so its
// unmasked wordline drive is gathered once per image and each sample's draws only clear rows of it.
// Plain C++ (no SystemC).
#pragma once
#include <cstdint>

#include "hw/engine/wordline_drive.h"
#include "models/compiled.h"

namespace bayescim::hw {

class GatherCache {
 public:
  explicit GatherCache(const models::CompiledNetwork& net);
  GatherCache(const GatherCache&) = delete;
  GatherCache& operator=(const GatherCache&) = delete;

  // Whether layer li is the one whose drive is kept (the first dropout layer).
  bool covers(std::size_t li) const { return li == layer_; }
  // The unmasked drive of layer l (the covered layer) for `input`, the input of image `key`:
  // gathered on the first call for the image, kept for the calls that follow with the same key.
  const Drive& unmasked(const models::CompiledLayer& l, const std::uint64_t* input, std::uint64_t key);

 private:
  std::size_t layer_;
  bool valid_ = false;
  std::uint64_t image_ = 0;
  Drive drive_;
};

}  // namespace bayescim::hw
