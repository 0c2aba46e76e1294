// A network lowered for execution: bit-packed weights and, per output neuron, the integer
// decision on the XNOR match count that BatchNorm + sign reduce to (for kept and dropped scale).
// Both the reference executor and the simulated hardware use this single lowering.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "models/bitops.h"
#include "models/network.h"

namespace bayescim::models {

// out = +1 iff the condition holds on the match count m (popcount of XNOR over the fan-in).
struct MatchThreshold {
  enum class Mode : std::uint8_t { AtLeast, AtMost, Always, Never } mode = Mode::Always;
  int m = 0;
  bool fires(int matches) const {
    switch (mode) {
      case Mode::AtLeast: return matches >= m;
      case Mode::AtMost: return matches <= m;
      case Mode::Always: return true;
      case Mode::Never: return false;
    }
    return false;
  }
};

struct CompiledLayer {
  const BinaryDense* src = nullptr;
  int in = 0, out = 0;
  std::size_t words = 0;                 // words per packed row of `in` elements
  std::vector<std::uint64_t> weights;    // [out][words], column-major by neuron
  bool sign = true;
  bool scale_dropout = false;
  std::array<std::vector<MatchThreshold>, 2> threshold;  // [dropped?0:1... index = drop bit][out]
  double dropped_value = 1.0;

  const std::uint64_t* column(int o) const { return weights.data() + static_cast<std::size_t>(o) * words; }
  // BatchNorm output of neuron o for match count m, with the scale kept (drop=false) or dropped.
  double preactivation(int o, int matches, bool drop) const;
};

struct CompiledNetwork {
  const Network* net = nullptr;
  std::vector<CompiledLayer> layers;
  std::array<bool, 256> pixel_bit{};  // first-layer binarisation of a raw 8-bit pixel

  explicit CompiledNetwork(const Network& n);
  // Packs raw pixels (input_size bytes) into the first layer's ±1 bit vector.
  void binarize(const std::uint8_t* pixels, std::uint64_t* out) const;
};

}  // namespace bayescim::models
