#include "models/reference_executor.h"

#include <algorithm>
#include <stdexcept>

namespace bayescim::models {

ReferenceExecutor::ReferenceExecutor(const CompiledNetwork& net) : net_(net) {
  std::size_t w = words_for(net.net->input_size);
  for (const auto& l : net.layers) w = std::max(w, words_for(l.out));
  a_.assign(w, 0);
  b_.assign(w, 0);
}

void ReferenceExecutor::forward(const std::uint8_t* pixels, const std::vector<std::uint8_t>& drop_bits,
                                float* logits) {
  net_.binarize(pixels, a_.data());
  std::size_t bit = 0;
  std::uint64_t* x = a_.data();
  std::uint64_t* y = b_.data();
  for (const auto& l : net_.layers) {
    bool drop = false;
    if (l.scale_dropout) {
      if (bit >= drop_bits.size()) throw std::invalid_argument("too few dropout bits");
      drop = drop_bits[bit++] != 0;
    }
    if (l.sign) {
      std::fill(y, y + words_for(l.out), 0);
      const auto& thr = l.threshold[drop ? 1 : 0];
      for (int o = 0; o < l.out; ++o)
        if (thr[o].fires(xnor_matches(x, l.column(o), l.in))) y[o / 64] |= std::uint64_t{1} << (o % 64);
      std::swap(x, y);
    } else {
      for (int o = 0; o < l.out; ++o)
        logits[o] = static_cast<float>(l.preactivation(o, xnor_matches(x, l.column(o), l.in), drop));
    }
  }
}

}  // namespace bayescim::models
