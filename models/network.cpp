#include "models/network.h"

#include <algorithm>
#include <cmath>

namespace bayescim::models {

const char* to_string(DropoutKind k) {
  switch (k) {
    case DropoutKind::None: return "none";
    case DropoutKind::Scale: return "scale";
  }
  return "?";
}

DropoutKind parse_dropout_kind(const std::string& s) {
  if (s == "none") return DropoutKind::None;
  if (s == "scale") return DropoutKind::Scale;
  throw ModelError("unknown dropout kind '" + s + "' (allowed: none, scale)");
}

int Network::dropout_layers() const {
  return static_cast<int>(std::count_if(layers.begin(), layers.end(),
                                        [](const BinaryDense& l) { return l.scale_dropout; }));
}

std::uint64_t Network::binary_macs_per_sample() const {
  std::uint64_t n = 0;
  for (const auto& l : layers) n += static_cast<std::uint64_t>(l.in) * static_cast<std::uint64_t>(l.out);
  return n;
}

void Network::validate() const {
  auto fail = [&](const std::string& what) { throw ModelError(source + ": " + what); };
  if (layers.empty()) fail("the network has no binary layers");
  if (input_size <= 0) fail("input size must be positive");
  if (!std::isfinite(input_threshold)) fail("input threshold is not finite");
  int expect_in = input_size;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string where = "layer '" + l.name + "': ";
    if (l.in != expect_in)
      fail(where + "expects " + std::to_string(l.in) + " inputs but the previous layer gives " +
           std::to_string(expect_in));
    if (l.out <= 0) fail(where + "has no outputs");
    if (l.weight.size() != static_cast<std::size_t>(l.in) * l.out) fail(where + "weight size mismatch");
    for (auto w : l.weight)
      if (w != 1 && w != -1) fail(where + "weights must be exactly +1 or -1");
    for (const auto* v : {&l.alpha, &l.bn_gamma, &l.bn_beta, &l.bn_mean, &l.bn_var}) {
      if (v->size() != static_cast<std::size_t>(l.out)) fail(where + "per-neuron vector has wrong size");
      for (float x : *v)
        if (!std::isfinite(x)) fail(where + "non-finite parameter");
    }
    for (float v : l.bn_var)
      if (v + l.bn_eps <= 0) fail(where + "BatchNorm variance + epsilon must be positive");
    const bool last = i + 1 == layers.size();
    if (last == l.sign_activation)
      fail(where + (last ? "the last layer must output real logits (no sign)"
                         : "hidden layers must end in a sign activation"));
    expect_in = l.out;
  }
  if (classes != layers.back().out) fail("class count does not match the last layer");
}

void Network::apply_dropout(const DropoutSpec& spec) {
  if (spec.kind != DropoutKind::None && !(spec.p >= 0.0 && spec.p <= 1.0))
    throw ModelError(source + ": dropout p must be in [0, 1]");
  for (auto& l : layers) l.scale_dropout = false;
  if (spec.kind == DropoutKind::Scale) {
    for (const auto& name : spec.layers) {
      auto it = std::find_if(layers.begin(), layers.end(), [&](const BinaryDense& l) { return l.name == name; });
      if (it == layers.end()) {
        std::string names;
        for (const auto& l : layers) names += (names.empty() ? "" : ", ") + l.name;
        throw ModelError(source + ": dropout layer '" + name + "' is not a layer of the model (layers: " + names + ")");
      }
      it->scale_dropout = true;
    }
  }
  dropout = spec;
}

}  // namespace bayescim::models
