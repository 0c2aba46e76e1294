#include "models/compiled.h"

#include <cmath>

namespace bayescim::models {

int xnor_matches_range(const std::uint64_t* x, const std::uint64_t* w, int begin, int len) {
  int m = 0;
  int i = begin;
  const int end = begin + len;
  while (i < end) {
    const int word = i / 64, off = i % 64;
    const int take = std::min(64 - off, end - i);
    std::uint64_t mask = take == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << take) - 1) << off;
    m += __builtin_popcountll(~(x[word] ^ w[word]) & mask);
    i += take;
  }
  return m;
}

double CompiledLayer::preactivation(int o, int matches, bool drop) const {
  const BinaryDense& l = *src;
  const double a = 2.0 * matches - in;
  const double s = drop ? dropped_value : static_cast<double>(l.alpha[o]);
  const double sd = std::sqrt(static_cast<double>(l.bn_var[o]) + static_cast<double>(l.bn_eps));
  return static_cast<double>(l.bn_gamma[o]) * (a * s - l.bn_mean[o]) / sd + l.bn_beta[o];
}

namespace {

// z(m) is affine in m, so {m : z(m) >= 0} is empty, everything, or a half-line; found by scan
// with the exact expression the logits use, so the threshold and preactivation never disagree.
MatchThreshold derive(const CompiledLayer& c, int o, bool drop) {
  const int n = c.in;
  const bool lo = c.preactivation(o, 0, drop) >= 0.0;
  const bool hi = c.preactivation(o, n, drop) >= 0.0;
  MatchThreshold t;
  if (lo && hi) { t.mode = MatchThreshold::Mode::Always; return t; }
  if (!lo && !hi) { t.mode = MatchThreshold::Mode::Never; return t; }
  if (hi) {  // increasing: first m that fires
    t.mode = MatchThreshold::Mode::AtLeast;
    int m = 0;
    while (m <= n && c.preactivation(o, m, drop) < 0.0) ++m;
    t.m = m;
  } else {   // decreasing: last m that fires
    t.mode = MatchThreshold::Mode::AtMost;
    int m = 0;
    while (m + 1 <= n && c.preactivation(o, m + 1, drop) >= 0.0) ++m;
    t.m = m;
  }
  return t;
}

}  // namespace

CompiledNetwork::CompiledNetwork(const Network& n) : net(&n) {
  for (int p = 0; p < 256; ++p) pixel_bit[p] = static_cast<float>(p) / 255.0f >= n.input_threshold;
  for (const auto& l : n.layers) {
    CompiledLayer c;
    c.src = &l;
    c.in = l.in;
    c.out = l.out;
    c.words = words_for(l.in);
    c.weights.assign(c.words * l.out, 0);
    for (int o = 0; o < l.out; ++o)
      for (int i = 0; i < l.in; ++i)
        set_bit(c.weights.data() + o * c.words, i, l.weight[static_cast<std::size_t>(o) * l.in + i] > 0);
    c.sign = l.sign_activation;
    c.scale_dropout = l.scale_dropout;
    c.dropped_value = n.dropout.scale_dropped_value;
    if (c.sign) {
      for (int d = 0; d < 2; ++d) {
        c.threshold[d].resize(l.out);
        for (int o = 0; o < l.out; ++o) c.threshold[d][o] = derive(c, o, d == 1);
      }
    }
    layers.push_back(std::move(c));
  }
}

void CompiledNetwork::binarize(const std::uint8_t* pixels, std::uint64_t* out) const {
  const int n = net->input_size;
  for (std::size_t w = 0; w < words_for(n); ++w) out[w] = 0;
  for (int i = 0; i < n; ++i)
    if (pixel_bit[pixels[i]]) out[i / 64] |= std::uint64_t{1} << (i % 64);
}

}  // namespace bayescim::models
