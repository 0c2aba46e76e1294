// The bit-exact software reference: XNOR-popcount on 64-bit words, no hardware model.
#pragma once
#include <cstdint>
#include <vector>

#include "models/compiled.h"

namespace bayescim::models {

class ReferenceExecutor {
 public:
  explicit ReferenceExecutor(const CompiledNetwork& net);
  // One forward pass of one image with this sample's dropout masks. Writes `classes` logits.
  void forward(const std::uint8_t* pixels, const SampleMasks& masks, float* logits);
  // Scale-Dropout convenience: one bit per dropout layer, in network order (1 = dropped).
  void forward(const std::uint8_t* pixels, const std::vector<std::uint8_t>& drop_bits, float* logits);

 private:
  const CompiledNetwork& net_;
  std::vector<std::uint64_t> a_, b_, pre_, x_, act_;
  std::vector<int> pre_a_;  // one position's pre-activations, summed over bit planes
  std::vector<std::vector<std::uint64_t>> saved_;  // per layer: its input, kept for a residual shortcut
  SampleMasks scratch_;
};

}  // namespace bayescim::models
