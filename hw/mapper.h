// Lays a network onto crossbar arrays: each layer is cut into row tiles (fan-in) and column
// tiles (neurons). A layer whose fan-in fits one array and that ends in sign() is sensed by SAs
// against a reference; otherwise each array's partial sum goes through an ADC and is added.
#pragma once
#include <string>
#include <vector>

#include "hw/params.h"
#include "models/compiled.h"

namespace bayescim::hw {

struct ArrayAssignment {
  int layer = 0;
  int row_tile = 0, col_tile = 0;
  int row_begin = 0, rows = 0;  // slice of the layer's inputs
  int col_begin = 0, cols = 0;  // slice of the layer's neurons
};

struct LayerMapping {
  std::string name;
  int row_tiles = 0, col_tiles = 0;
  bool sa_path = false;          // true: SA threshold; false: ADC partial sums + digital
  std::vector<int> arrays;       // indices into Mapping::arrays, row-tile major within col tiles
  double utilisation = 0;        // used cells / available cells over this layer's arrays
};

struct Mapping {
  std::vector<ArrayAssignment> arrays;
  std::vector<LayerMapping> layers;
};

Mapping map_network(const models::CompiledNetwork& net, const ArchParams& arch);

}  // namespace bayescim::hw
