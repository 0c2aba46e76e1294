#include "models/compiled.h"

#include <algorithm>
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

double CompiledLayer::preactivation(int o, int a, bool drop) const {
  const BinaryLayer& l = *src;
  const double s = drop ? dropped_value : static_cast<double>(l.alpha[o]);
  const double sd = std::sqrt(static_cast<double>(l.bn_var[o]) + static_cast<double>(l.bn_eps));
  return static_cast<double>(l.bn_gamma[o]) * (a * l.input_scale * s - l.bn_mean[o]) / sd + l.bn_beta[o];
}

std::size_t CompiledLayer::draws_per_sample() const {
  if (!dropout) return 0;
  switch (dropout_kind) {
    case DropoutKind::Scale: return 1;
    case DropoutKind::Spatial: return static_cast<std::size_t>(src->c_in);
    case DropoutKind::McDropout:
      if (mc_layout == McLayout::ElementWise) return static_cast<std::size_t>(src->input_elems());
      return static_cast<std::size_t>(src->positions()) * static_cast<std::size_t>(in);
    case DropoutKind::None: return 0;
  }
  return 0;
}

void CompiledLayer::drop_rows(int position, const std::uint64_t* mask, std::uint64_t* active) const {
  if (!mask || !dropout) return;
  if (dropout_kind == DropoutKind::McDropout && mc_layout == McLayout::ElementWise && !gather.empty()) {
    // each run of rows reads consecutive input elements: gate off the rows whose element is dropped
    thread_local std::vector<std::uint64_t> d;  // reused: no allocation per position
    d.assign(words, 0);
    for (std::int32_t i = run_begin[position]; i < run_begin[position + 1]; ++i) {
      const Run& run = runs[static_cast<std::size_t>(i)];
      or_bits_at(d.data(), static_cast<std::size_t>(run.row), run.len, bits_at(mask, static_cast<std::size_t>(run.elem), run.len));
    }
    for (std::size_t w = 0; w < words; ++w) active[w] &= ~d[w];
  } else if (dropout_kind == DropoutKind::McDropout) {  // per row per position (or dense): bit position * in + r
    const std::size_t base = gather.empty() ? 0 : static_cast<std::size_t>(position) * in;
    for (std::size_t w = 0; w < words; ++w) {
      const int len = std::min(64, in - static_cast<int>(w) * 64);
      active[w] &= ~bits_at(mask, base + w * 64, len);
    }
  } else if (dropout_kind == DropoutKind::Spatial) {  // a dropped channel gates its K*K consecutive rows
    const int kk = src->k * src->k;
    for (int ch = 0; ch < src->c_in; ++ch) {
      if (!get_bit(mask, ch)) continue;
      for (int r = ch * kk; r < (ch + 1) * kk; ++r) active[r / 64] &= ~(std::uint64_t{1} << (r % 64));
    }
  }
}

void CompiledLayer::rows_at(int read, const std::uint64_t* input, const std::uint64_t* mask, std::uint64_t* x,
                            std::uint64_t* active) const {
  const int position = read / planes;
  const std::size_t base = static_cast<std::size_t>(read % planes) * plane_stride;  // the plane's first element
  if (gather.empty()) {  // dense: the input itself
    for (std::size_t w = 0; w < words; ++w) {
      x[w] = !bit_serial ? input[w] : bits_at(input, base + w * 64, std::min(64, in - static_cast<int>(w) * 64));
      active[w] = ~std::uint64_t{0};
    }
    if (in % 64) active[words - 1] = (std::uint64_t{1} << (in % 64)) - 1;
    drop_rows(position, mask, active);
    if (bit_serial)  // a 0 bit turns the wordline off; a 1 bit drives x = +1
      for (std::size_t w = 0; w < words; ++w) x[w] = active[w] &= x[w];
    return;
  }
  // Conv: active = not padding, minus dropped rows; x = the gathered input bits of active rows.
  const std::uint64_t* v = valid.data() + static_cast<std::size_t>(position) * words;
  for (std::size_t w = 0; w < words; ++w) active[w] = v[w];
  drop_rows(position, mask, active);
  std::fill(x, x + words, 0);
  for (std::int32_t i = run_begin[position]; i < run_begin[position + 1]; ++i) {
    const Run& run = runs[static_cast<std::size_t>(i)];
    const std::uint64_t bits = bits_at(input, base + static_cast<std::size_t>(run.elem), run.len);
    or_bits_at(x, static_cast<std::size_t>(run.row), run.len, bits);
  }
  for (std::size_t w = 0; w < words; ++w) x[w] &= active[w];
  if (bit_serial) std::copy(x, x + words, active);
}

void CompiledLayer::mask_rows(const std::uint64_t* mask, const std::uint64_t* x0, const std::uint64_t* active0,
                              std::uint64_t* x, std::uint64_t* active) const {
  const int n_reads = reads();
  const std::size_t n = static_cast<std::size_t>(n_reads) * words;
  // x0 is 0 on inactive rows (conv, bit planes) or the input itself (dense ±1): x = x0 & active
  // in the former, x0 in the latter.
  const bool cleared = !gather.empty() || bit_serial;
  if (!mask || !dropout || dropout_kind == DropoutKind::Scale || dropout_kind == DropoutKind::None) {
    std::copy(x0, x0 + n, x);
    std::copy(active0, active0 + n, active);
    return;
  }
  if (dropout_kind == DropoutKind::Spatial) {  // the same rows at every read: expand once
    std::vector<std::uint64_t> keep(words, ~std::uint64_t{0});
    drop_rows(0, mask, keep.data());
    for (std::size_t b = 0; b < n; b += words)
      for (std::size_t w = 0; w < words; ++w) {
        active[b + w] = active0[b + w] & keep[w];
        x[b + w] = cleared ? x0[b + w] & keep[w] : x0[b + w];
      }
    return;
  }
  for (int r = 0; r < n_reads; ++r) {
    const std::size_t b = static_cast<std::size_t>(r) * words;
    std::copy(active0 + b, active0 + b + words, active + b);
    drop_rows(r / planes, mask, active + b);
    for (std::size_t w = 0; w < words; ++w) x[b + w] = cleared ? x0[b + w] & active[b + w] : x0[b + w];
  }
}

int CompiledLayer::shortcut_level(const std::uint64_t* act, int o, int p) const {
  const Shortcut& sc = src->shortcut;
  const int ch = o % sc.c, oy = p / src->w_out, ox = p % src->w_out;
  int ones = 0;
  for (int dy = 0; dy < sc.pool; ++dy) {
    const std::size_t row = static_cast<std::size_t>((ch * sc.h + oy * sc.pool + dy)) * static_cast<std::size_t>(sc.w);
    ones += __builtin_popcountll(bits_at(act, row + static_cast<std::size_t>(ox * sc.pool), sc.pool));
  }
  return ones;
}

double CompiledLayer::shortcut_value(int level) const {
  if (shortcut_levels == 1) return 0.0;
  const int n = shortcut_levels - 1;  // pool^2 values of ±1
  return static_cast<double>(2 * level - n) / static_cast<double>(n);
}

namespace {

// z(a) is affine in a, so {a : z(a) >= 0} is empty, everything, or a half-line. It is found by
// bisection with the exact expression the logits use, so the threshold and preactivation never
// disagree: every step of preactivation (a * scale * s, - mean, * gamma, / sd, + beta) is a
// correctly rounded operation, monotone in its operand, so z(a) is monotone in a as computed too.
// With a residual shortcut of value s the condition is z(a) + s >= 0, still monotone in a.
Threshold derive(const CompiledLayer& c, int o, bool drop, int level) {
  const int n = c.a_max;
  const double s = c.shortcut_value(level);
  auto fires = [&](int a) { return c.preactivation(o, a, drop) + s >= 0.0; };
  const bool lo = fires(-n);
  const bool hi = fires(n);
  Threshold t;
  if (lo && hi) { t.mode = Threshold::Mode::Always; return t; }
  if (!lo && !hi) { t.mode = Threshold::Mode::Never; return t; }
  int a = -n, b = n;  // fires(a) != fires(b); narrowed to neighbours
  while (b - a > 1) {
    const int mid = a + (b - a) / 2;
    (fires(mid) == hi ? b : a) = mid;
  }
  if (hi) {  // increasing: first a that fires
    t.mode = Threshold::Mode::AtLeast;
    t.a = b;
  } else {   // decreasing: last a that fires
    t.mode = Threshold::Mode::AtMost;
    t.a = a;
  }
  return t;
}

}  // namespace

CompiledNetwork::CompiledNetwork(const Network& n) : net(&n) {
  shortcut_source.assign(n.layers.size(), false);
  for (const auto& l : n.layers)
    if (l.shortcut.present()) shortcut_source[static_cast<std::size_t>(l.shortcut.from)] = true;
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
    if (l.kind == LayerKind::Conv) {
      c.gather.assign(static_cast<std::size_t>(l.positions()) * l.in, -1);
      for (int oh = 0; oh < l.h_out; ++oh)
        for (int ow = 0; ow < l.w_out; ++ow) {
          std::int32_t* g = c.gather.data() + static_cast<std::size_t>(oh * l.w_out + ow) * l.in;
          for (int ch = 0; ch < l.c_in; ++ch)
            for (int kh = 0; kh < l.k; ++kh)
              for (int kw = 0; kw < l.k; ++kw) {
                const int ih = oh * l.stride - l.pad + kh, iw = ow * l.stride - l.pad + kw;
                if (ih < 0 || iw < 0 || ih >= l.h_in || iw >= l.w_in) continue;
                g[(ch * l.k + kh) * l.k + kw] = (ch * l.h_in + ih) * l.w_in + iw;
              }
        }
    c.valid.assign(static_cast<std::size_t>(l.positions()) * c.words, 0);
    for (int p = 0; p < l.positions(); ++p)
      for (int r = 0; r < l.in; ++r)
        if (c.gather[static_cast<std::size_t>(p) * l.in + r] >= 0)
          set_bit(c.valid.data() + static_cast<std::size_t>(p) * c.words, r, true);
    for (int p = 0; p < l.positions(); ++p) {
      c.run_begin.push_back(static_cast<std::int32_t>(c.runs.size()));
      const std::int32_t* g = c.gather.data() + static_cast<std::size_t>(p) * l.in;
      for (int r = 0; r < l.in; ++r) {
        if (g[r] < 0) continue;
        // runs.back() only when this position has a run: back() of an empty vector is undefined (UBSan)
        CompiledLayer::Run* last = c.runs.size() > static_cast<std::size_t>(c.run_begin.back()) ? &c.runs.back() : nullptr;
        if (last && last->row + last->len == r && last->elem + last->len == g[r] && last->len < 64)
          ++last->len;
        else
          c.runs.push_back({r, g[r], 1});
      }
    }
    c.run_begin.push_back(static_cast<std::int32_t>(c.runs.size()));
    }
    c.bit_serial = &l == &n.layers.front() && n.input_bits > 0;
    c.planes = c.bit_serial ? n.input_bits : 1;
    c.plane_stride = static_cast<std::size_t>(l.input_elems());
    int level_max = 1;
    for (int p = 0; c.bit_serial && p < 256; ++p) level_max = std::max<int>(level_max, n.input_levels[static_cast<std::size_t>(p)]);
    c.a_max = l.in * level_max;
    c.sign = l.sign_activation;
    c.dropout = l.dropout;
    c.dropout_kind = n.dropout.kind;
    c.mc_layout = n.dropout.layout;
    c.dropped_value = n.dropout.scale_dropped_value;
    c.shortcut_levels = l.shortcut.present() ? l.shortcut.pool * l.shortcut.pool + 1 : 1;
    for (int d = 0; d < 2; ++d) {
      if (!c.sign) break;
      c.threshold[d].resize(static_cast<std::size_t>(l.out) * static_cast<std::size_t>(c.shortcut_levels));
      for (int v = 0; v < c.shortcut_levels; ++v)
        for (int o = 0; o < l.out; ++o)
          c.threshold[d][static_cast<std::size_t>(v) * l.out + o] = derive(c, o, d == 1, v);
    }
    draw_offset.push_back(draws_per_sample);
    draws_per_sample += c.draws_per_sample();
    layers.push_back(std::move(c));
  }
}

void CompiledNetwork::encode_input(const std::uint8_t* pixels, std::uint64_t* out) const {
  const int n = net->input_size;
  const int planes = std::max(net->input_bits, 1);
  std::fill(out, out + words_for(input_bits()), 0);
  for (int b = 0; b < planes; ++b) {
    BitWriter plane(out, static_cast<std::size_t>(b) * static_cast<std::size_t>(n), 1);
    if (net->input_bits == 0)
      for (int i = 0; i < n; ++i) plane.push(pixel_bit[pixels[i]]);
    else
      for (int i = 0; i < n; ++i) plane.push((net->input_levels[pixels[i]] >> b) & 1U);
  }
}

void CompiledNetwork::fill_masks(SampleMasks& m, const std::function<bool(std::size_t)>& draw) const {
  m.layer.resize(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::size_t n = layers[l].draws_per_sample();
    auto& v = m.layer[l];
    v.assign((n + 63) / 64, 0);
    for (std::size_t i = 0; i < n; ++i)
      if (draw(draw_offset[l] + i)) v[i / 64] |= std::uint64_t{1} << (i % 64);
  }
}

std::size_t CompiledNetwork::max_words() const {
  std::size_t w = words_for(input_bits());
  for (const auto& l : layers) {
    w = std::max(w, l.words);
    w = std::max(w, words_for(l.out * l.src->positions()));
  }
  return w;
}

void or_pool(const std::uint64_t* in, int c, int h, int w, int k, std::uint64_t* out) {
  const int ho = h / k, wo = w / k;
  std::fill(out, out + words_for(c * ho * wo), 0);
  if (w <= 64) {  // one image row fits a word: OR the window's rows, then the columns of each window
    const std::uint64_t win = (std::uint64_t{1} << k) - 1;
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < ho; ++y) {
        std::uint64_t rows = 0;
        for (int dy = 0; dy < k; ++dy)
          rows |= bits_at(in, static_cast<std::size_t>((ch * h + y * k + dy)) * static_cast<std::size_t>(w), w);
        std::uint64_t o = 0;
        if (k == 2) {  // OR neighbouring pairs, then gather the even bits into the low half
          o = (rows | (rows >> 1)) & 0x5555555555555555ULL;
          o = (o | (o >> 1)) & 0x3333333333333333ULL;
          o = (o | (o >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
          o = (o | (o >> 4)) & 0x00FF00FF00FF00FFULL;
          o = (o | (o >> 8)) & 0x0000FFFF0000FFFFULL;
          o = (o | (o >> 16)) & 0x00000000FFFFFFFFULL;
          o &= wo == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << wo) - 1;
        } else {
          for (int x = 0; x < wo; ++x) o |= static_cast<std::uint64_t>(((rows >> (x * k)) & win) != 0) << x;
        }
        or_bits_at(out, static_cast<std::size_t>(ch * ho + y) * static_cast<std::size_t>(wo), wo, o);
      }
    return;
  }
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < ho; ++y)
      for (int x = 0; x < wo; ++x) {
        bool any = false;
        for (int dy = 0; dy < k && !any; ++dy)
          for (int dx = 0; dx < k && !any; ++dx) any = get_bit(in, (ch * h + y * k + dy) * w + x * k + dx);
        if (any) set_bit(out, (ch * ho + y) * wo + x, true);
      }
}

}  // namespace bayescim::models
