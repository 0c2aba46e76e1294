// One operation of an array: read every output position of its slice of a layer (plain C++; the
// TLM command TileOp carries one).
#pragma once
#include <cstddef>
#include <cstdint>

namespace bayescim::hw {

struct ArrayOp {
  const std::uint64_t* rows = nullptr;    // [positions][words] the layer's packed row vectors
  const std::uint64_t* active = nullptr;  // [positions][words] wordlines on (padding, dropout off)
  std::size_t words = 0;                  // stride of rows and active
  int positions = 1;
  bool drop = false;                      // reference select: dropped scale (true) or alpha
  std::uint64_t* out_bits = nullptr;      // SA path: outputs [out][positions] of the whole layer
  int* partial = nullptr;                 // ADC path: match counts [positions][array cols] of this tile
  int* active_rows = nullptr;             // ADC path: active rows [positions] of this tile
  bool trace = false;                     // inside the VCD window: update the traced signals
  // A replayed prefix layer (hw/reuse/prefix_cache.h): the controller takes the layer's outputs
  // from the sample that recorded it, so a tile memo hit need not write out_bits or partial.
  bool outputs_unused = false;
  std::uint64_t image_key = 0;            // for per-decision noise (SA offset), drawn per read
  int sample = 0;
};

}  // namespace bayescim::hw
