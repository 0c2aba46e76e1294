#include "hw/mapper.h"

#include <algorithm>

namespace bayescim::hw {

Mapping map_network(const models::CompiledNetwork& net, const ArchParams& arch) {
  Mapping m;
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& l = net.layers[li];
    const int positions = l.reads();  // a k-bit first layer reads each output position k times
    LayerMapping lm;
    lm.name = l.src->name;
    lm.row_tiles = (l.in + arch.rows - 1) / arch.rows;
    lm.col_tiles = (l.out + arch.cols - 1) / arch.cols;
    // A copy with no position to read would be idle: at most one copy per output position.
    lm.replicas = std::max(1, std::min(arch.replicate, positions));
    lm.sa_path = l.sign && lm.row_tiles == 1 && l.in <= rows_per_read(arch) && arch.cell == CellScheme::Complementary &&
                 !l.bit_serial &&  // bit planes are added digitally, so each needs its partial sum
                 !l.src->shortcut.present();  // so is a residual shortcut
    for (int rep = 0; rep < lm.replicas; ++rep)
      for (int ct = 0; ct < lm.col_tiles; ++ct)
        for (int rt = 0; rt < lm.row_tiles; ++rt) {
          ArrayAssignment a;
          a.layer = static_cast<int>(li);
          a.row_tile = rt;
          a.col_tile = ct;
          a.replica = rep;
          a.row_begin = rt * arch.rows;
          a.rows = std::min(arch.rows, l.in - a.row_begin);
          a.col_begin = ct * arch.cols;
          a.cols = std::min(arch.cols, l.out - a.col_begin);
          // Contiguous blocks of positions, the first (positions mod replicas) copies one longer.
          const int base = positions / lm.replicas, extra = positions % lm.replicas;
          a.position_begin = rep * base + std::min(rep, extra);
          a.positions = base + (rep < extra ? 1 : 0);
          lm.arrays.push_back(static_cast<int>(m.arrays.size()));
          m.arrays.push_back(a);
        }
    lm.utilisation = static_cast<double>(l.in) * l.out * lm.replicas /
                     (static_cast<double>(lm.arrays.size()) * arch.rows * arch.cols);
    m.layers.push_back(std::move(lm));
  }
  // Shortcut buffer: the input of layer f is held from f until the last layer j > f whose
  // shortcut reads it (a shortcut of the layer's own input reads the activation buffer).
  std::vector<std::size_t> last(net.layers.size(), 0);
  for (std::size_t j = 0; j < net.layers.size(); ++j) {
    const auto& sc = net.layers[j].src->shortcut;
    if (!sc.present()) continue;
    m.shortcut_adders = std::max(m.shortcut_adders, net.layers[j].out);
    if (static_cast<std::size_t>(sc.from) < j) last[static_cast<std::size_t>(sc.from)] = j;
  }
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    long long held = 0;
    for (std::size_t f = 0; f <= li; ++f)
      if (last[f] >= li && last[f] > f) held += net.layers[f].src->input_elems();
    m.shortcut_buffer_bits = std::max(m.shortcut_buffer_bits, held);
  }
  return m;
}

}  // namespace bayescim::hw
