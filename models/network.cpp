#include "models/network.h"

#include <algorithm>
#include <cmath>

namespace bayescim::models {

const char* to_string(DropoutKind k) {
  switch (k) {
    case DropoutKind::None: return "none";
    case DropoutKind::McDropout: return "mc_dropout";
    case DropoutKind::Spatial: return "spatial";
    case DropoutKind::Scale: return "scale";
  }
  return "?";
}

DropoutKind parse_dropout_kind(const std::string& s) {
  if (s == "none") return DropoutKind::None;
  if (s == "mc_dropout") return DropoutKind::McDropout;
  if (s == "spatial") return DropoutKind::Spatial;
  if (s == "scale") return DropoutKind::Scale;
  throw ModelError("unknown dropout kind '" + s + "' (allowed: none, mc_dropout, spatial, scale)");
}

const char* to_string(McLayout l) {
  return l == McLayout::ElementWise ? "element-wise" : "per-row-per-position";
}

McLayout parse_mc_layout(const std::string& s) {
  if (s == "per-row-per-position") return McLayout::PerRowPerPosition;
  if (s == "element-wise") return McLayout::ElementWise;
  throw ModelError("unknown mc_dropout layout '" + s + "' (allowed: per-row-per-position, element-wise)");
}

int Network::dropout_layers() const {
  return static_cast<int>(std::count_if(layers.begin(), layers.end(),
                                        [](const BinaryLayer& l) { return l.dropout; }));
}

std::uint64_t Network::binary_macs_per_sample() const {
  std::uint64_t n = 0;
  for (const auto& l : layers)
    n += static_cast<std::uint64_t>(l.in) * static_cast<std::uint64_t>(l.out) * static_cast<std::uint64_t>(l.positions());
  // A k-bit first layer is k binary passes, one per bit plane.
  if (input_bits > 0 && !layers.empty())
    n += static_cast<std::uint64_t>(input_bits - 1) * layers[0].in * static_cast<std::uint64_t>(layers[0].out) *
         static_cast<std::uint64_t>(layers[0].positions());
  return n;
}

void Network::validate() const {
  auto fail = [&](const std::string& what) { throw ModelError(source + ": " + what); };
  if (layers.empty()) fail("the network has no binary layers");
  if (input_size <= 0 || input_size != input_c * input_h * input_w) fail("input size must be positive and C*H*W");
  if (!std::isfinite(input_threshold)) fail("input threshold is not finite");
  if (input_bits < 0 || input_bits > kMaxInputBits)
    fail("first-layer input bits " + std::to_string(input_bits) + " outside 0 (±1 thresholded) .. " +
         std::to_string(kMaxInputBits));
  for (int p = 0; input_bits > 0 && p < 256; ++p)
    if (input_levels[static_cast<std::size_t>(p)] >= (1u << input_bits))
      fail("input level of pixel " + std::to_string(p) + " does not fit " + std::to_string(input_bits) + " bits");
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (!(std::isfinite(layers[i].input_scale) && layers[i].input_scale > 0) || (i > 0 && layers[i].input_scale != 1.0))
      fail("layer '" + layers[i].name + "': input scale must be positive and finite, and 1 after the first layer");
  int expect_c = input_c, expect_h = input_h, expect_w = input_w;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string where = "layer '" + l.name + "': ";
    const int expect_in = expect_c * expect_h * expect_w;
    if (l.out <= 0) fail(where + "has no outputs");
    if (l.kind == LayerKind::Dense) {
      if (l.in != expect_in || l.c_in != l.in || l.h_in != 1 || l.w_in != 1 || l.positions() != 1 || l.pool != 0)
        fail(where + "expects " + std::to_string(l.in) + " inputs but the previous layer gives " +
             std::to_string(expect_in));
    } else {
      if (l.c_in != expect_c || l.h_in != expect_h || l.w_in != expect_w)
        fail(where + "expects input " + std::to_string(l.c_in) + "x" + std::to_string(l.h_in) + "x" +
             std::to_string(l.w_in) + " but the previous layer gives " + std::to_string(expect_c) + "x" +
             std::to_string(expect_h) + "x" + std::to_string(expect_w));
      if (l.k < 1 || l.stride < 1 || l.pad < 0 || l.pad >= l.k) fail(where + "invalid kernel, stride or padding");
      if (l.in != l.c_in * l.k * l.k) fail(where + "fan-in must be C_in*K*K");
      if (l.h_out != (l.h_in + 2 * l.pad - l.k) / l.stride + 1 || l.w_out != (l.w_in + 2 * l.pad - l.k) / l.stride + 1 ||
          l.h_out < 1 || l.w_out < 1)
        fail(where + "output size does not follow from input, kernel, stride and padding");
    }
    if (l.pool < 0 || (l.pool > 0 && (l.h_out % l.pool != 0 || l.w_out % l.pool != 0)))
      fail(where + "max-pool window must divide the output size");
    if (l.pool > 0 && !l.sign_activation) fail(where + "max-pool is supported only after a sign activation");
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
    if (l.shortcut.present()) {
      const auto& sc = l.shortcut;
      if (sc.from < 1 || static_cast<std::size_t>(sc.from) > i)
        fail(where + "a shortcut must read a hidden layer's ±1 output (the input of a layer from the second up to "
                     "this one)");
      const auto& src = layers[static_cast<std::size_t>(sc.from)];
      if (sc.c != src.c_in || sc.h != src.h_in || sc.w != src.w_in)
        fail(where + "shortcut geometry does not match the input of layer '" + src.name + "'");
      if (sc.pool < 1 || sc.pool > Shortcut::kMaxPool || sc.c < 1 || l.out % sc.c != 0 || sc.h != l.h_out * sc.pool || sc.w != l.w_out * sc.pool)
        fail(where + "shortcut " + std::to_string(sc.c) + "x" + std::to_string(sc.h) + "x" + std::to_string(sc.w) +
             " pooled by " + std::to_string(sc.pool) + " does not fit the output " + std::to_string(l.out) + "x" +
             std::to_string(l.h_out) + "x" + std::to_string(l.w_out) + " (channels must divide, sizes match)");
      if (!l.sign_activation) fail(where + "a residual join must be followed by a sign activation");
    }
    const bool last = i + 1 == layers.size();
    if (last == l.sign_activation)
      fail(where + (last ? "the last layer must output real logits (no sign)"
                         : "hidden layers must end in a sign activation"));
    if (l.kind == LayerKind::Conv) {
      expect_c = l.out;
      expect_h = l.h_pooled();
      expect_w = l.w_pooled();
    } else {
      expect_c = l.out;
      expect_h = expect_w = 1;
    }
  }
  if (layers.back().kind != LayerKind::Dense) fail("the last layer must be fully connected (logits)");
  if (classes != layers.back().out) fail("class count does not match the last layer");
}

std::vector<std::string> Network::default_dropout_layers(DropoutKind kind) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const bool first = i == 0;
    if ((kind == DropoutKind::Scale) || (kind == DropoutKind::McDropout && !first) ||
        (kind == DropoutKind::Spatial && !first && layers[i].kind == LayerKind::Conv))
      out.push_back(layers[i].name);
  }
  return out;
}

void Network::apply_dropout(const DropoutSpec& spec) {
  if (spec.kind != DropoutKind::None && !(spec.p >= 0.0 && spec.p <= 1.0))
    throw ModelError(source + ": dropout p must be in [0, 1]");
  for (auto& l : layers) l.dropout = false;
  if (spec.kind != DropoutKind::None) {
    for (const auto& name : spec.layers) {
      auto it = std::find_if(layers.begin(), layers.end(), [&](const BinaryLayer& l) { return l.name == name; });
      if (it == layers.end()) {
        std::string names;
        for (const auto& l : layers) names += (names.empty() ? "" : ", ") + l.name;
        throw ModelError(source + ": dropout layer '" + name + "' is not a layer of the model (layers: " + names + ")");
      }
      if (spec.kind == DropoutKind::Spatial && it->kind != LayerKind::Conv)
        throw ModelError(source + ": spatial dropout drops input channels of conv layers; '" + name +
                         "' is fully connected");
      it->dropout = true;
    }
  }
  dropout = spec;
}

}  // namespace bayescim::models
