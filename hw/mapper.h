// Lays a network onto crossbar arrays: each layer is cut into row tiles (fan-in) and column
// tiles (neurons), and the whole set may be replicated so that copies share the layer's output
// positions (conv layers). A layer whose fan-in fits one read of one array, with the
// complementary cell, and that ends in sign() is sensed by SAs against a reference; otherwise
// each read's partial sum goes through an ADC and is added digitally. A layer with a residual
// join always takes the ADC path: its shortcut is added to the multi-bit pre-activation.
#pragma once
#include <string>
#include <vector>

#include "hw/params.h"
#include "models/compiled.h"

namespace bayescim::hw {

struct ArrayAssignment {
  int layer = 0;
  int row_tile = 0, col_tile = 0, replica = 0;
  int row_begin = 0, rows = 0;            // slice of the layer's inputs
  int col_begin = 0, cols = 0;            // slice of the layer's neurons
  int position_begin = 0, positions = 0;  // output positions this copy reads
};

struct LayerMapping {
  std::string name;
  int row_tiles = 0, col_tiles = 0, replicas = 1;
  bool sa_path = false;          // true: SA threshold; false: ADC partial sums + digital
  std::vector<int> arrays;       // indices into Mapping::arrays: [replica][col tile][row tile]
  double utilisation = 0;        // used cells / available cells over this layer's arrays
};

struct Mapping {
  std::vector<ArrayAssignment> arrays;
  std::vector<LayerMapping> layers;
  // Residual joins: the shortcut buffer's capacity, the most bits held at once (a block input
  // from the layer that reads it until its last consumer), and the shortcut adders (one per
  // output of the widest residual layer: a layer's outputs are joined in parallel).
  long long shortcut_buffer_bits = 0;
  int shortcut_adders = 0;
};

Mapping map_network(const models::CompiledNetwork& net, const ArchParams& arch);

}  // namespace bayescim::hw
