#include "hw/reuse/gather_cache.h"

namespace bayescim::hw {

GatherCache::GatherCache(const models::CompiledNetwork& net) : layer_(net.layers.size()) {
  for (std::size_t li = 0; li < net.layers.size(); ++li)
    if (net.layers[li].dropout) {
      layer_ = li;
      break;
    }
}

const Drive& GatherCache::unmasked(const models::CompiledLayer& l, const std::uint64_t* input, std::uint64_t key) {
  if (!valid_ || image_ != key) {
    WordlineDrive::gather_unmasked(l, input, drive_);
    image_ = key;
    valid_ = true;
  }
  return drive_;
}

}  // namespace bayescim::hw
