// Random binary networks for tests, and an independent plain (unpacked, integer) forward pass.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "models/network.h"

namespace bayescim::testing {

// sizes = {in, h1, ..., classes}; every layer gets Scale-Dropout when `scale` is true.
inline models::Network random_network(const std::vector<int>& sizes, std::uint64_t seed, bool scale = true,
                                      double p = 0.3) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  models::Network n;
  n.source = "random";
  n.input_size = sizes.front();
  n.input_threshold = 0.5f;
  for (std::size_t k = 0; k + 1 < sizes.size(); ++k) {
    models::BinaryDense l;
    l.name = "fc" + std::to_string(k + 1);
    l.in = sizes[k];
    l.out = sizes[k + 1];
    for (int i = 0; i < l.in * l.out; ++i) l.weight.push_back(u(rng) >= 0 ? 1 : -1);
    for (int o = 0; o < l.out; ++o) {
      l.alpha.push_back(0.5f + std::fabs(u(rng)));
      l.bn_gamma.push_back(u(rng) > -0.8f ? 0.5f + std::fabs(u(rng)) : -0.7f);  // some negative gammas
      l.bn_beta.push_back(0.3f * u(rng));
      l.bn_mean.push_back(static_cast<float>(std::sqrt(static_cast<double>(l.in))) * u(rng));
      l.bn_var.push_back(static_cast<float>(l.in) * (0.2f + std::fabs(u(rng))));
    }
    l.sign_activation = k + 2 < sizes.size();
    n.layers.push_back(l);
  }
  n.classes = sizes.back();
  models::DropoutSpec spec;
  if (scale) {
    spec.kind = models::DropoutKind::Scale;
    spec.p = p;
    for (const auto& l : n.layers) spec.layers.push_back(l.name);
  }
  n.apply_dropout(spec);
  n.validate();
  return n;
}

// The definition, element by element in double: a = sum x_i w_i, z = gamma (a s - mu)/sd + beta.
inline std::vector<double> plain_forward(const models::Network& n, const std::uint8_t* pixels,
                                         const std::vector<std::uint8_t>& bits) {
  std::vector<int> x(n.input_size);
  for (int i = 0; i < n.input_size; ++i) x[i] = static_cast<float>(pixels[i]) / 255.0f >= n.input_threshold ? 1 : -1;
  std::size_t b = 0;
  std::vector<double> z;
  for (const auto& l : n.layers) {
    const bool drop = l.scale_dropout && bits.at(b++) != 0;
    z.assign(l.out, 0.0);
    std::vector<int> y(l.out);
    for (int o = 0; o < l.out; ++o) {
      long a = 0;
      for (int i = 0; i < l.in; ++i) a += x[i] * l.weight[static_cast<std::size_t>(o) * l.in + i];
      const double s = drop ? n.dropout.scale_dropped_value : l.alpha[o];
      const double sd = std::sqrt(static_cast<double>(l.bn_var[o]) + l.bn_eps);
      z[o] = l.bn_gamma[o] * (static_cast<double>(a) * s - l.bn_mean[o]) / sd + l.bn_beta[o];
      y[o] = z[o] >= 0 ? 1 : -1;
    }
    x = y;
  }
  return z;
}

inline std::vector<std::uint8_t> random_pixels(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> p(n);
  for (auto& v : p) v = static_cast<std::uint8_t>(rng() % 256);
  return p;
}

}  // namespace bayescim::testing
