// The controller's digital periphery: the activation buffers, input binarisation, the adder tree
// over a layer's row tiles, BatchNorm/threshold (or logits), max-pooling, and their action counts.
// Plain C++ (no SystemC): the Controller decides when each step runs and how long it takes.
#pragma once
#include <cstdint>
#include <vector>

#include "hw/mapper.h"
#include "models/compiled.h"

namespace bayescim::hw {

// The digital periphery's action counts (each costed by the energy table).
struct DigitalCounts {
  std::uint64_t adds = 0;         // partial-sum additions of the adder tree
  std::uint64_t neurons = 0;      // BN/threshold (or logit) evaluations
  std::uint64_t buffer_bits = 0;  // bits written to the activation buffer
  std::uint64_t pool_ops = 0;     // pre-pool outputs ORed by max-pooling
  // Residual joins: bits written to the shortcut buffer (a block input that must outlive the
  // ping-pong buffers), and the digital additions of the shortcut (its pool window's sum, and
  // its addition to each output's pre-activation).
  std::uint64_t shortcut_bits = 0;
  std::uint64_t shortcut_adds = 0;
  DigitalCounts& operator+=(const DigitalCounts& o);
  friend DigitalCounts operator-(DigitalCounts a, const DigitalCounts& b);
  friend bool operator==(const DigitalCounts& a, const DigitalCounts& b);
};

// Layers run in order; between them the activations live in two ping-pong buffers: x (the
// current layer's input) and y (its output). A pooled layer's tiles write a pre-pool buffer that
// end_layer pools into y. Outputs are bit-packed [channel][position].
class DigitalPeriphery {
 public:
  // `array_cols` is the arrays' column count, the stride of a tile's match counts.
  DigitalPeriphery(const models::CompiledNetwork& net, const Mapping& mapping, int array_cols);
  DigitalPeriphery(const DigitalPeriphery&) = delete;
  DigitalPeriphery& operator=(const DigitalPeriphery&) = delete;

  // Clock cycles of layer li's digital step on the ADC path: per read, the adder tree over its row
  // tiles (depth ceil(log2(row tiles))); per output position, one shift-add per bit plane after
  // the first (a k-bit first layer) and one cycle of BN/threshold; a residual join adds per
  // position the shortcut window's adder tree (depth ceil(log2(pool^2))) and one cycle for its
  // addition to the pre-activation. None on the SA path (the SAs threshold in the array; a
  // residual layer never takes it).
  std::uint64_t cycles(std::size_t li) const { return cycles_[li]; }

  // Starts a sample: encodes the image into x (the buffer takes the input's bits: ±1 pixels, or
  // the k bit planes of a k-bit input).
  void load_input(const std::uint8_t* pixels);
  const std::uint64_t* input() const { return x_; }
  std::uint64_t* input() { return x_; }
  // Layer li starts: if a later layer's shortcut reads li's input, it is copied into the shortcut
  // buffer (a shortcut that reads its own layer's input reads x, which the layer leaves intact).
  void begin_layer(std::size_t li);
  // Where layer li's arrays write their SA decisions: the pre-pool buffer or y.
  std::uint64_t* layer_output(std::size_t li);
  // Where the array of row tile rt of a layer with `positions` reads writes its ADC path
  // results: match counts [reads][array cols] and active rows [reads].
  int* partial(int rt, int positions) { return partial_.data() + static_cast<std::size_t>(rt) * positions * cols_; }
  int* active_rows(int rt, int positions) { return active_rows_.data() + static_cast<std::size_t>(rt) * positions; }

  // An array's read results (rows x positions bits) entered the buffer.
  void count_array(const ArrayAssignment& a);
  // ADC path, column tile ct of layer li, once its row tiles have written partial() and
  // active_rows(): adds the partial sums a = sum over row tiles of (2m - N) per column and
  // read, shift-adds a k-bit first layer's planes (a = sum over b of 2^b a_b), then thresholds them into layer_output(li) (hidden layers; `drop` selects the
  // dropped-scale thresholds) or writes the BN outputs to logits[o] (last layer).
  void reduce(std::size_t li, int ct, bool drop, float* logits);
  // Ends layer li: a hidden layer's output is max-pooled (pooled layers) and buffered, and
  // becomes the next layer's input (x and y swap). The last layer's logits are already out.
  void end_layer(std::size_t li);
  // Repeats what layer li did in an earlier sample: adds its counts `c`, swaps the buffers as
  // end_layer does; the caller restores the activations.
  void repeat_layer(std::size_t li, const DigitalCounts& c);

  const DigitalCounts& counts() const { return counts_; }

 private:
  const models::CompiledNetwork& net_;
  const Mapping& mapping_;
  std::size_t cols_;
  std::vector<std::uint64_t> cycles_;       // per layer
  std::vector<std::uint64_t> buf_a_, buf_b_;  // activation buffers (ping-pong)
  std::vector<std::uint64_t> enc_;             // load_input(): the last image's encoded input
  std::vector<std::uint8_t> last_pixels_;       // ... and its pixels
  std::vector<std::uint64_t> buf_pre_;        // conv outputs before max-pooling
  std::uint64_t* x_ = nullptr;
  std::uint64_t* y_ = nullptr;
  std::vector<int> partial_;      // [row tile][position][array col] match counts of one column tile
  std::vector<int> active_rows_;  // [row tile][position]
  std::vector<int> pre_;          // reduce(): [position][array col] pre-activations of one column tile
  std::vector<bool> held_;        // per layer: its input is kept in the shortcut buffer for a later layer
  std::vector<std::vector<std::uint64_t>> shortcut_buf_;  // per held layer: its input's ±1 bits
  const std::uint64_t* shortcut(std::size_t li) const;    // what layer li's shortcut reads, or null
  std::vector<int> lo_, hi_;      // reduce(): per column, the interval of pre-activations that fire
  std::vector<std::uint64_t> bits_;  // reduce(): per column, the decisions of 64 positions
  DigitalCounts counts_;
};

}  // namespace bayescim::hw
