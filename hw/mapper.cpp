#include "hw/mapper.h"

namespace bayescim::hw {

Mapping map_network(const models::CompiledNetwork& net, const ArchParams& arch) {
  Mapping m;
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& l = net.layers[li];
    LayerMapping lm;
    lm.name = l.src->name;
    lm.row_tiles = (l.in + arch.rows - 1) / arch.rows;
    lm.col_tiles = (l.out + arch.cols - 1) / arch.cols;
    lm.sa_path = l.sign && lm.row_tiles == 1;
    for (int ct = 0; ct < lm.col_tiles; ++ct)
      for (int rt = 0; rt < lm.row_tiles; ++rt) {
        ArrayAssignment a;
        a.layer = static_cast<int>(li);
        a.row_tile = rt;
        a.col_tile = ct;
        a.row_begin = rt * arch.rows;
        a.rows = std::min(arch.rows, l.in - a.row_begin);
        a.col_begin = ct * arch.cols;
        a.cols = std::min(arch.cols, l.out - a.col_begin);
        lm.arrays.push_back(static_cast<int>(m.arrays.size()));
        m.arrays.push_back(a);
      }
    lm.utilisation = static_cast<double>(l.in) * l.out /
                     (static_cast<double>(lm.arrays.size()) * arch.rows * arch.cols);
    m.layers.push_back(std::move(lm));
  }
  return m;
}

}  // namespace bayescim::hw
