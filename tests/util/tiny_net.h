// Random binary networks for tests, and an independent plain (unpacked, integer) forward pass.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "models/network.h"

namespace bayescim::testing {

inline void random_params(models::BinaryLayer& l, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < l.in * l.out; ++i) l.weight.push_back(u(rng) >= 0 ? 1 : -1);
  for (int o = 0; o < l.out; ++o) {
    l.alpha.push_back(0.5f + std::fabs(u(rng)));
    l.bn_gamma.push_back(u(rng) > -0.8f ? 0.5f + std::fabs(u(rng)) : -0.7f);  // some negative gammas
    l.bn_beta.push_back(0.3f * u(rng));
    l.bn_mean.push_back(static_cast<float>(std::sqrt(static_cast<double>(l.in))) * u(rng));
    l.bn_var.push_back(static_cast<float>(l.in) * (0.2f + std::fabs(u(rng))));
  }
}

inline models::BinaryLayer dense(const std::string& name, int in, int out, bool sign) {
  models::BinaryLayer l;
  l.name = name;
  l.in = l.c_in = in;
  l.out = out;
  l.sign_activation = sign;
  return l;
}

inline models::BinaryLayer conv(const std::string& name, int c_in, int h, int w, int c_out, int k, int stride, int pad,
                                int pool) {
  models::BinaryLayer l;
  l.kind = models::LayerKind::Conv;
  l.name = name;
  l.c_in = c_in;
  l.h_in = h;
  l.w_in = w;
  l.k = k;
  l.stride = stride;
  l.pad = pad;
  l.in = c_in * k * k;
  l.out = c_out;
  l.h_out = (h + 2 * pad - k) / stride + 1;
  l.w_out = (w + 2 * pad - k) / stride + 1;
  l.pool = pool;
  l.sign_activation = true;
  return l;
}

inline void finish(models::Network& n, models::DropoutKind kind, double p, std::uint64_t seed,
                   std::vector<std::string> layers = {}) {
  std::mt19937_64 rng(seed);
  for (auto& l : n.layers) random_params(l, rng);
  n.classes = n.layers.back().out;
  models::DropoutSpec spec;
  spec.kind = kind;
  spec.p = p;
  if (kind != models::DropoutKind::None) {
    if (layers.empty())
      for (const auto& l : n.layers)
        if (kind != models::DropoutKind::Spatial || l.kind == models::LayerKind::Conv) layers.push_back(l.name);
    spec.layers = layers;
  }
  n.apply_dropout(spec);
  n.validate();
}

// Makes the first layer read k-bit unsigned inputs q = round(pixel * (2^k - 1) / 255) (no ties:
// 255 is odd), and widens its BatchNorm statistics by the larger input range (a spans
// ±in * (2^k - 1)) so that its outputs stay mixed.
inline void use_input_bits(models::Network& n, int k) {
  n.input_bits = k;
  const int levels = (1 << k) - 1;
  for (int p = 0; p < 256; ++p) n.input_levels[static_cast<std::size_t>(p)] = static_cast<std::uint16_t>((2 * p * levels + 255) / 510);
  auto& l = n.layers.front();
  for (int o = 0; o < l.out; ++o) {
    l.bn_mean[o] *= 0.5f * static_cast<float>(levels);
    l.bn_var[o] *= 0.25f * static_cast<float>(levels) * static_cast<float>(levels);
  }
  n.validate();
}

// sizes = {in, h1, ..., classes}; every layer gets Scale-Dropout when `scale` is true.
inline models::Network random_network(const std::vector<int>& sizes, std::uint64_t seed, bool scale = true,
                                      double p = 0.3) {
  models::Network n;
  n.source = "random";
  n.input_size = n.input_c = sizes.front();
  for (std::size_t k = 0; k + 1 < sizes.size(); ++k)
    n.layers.push_back(dense("fc" + std::to_string(k + 1), sizes[k], sizes[k + 1], k + 2 < sizes.size()));
  finish(n, scale ? models::DropoutKind::Scale : models::DropoutKind::None, p, seed);
  return n;
}

// An empty network on c x hw x hw images.
inline models::Network image_network(const std::string& source, int c, int hw) {
  models::Network n;
  n.source = source;
  n.input_c = c;
  n.input_h = n.input_w = hw;
  n.input_size = c * hw * hw;
  return n;
}

// 1x10x10 -> conv 3x3 pad 1 (4 ch) pool 2 -> conv 3x3 stride 1 no pad (5 ch) 3x3 -> dense 45 -> 6.
inline models::Network random_cnn(std::uint64_t seed, models::DropoutKind kind, double p = 0.3) {
  models::Network n = image_network("random-cnn", 1, 10);
  n.layers.push_back(conv("conv1", 1, 10, 10, 4, 3, 1, 1, 2));
  n.layers.push_back(conv("conv2", 4, 5, 5, 5, 3, 1, 0, 0));
  n.layers.push_back(dense("fc1", 45, 6, false));
  std::vector<std::string> layers;
  if (kind == models::DropoutKind::McDropout || kind == models::DropoutKind::Spatial) layers = {"conv2"};
  if (kind == models::DropoutKind::McDropout) layers.push_back("fc1");
  finish(n, kind, p, seed, layers);
  return n;
}

// The definition, element by element in double. drop(layer, i) gives the i-th draw of a layer:
// scale i = 0; spatial i = input channel; mc_dropout i = position * fan_in + (c, kh, kw) row, or
// element-wise the input element (c, y, x) the row reads, (c * h_in + y) * w_in + x. A residual
// layer's sign takes z + s, s the mean of the ±1 inputs of layer `from` in the pool x pool window
// under the output position, channel o mod C (never dropped).
inline std::vector<double> plain_forward(const models::Network& n, const std::uint8_t* pixels,
                                         const std::function<bool(std::size_t, std::size_t)>& drop) {
  std::vector<int> x(n.input_size);
  for (int i = 0; i < n.input_size; ++i)  // ±1 thresholded, or the k-bit integers of the pixels
    x[i] = n.input_bits > 0 ? n.input_levels[pixels[i]] : static_cast<float>(pixels[i]) / 255.0f >= n.input_threshold ? 1 : -1;
  std::vector<double> z;
  std::vector<std::vector<int>> inputs;  // every layer's input, for the shortcuts
  for (std::size_t li = 0; li < n.layers.size(); ++li) {
    const auto& l = n.layers[li];
    inputs.push_back(x);
    const bool scale_drop = l.dropout && n.dropout.kind == models::DropoutKind::Scale && drop(li, 0);
    const int P = l.positions();
    std::vector<int> y(static_cast<std::size_t>(l.out) * P);
    z.assign(static_cast<std::size_t>(l.out) * P, 0.0);
    for (int o = 0; o < l.out; ++o)
      for (int pos = 0; pos < P; ++pos) {
        const int oh = pos / l.w_out, ow = pos % l.w_out;
        long a = 0;
        for (int r = 0; r < l.in; ++r) {
          int xi;
          if (l.kind == models::LayerKind::Dense) {
            xi = x[r];
          } else {
            const int ch = r / (l.k * l.k), kh = (r / l.k) % l.k, kw = r % l.k;
            const int ih = oh * l.stride - l.pad + kh, iw = ow * l.stride - l.pad + kw;
            if (ih < 0 || iw < 0 || ih >= l.h_in || iw >= l.w_in) continue;  // zero padding
            if (l.dropout && n.dropout.kind == models::DropoutKind::Spatial && drop(li, ch)) continue;
            xi = x[(ch * l.h_in + ih) * l.w_in + iw];
          }
          if (l.dropout && n.dropout.kind == models::DropoutKind::McDropout) {
            // per row per position: draw pos * in + r; element-wise: the input element read
            std::size_t d = static_cast<std::size_t>(pos) * l.in + r;
            if (n.dropout.layout == models::McLayout::ElementWise) {
              d = static_cast<std::size_t>(r);  // dense: element r
              if (l.kind == models::LayerKind::Conv) {
                const int ch = r / (l.k * l.k), kh = (r / l.k) % l.k, kw = r % l.k;
                d = static_cast<std::size_t>((ch * l.h_in + oh * l.stride - l.pad + kh) * l.w_in + ow * l.stride - l.pad + kw);
              }
            }
            if (drop(li, d)) continue;
          }
          a += xi * l.weight[static_cast<std::size_t>(o) * l.in + r];
        }
        const double s = scale_drop ? n.dropout.scale_dropped_value : l.alpha[o];
        const double sd = std::sqrt(static_cast<double>(l.bn_var[o]) + l.bn_eps);
        const double zz = l.bn_gamma[o] * (static_cast<double>(a) * l.input_scale * s - l.bn_mean[o]) / sd + l.bn_beta[o];
        z[static_cast<std::size_t>(o) * P + pos] = zz;
        double sc = 0;
        if (const auto& s = l.shortcut; s.present()) {
          const std::vector<int>& src = inputs[static_cast<std::size_t>(s.from)];
          for (int dy = 0; dy < s.pool; ++dy)
            for (int dx = 0; dx < s.pool; ++dx)
              sc += src[static_cast<std::size_t>(((o % s.c) * s.h + oh * s.pool + dy) * s.w + ow * s.pool + dx)];
          sc /= s.pool * s.pool;
        }
        y[static_cast<std::size_t>(o) * P + pos] = zz + sc >= 0 ? 1 : -1;
      }
    if (l.pool) {  // max over each window
      const int ho = l.h_out / l.pool, wo = l.w_out / l.pool;
      std::vector<int> pooled(static_cast<std::size_t>(l.out) * ho * wo, -1);
      for (int c = 0; c < l.out; ++c)
        for (int h = 0; h < l.h_out; ++h)
          for (int w = 0; w < l.w_out; ++w) {
            int& t = pooled[(c * ho + h / l.pool) * wo + w / l.pool];
            t = std::max(t, y[(c * l.h_out + h) * l.w_out + w]);
          }
      y = pooled;
    }
    x = y;
  }
  return z;
}

// 1x8x8 -> conv1 (4 ch, 3x3 pad 1) -> conv2 (4, its own input as identity shortcut, Bi-Real) ->
// conv3 (4) -> conv4 (4, shortcut: conv3's input, a ResNet block) -> conv5 (8, stride 2: 4x4;
// shortcut: conv5's input averaged over 2x2, channels o mod 4, ReActNet) -> dense 128 -> 5.
inline models::Network random_resnet(std::uint64_t seed, models::DropoutKind kind, double p = 0.3) {
  models::Network n = image_network("random-resnet", 1, 8);
  n.layers.push_back(conv("conv1", 1, 8, 8, 4, 3, 1, 1, 0));
  for (const char* name : {"conv2", "conv3", "conv4"}) n.layers.push_back(conv(name, 4, 8, 8, 4, 3, 1, 1, 0));
  n.layers.push_back(conv("conv5", 4, 8, 8, 8, 3, 2, 1, 0));
  n.layers.push_back(dense("fc", 128, 5, false));
  auto shortcut = [&](std::size_t li, int from, int pool) {
    auto& s = n.layers[li].shortcut;
    s.from = from;
    s.pool = pool;
    s.c = 4;
    s.h = s.w = 8;
  };
  shortcut(1, 1, 1);
  shortcut(3, 2, 1);
  shortcut(4, 4, 2);
  std::vector<std::string> layers;
  if (kind == models::DropoutKind::McDropout || kind == models::DropoutKind::Spatial)
    layers = {"conv2", "conv3", "conv4", "conv5"};
  finish(n, kind, p, seed, layers);
  // BN statistics centred so that the shortcut (|s| <= 1) decides many signs
  for (auto& l : n.layers)
    for (int o = 0; o < l.out; ++o) {
      l.bn_mean[static_cast<std::size_t>(o)] *= 0.3f;
      l.bn_gamma[static_cast<std::size_t>(o)] = std::fabs(l.bn_gamma[static_cast<std::size_t>(o)]) * 0.5f;
    }
  n.validate();
  return n;
}

// Scale-Dropout convenience: bits[k] is the k-th dropout layer's draw.
inline std::vector<double> plain_forward(const models::Network& n, const std::uint8_t* pixels,
                                         const std::vector<std::uint8_t>& bits) {
  std::vector<std::size_t> index(n.layers.size(), 0);
  std::size_t k = 0;
  for (std::size_t l = 0; l < n.layers.size(); ++l) index[l] = n.layers[l].dropout ? k++ : 0;
  return plain_forward(n, pixels, [&](std::size_t l, std::size_t) { return bits.at(index[l]) != 0; });
}

inline std::vector<std::uint8_t> random_pixels(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> p(n);
  for (auto& v : p) v = static_cast<std::uint8_t>(rng() % 256);
  return p;
}

// A 3-2-2 network on 4x2 arrays, with weights and input chosen so every match count is known.
inline models::Network hand_network(bool dropout) {
  models::Network n;
  n.source = "hand";
  n.input_size = n.input_c = 3;
  n.classes = 2;
  auto layer = [](const char* name, int in, int out, std::vector<int8_t> w, bool sign) {
    models::BinaryLayer l;
    l.name = name;
    l.in = l.c_in = in;
    l.out = out;
    l.weight = std::move(w);
    l.alpha.assign(out, 1.0f);
    l.bn_gamma.assign(out, 1.0f);
    l.bn_beta.assign(out, 0.0f);
    l.bn_mean.assign(out, 0.0f);
    l.bn_var.assign(out, 1.0f - 1e-5f);
    l.sign_activation = sign;
    return l;
  };
  n.layers.push_back(layer("fc1", 3, 2, {+1, -1, +1, -1, -1, -1}, true));
  n.layers.push_back(layer("fc2", 2, 2, {+1, +1, +1, -1}, false));
  models::DropoutSpec spec;
  if (dropout) {
    spec.kind = models::DropoutKind::Scale;
    spec.p = 1.0;  // deterministic draws: every bit is 1
    spec.layers = {"fc1", "fc2"};
  }
  n.apply_dropout(spec);
  n.validate();
  return n;
}

}  // namespace bayescim::testing
