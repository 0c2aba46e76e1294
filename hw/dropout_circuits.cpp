#include "hw/dropout_circuits.h"

namespace bayescim::hw {

const char* to_string(Organisation o) {
  switch (o) {
    case Organisation::None: return "none";
    case Organisation::Shared: return "shared_unit";
    case Organisation::Spatial: return "spatial_controller";
    case Organisation::PerNeuron: return "per_neuron_modules";
  }
  return "?";
}

Organisation organisation_for(models::DropoutKind k) {
  switch (k) {
    case models::DropoutKind::None: return Organisation::None;
    case models::DropoutKind::Scale: return Organisation::Shared;
    case models::DropoutKind::Spatial: return Organisation::Spatial;
    case models::DropoutKind::McDropout: return Organisation::PerNeuron;
  }
  return Organisation::None;
}

std::size_t ModuleMap::module_of(std::size_t layer, std::size_t draw) const {
  switch (org) {
    case Organisation::Shared: return 0;
    case Organisation::Spatial: return base[layer] + draw;                      // draw = channel
    case Organisation::PerNeuron: return base[layer] + draw % per_layer[layer];  // draw = p * rows + r
    case Organisation::None: break;
  }
  return 0;
}

ModuleMap map_modules(const models::CompiledNetwork& net) {
  ModuleMap m;
  m.org = organisation_for(net.net->dropout.kind);
  for (const auto& l : net.layers) {
    std::size_t n = 0;
    if (l.dropout) {
      switch (m.org) {
        case Organisation::Shared: n = 0; break;  // the one unit is counted once below
        case Organisation::Spatial: n = static_cast<std::size_t>(l.src->c_in); break;
        case Organisation::PerNeuron: n = static_cast<std::size_t>(l.in); break;
        case Organisation::None: break;
      }
    }
    m.base.push_back(m.modules);
    m.per_layer.push_back(n);
    m.modules += n;
  }
  if (m.org == Organisation::Shared && net.net->dropout_layers() > 0) m.modules = 1;
  return m;
}


DropoutCircuitLayer& DropoutCircuitLayer::operator+=(const DropoutCircuitLayer& o) {
  bits += o.bits;
  latches += o.latches;
  gates += o.gates;
  gate_reads += o.gate_reads;
  gather_reads += o.gather_reads;
  select_columns += o.select_columns;
  select_neurons += o.select_neurons;
  return *this;
}

DropoutCircuitLayer DropoutCircuits::total() const {
  DropoutCircuitLayer t;
  for (const auto& l : layers) t += l;
  return t;
}

DropoutCircuits dropout_circuits(const models::CompiledNetwork& net, const Mapping& mapping, const ModuleMap& modules) {
  DropoutCircuits c;
  c.org = modules.org;
  c.modules = modules.modules;
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& l = net.layers[li];
    const auto& lm = mapping.layers.at(li);
    DropoutCircuitLayer d;
    if (l.dropout) {
      const auto rows = static_cast<std::size_t>(l.in), positions = static_cast<std::size_t>(l.src->positions());
      const auto col_tiles = static_cast<std::size_t>(lm.col_tiles), replicas = static_cast<std::size_t>(lm.replicas);
      d.bits = l.draws_per_sample();
      switch (c.org) {
        case Organisation::PerNeuron:
        case Organisation::Spatial:
          // DC3: per-row-per-position and spatial hold one pass's (or one position's) bits; the
          // element-wise mask is the layer's whole input feature map (every window reads it).
          d.latches = c.org == Organisation::Spatial ? d.bits
                      : l.mc_layout == models::McLayout::ElementWise ? d.bits
                                                                      : modules.per_layer[li];
          d.gates = rows * col_tiles * replicas;  // DC5: every wordline of the layer's arrays
          d.gate_reads = rows * positions * col_tiles;  // copies split the positions
          if (c.org == Organisation::PerNeuron && l.mc_layout == models::McLayout::ElementWise && l.src->positions() > 0 &&
              !l.gather.empty())
            d.gather_reads = d.gate_reads;  // DC4: the element's mask bit travels with x
          break;
        case Organisation::Shared: {
          d.latches = 1;
          const auto cols = static_cast<std::size_t>(l.out);
          if (lm.sa_path) d.select_columns = cols * replicas;  // DC6: the SA reference select
          else d.select_neurons = cols;                        // DC7: the digital threshold select
          break;
        }
        case Organisation::None: break;
      }
    }
    c.layers.push_back(d);
  }
  return c;
}

}  // namespace bayescim::hw
