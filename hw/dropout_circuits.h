// The circuits of each dropout organisation beyond the stochastic MTJs (plain C++; docs/hardware.md,
// "Dropout circuits", eq. DC1-DC8). Hardware counts (what is built) and action counts per pass of a
// dropped layer (what one MC sample does), from the network, its mapping and the module layout:
//   drivers     one per stochastic module (current DAC or pulse-width timer that sets p)
//   mask        latches holding a layer's bits for its pass; element-wise masks also travel with the
//               activations through the im2col gather (one buffer bit per gated row per position)
//   gating      one AND gate per wordline of a dropped layer's arrays (per-neuron and spatial:
//               the spatial controller's K*K-way gating is K*K gates per channel bit)
//   select      the shared unit's alpha/theta select: per column in the SA reference (SA-path
//               layers), per neuron in the digital threshold (ADC-path layers and logits)
#pragma once
#include <cstddef>
#include <vector>

#include "hw/mapper.h"
#include "models/compiled.h"

namespace bayescim::hw {

enum class Organisation { None, Shared, Spatial, PerNeuron };
const char* to_string(Organisation o);
Organisation organisation_for(models::DropoutKind k);

// Module layout of an organisation on a network: how many modules, and which module draws the
// i-th draw of a layer.
struct ModuleMap {
  Organisation org = Organisation::None;
  std::vector<std::size_t> base;      // first module of each layer
  std::vector<std::size_t> per_layer; // modules of each layer (0 without dropout)
  std::size_t modules = 0;
  std::size_t module_of(std::size_t layer, std::size_t draw) const;
};
ModuleMap map_modules(const models::CompiledNetwork& net);

struct DropoutCircuitLayer {
  std::size_t bits = 0;            // random bits per pass (the layer's draws per sample)
  std::size_t latches = 0;         // mask bits held during the pass
  std::size_t gates = 0;           // gated wordlines (AND gates) of the layer's arrays
  std::size_t gate_reads = 0;      // gated-wordline evaluations per pass
  std::size_t gather_reads = 0;    // element-wise: mask bits read with x through the gather per pass
  std::size_t select_columns = 0;  // shared unit, SA path: columns whose reference is selected
  std::size_t select_neurons = 0;  // shared unit, ADC path or logits: neurons whose threshold is selected
  DropoutCircuitLayer& operator+=(const DropoutCircuitLayer& o);
};

struct DropoutCircuits {
  Organisation org = Organisation::None;
  std::size_t modules = 0;  // stochastic modules, one driver each
  std::vector<DropoutCircuitLayer> layers;
  DropoutCircuitLayer total() const;
};

DropoutCircuits dropout_circuits(const models::CompiledNetwork& net, const Mapping& mapping, const ModuleMap& modules);

}  // namespace bayescim::hw
