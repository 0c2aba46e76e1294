// A network lowered for execution: bit-packed weights, conv gather tables, and per output neuron
// the integer decision on the pre-activation a that BatchNorm + sign reduce to (with the scale
// kept and dropped). The reference executor and the simulated hardware share this lowering.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "models/bitops.h"
#include "models/network.h"

namespace bayescim::models {

// out = +1 iff the condition holds on the integer pre-activation a = 2 * matches - active rows
// (a k-bit first layer: a = sum over bit planes b of 2^b * (2 * matches_b - active rows_b)).
struct Threshold {
  enum class Mode : std::uint8_t { AtLeast, AtMost, Always, Never } mode = Mode::Always;
  int a = 0;
  bool fires(int pre) const {
    switch (mode) {
      case Mode::AtLeast: return pre >= a;
      case Mode::AtMost: return pre <= a;
      case Mode::Always: return true;
      case Mode::Never: return false;
    }
    return false;
  }
  // The same decision as an interval: fires(pre) iff lo <= pre && pre <= hi (Never: lo > hi), so
  // a loop over columns can decide without branching on the mode.
  struct Range {
    int lo, hi;
  };
  Range range() const {
    constexpr int kMin = std::numeric_limits<int>::min(), kMax = std::numeric_limits<int>::max();
    switch (mode) {
      case Mode::AtLeast: return {a, kMax};
      case Mode::AtMost: return {kMin, a};
      case Mode::Always: return {kMin, kMax};
      case Mode::Never: return {kMax, kMin};
    }
    return {kMax, kMin};
  }
};

struct CompiledLayer {
  const BinaryLayer* src = nullptr;
  int in = 0, out = 0;                 // crossbar rows and columns
  std::size_t words = 0;               // words per packed row vector of `in` elements
  std::vector<std::uint64_t> weights;  // [out][words]
  // Conv: for each output position and row, the input element it reads, or -1 (padding).
  std::vector<std::int32_t> gather;    // [positions][in]
  std::vector<std::uint64_t> valid;    // conv: [positions][words], rows that read an input (not padding)
  // Conv: the gather as runs of consecutive rows reading consecutive input elements (a kernel
  // row of K taps), so rows_at moves up to 64 bits at a time. Runs of position p are
  // runs[run_begin[p]] .. runs[run_begin[p + 1] - 1].
  struct Run {
    std::int32_t row, elem, len;
  };
  std::vector<Run> runs;
  std::vector<std::int32_t> run_begin;  // [positions + 1]
  // Bit-serial input (a k-bit first layer): each output position is read once per bit plane,
  // read r = position * planes + plane. Plane b of the layer's input holds bit b of every input
  // integer, at elements [b * plane_stride, (b + 1) * plane_stride). A 0 bit turns the row's
  // wordline off; a 1 bit drives it as x = +1, so the plane's matches are the active rows with
  // w = +1 and its pre-activation is 2 * matches - active rows. Otherwise (bit_serial false,
  // planes 1) one read of ±1 inputs.
  bool bit_serial = false;
  int planes = 1;
  std::size_t plane_stride = 0;
  int a_max = 0;  // the largest |a| the layer can produce
  int reads() const { return src->positions() * planes; }
  bool sign = true;
  bool dropout = false;
  DropoutKind dropout_kind = DropoutKind::None;
  McLayout mc_layout = McLayout::PerRowPerPosition;  // mc_dropout's bits: per row per position, or per input element
  // [scale dropped ? 1 : 0][level * out + o]: level is the residual shortcut's level (always 0
  // without a shortcut).
  std::array<std::vector<Threshold>, 2> threshold;
  double dropped_value = 1.0;
  // Residual join (BinaryLayer::shortcut): the shortcut's level at output o, position p is the
  // number of +1 values in its pool x pool window of the source, 0 .. pool^2 (shortcut_levels =
  // pool^2 + 1; 1 without a shortcut), and its value s = (2 level - pool^2) / pool^2. The layer
  // fires iff z(a) + s >= 0: one threshold on a per level and output.
  int shortcut_levels = 1;
  // `act` holds the ±1 activations the shortcut reads (the input of layer shortcut.from).
  int shortcut_level(const std::uint64_t* act, int o, int p) const;
  double shortcut_value(int level) const;
  const Threshold& thr(int o, int level, bool drop) const {
    return threshold[drop ? 1 : 0][static_cast<std::size_t>(level) * static_cast<std::size_t>(out) + static_cast<std::size_t>(o)];
  }

  const std::uint64_t* column(int o) const { return weights.data() + static_cast<std::size_t>(o) * words; }
  // BatchNorm output of neuron o for pre-activation a, with the scale kept or dropped.
  double preactivation(int o, int a, bool drop) const;
  // Random draws this layer needs per MC sample (0 without dropout).
  std::size_t draws_per_sample() const;
  // Builds the packed row vector and active-row mask of one read (an output position, or with
  // bit planes a position's plane: read = position * planes + plane) from the layer's packed
  // input; `mask` holds this layer's draws for the sample (1 = dropped), or is null.
  void rows_at(int read, const std::uint64_t* input, const std::uint64_t* mask, std::uint64_t* x,
               std::uint64_t* active) const;
  // What rows_at(r, input, mask) gives for every read r, from what rows_at(r, input, nullptr)
  // gave (x0, active0: [reads][words]): the rows the sample's draws gate off are cleared. For a
  // layer whose input is the same in every MC sample of an image, the gather is done once.
  void mask_rows(const std::uint64_t* mask, const std::uint64_t* x0, const std::uint64_t* active0, std::uint64_t* x,
                 std::uint64_t* active) const;

 private:
  // Clears from `active` the rows that `mask` gates off at `position` (null mask: none).
  void drop_rows(int position, const std::uint64_t* mask, std::uint64_t* active) const;
};

// Dropout decisions of one MC sample, packed per layer (empty for layers without dropout):
// scale 1 bit (alpha dropped); spatial c_in bits (channel dropped); mc_dropout per row per
// position: positions * in bits, index p * in + r (row r gated off during the read at position p);
// mc_dropout element-wise: c_in * h_in * w_in bits, index (c * h_in + y) * w_in + x (every row that
// reads input element (c, y, x) gated off at every position).
struct SampleMasks {
  std::vector<std::vector<std::uint64_t>> layer;
  bool bit(std::size_t l, std::size_t i) const { return get_bit(layer[l].data(), static_cast<int>(i)); }
};

struct CompiledNetwork {
  const Network* net = nullptr;
  std::vector<CompiledLayer> layers;
  std::vector<std::size_t> draw_offset;  // first draw index of each layer within a sample
  std::size_t draws_per_sample = 0;
  std::array<bool, 256> pixel_bit{};     // first-layer binarisation of a raw 8-bit pixel
  // Per layer: a residual shortcut reads this layer's input (its own or a later layer's).
  std::vector<bool> shortcut_source;

  explicit CompiledNetwork(const Network& n);
  // Bits of the first layer's input: the ±1 pixels, or the k bit planes of a k-bit input.
  int input_bits() const { return net->input_size * std::max(net->input_bits, 1); }
  // Writes the first layer's input: ±1 pixels (bit i = pixel i >= threshold), or the k bit planes
  // of a k-bit input (bit b * input_size + i = bit b of input_levels[pixel i]).
  void encode_input(const std::uint8_t* pixels, std::uint64_t* out) const;
  // Fills the masks of one sample; draw(d) returns the d-th draw of the sample (true = drop).
  void fill_masks(SampleMasks& m, const std::function<bool(std::size_t)>& draw) const;
  std::size_t max_words() const;  // largest packed activation or row vector
};

// Max-pools a [c][h][w] bit map of ±1 values (OR over each window) into [c][h/k][w/k].
void or_pool(const std::uint64_t* in, int c, int h, int w, int k, std::uint64_t* out);

}  // namespace bayescim::models
