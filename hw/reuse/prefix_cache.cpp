#include "hw/reuse/prefix_cache.h"

#include <algorithm>

namespace bayescim::hw {

PrefixCache::PrefixCache(const models::CompiledNetwork& net)
    : net_(net), drive_(net.layers.size()), counts_(net.layers.size()) {
  length_ = static_cast<int>(net.layers.size());
  for (std::size_t li = 0; li < net.layers.size(); ++li)
    if (net.layers[li].dropout) {
      length_ = static_cast<int>(li);
      break;
    }
}

void PrefixCache::begin(bool enabled, std::uint64_t key) {
  prefix_ = enabled ? length_ : 0;
  key_ = key;
  replay_ = prefix_ > 0 && valid_ && image_ == key;
  if (prefix_ > 0 && !replay_) valid_ = false;
}

void PrefixCache::keep_drive(std::size_t li, const std::uint64_t* rows, const std::uint64_t* active, std::size_t n) {
  drive_[li].assign(rows, active, n);
}

void PrefixCache::keep_output(std::size_t li, const std::uint64_t* x, const float* logits) {
  if (static_cast<int>(li) + 1 != prefix_) return;
  const auto& l = net_.layers[li];
  if (l.sign) x_.assign(x, x + models::words_for(l.src->output_elems()));
  else logits_.assign(logits, logits + l.out);
  image_ = key_;
  valid_ = true;
}

void PrefixCache::restore_output(std::size_t li, std::uint64_t* x, float* logits) const {
  if (static_cast<int>(li) + 1 != prefix_) return;
  if (net_.layers[li].sign) std::copy(x_.begin(), x_.end(), x);
  else std::copy(logits_.begin(), logits_.end(), logits);
}

}  // namespace bayescim::hw
