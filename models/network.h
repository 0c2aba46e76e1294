// Network IR for binary BayNNs: what the ONNX importer produces and every executor consumes.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace bayescim::models {

// A model file that cannot be used: names the file and node, and what was expected.
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// none: deterministic BNN. mc_dropout: each crossbar input row (layer input element, or im2col
// element for convolutions) dropped independently per read (SpinDrop). spatial: whole input
// channels of conv layers, one draw per channel per pass (Spatial-SpinDrop). scale: the layer's
// alpha vector dropped as a whole, one draw per layer per pass (Scale-Dropout).
enum class DropoutKind { None, McDropout, Spatial, Scale };
// The two layouts of mc_dropout's bits (the project's readings of "per neuron"):
//   per-row-per-position: a fresh bit for every crossbar row at every output position, index
//     p * in + r (positions * K*K*C_in bits per pass for a conv layer; SpinDrop as first read);
//   element-wise: one bit per input element (C_in * H_in * W_in per pass), shared by every window
//     position and kernel tap that reads it: feature-map dropout, K*K fewer bits at stride 1.
// Both are identical on a dense layer (one position, one row per input element).
enum class McLayout { PerRowPerPosition, ElementWise };
enum class LayerKind { Dense, Conv };

// A residual join (Bi-Real / ReActNet style): the layer's BatchNorm output z gets a shortcut added
// before its sign, out = sign(z + s). The shortcut reads the ±1 activations that are the input of
// layer `from` (a hidden layer's sign output, 1 bit per element): the identity (pool 1), or their
// mean over non-overlapping pool x pool windows (AveragePool, ReActNet's downsampling shortcut),
// s = (sum of the pool*pool values) / pool^2. Output channel o reads source channel o mod c (c
// divides the layer's outputs: ReActNet's channel doubling by Concat of the pooled shortcut).
struct Shortcut {
  int from = -1;            // layer whose input the shortcut reads; -1: no shortcut
  static constexpr int kMaxPool = 64;  // a window row is read as one word
  int pool = 1;             // averaging window = stride (1: identity), at most kMaxPool
  int c = 0, h = 0, w = 0;  // the source's geometry (= layer `from`'s input)
  bool present() const { return from >= 0; }
};

const char* to_string(DropoutKind k);
// Parses "none" | "mc_dropout" | "spatial" | "scale"; throws ModelError listing them otherwise.
DropoutKind parse_dropout_kind(const std::string& s);
const char* to_string(McLayout l);
// Parses "per-row-per-position" | "element-wise"; throws ModelError listing them otherwise.
McLayout parse_mc_layout(const std::string& s);

// Where and how MC dropout is applied (see BRIEF §1; the "project's reading").
struct DropoutSpec {
  DropoutKind kind = DropoutKind::None;
  double p = 0.0;                   // probability that a draw drops
  std::vector<std::string> layers;  // names of the dropped layers, in network order
  double scale_dropped_value = 1.0; // Scale-Dropout: the value a dropped alpha takes (1 or 0)
  McLayout layout = McLayout::PerRowPerPosition;  // mc_dropout only
};

// One binary layer: a = sum over active inputs of x·w (x, w in {-1,+1}; padded or dropped inputs
// are inactive and contribute 0), a' = a·s, z = BN(a'), then sign(z) (+1 iff z >= 0) for hidden
// layers, or z itself (logits) for the last. A conv layer computes this at every output position
// over its K x K x C_in window; an optional max-pool follows the sign (on ±1 values: an OR).
// Activations are laid out [channel][row][col]; a dense layer after a conv sees them flattened.
struct BinaryLayer {
  LayerKind kind = LayerKind::Dense;
  std::string name;
  int in = 0;   // fan-in per output = crossbar rows: dense inputs, or C_in * K * K
  int out = 0;  // neurons or output channels = crossbar columns
  int c_in = 0, h_in = 1, w_in = 1;  // input geometry (dense: c_in = in)
  int k = 1, stride = 1, pad = 0;    // conv kernel, stride, zero padding
  int h_out = 1, w_out = 1;          // conv output positions (before pooling)
  int pool = 0;                      // max-pool window = stride after the sign, 0 = none
  std::vector<int8_t> weight;  // [out][in], each +1 or -1; conv rows ordered (c, kh, kw)
  std::vector<float> alpha;    // [out] learnable scale (all 1 when the model has none)
  std::vector<float> bn_gamma, bn_beta, bn_mean, bn_var;  // [out]
  float bn_eps = 1e-5f;
  // The first layer of a k-bit input: the dequantisation scale of its input Quant, so that
  // a = input_scale * sum over active inputs of w * q (q the k-bit integers); 1 otherwise.
  double input_scale = 1.0;
  bool sign_activation = true;
  bool dropout = false;  // takes part in the network's dropout (meaning set by DropoutSpec::kind)
  Shortcut shortcut;     // residual join before the sign, if any (dropout never gates it)

  int positions() const { return h_out * w_out; }
  int h_pooled() const { return pool ? h_out / pool : h_out; }
  int w_pooled() const { return pool ? w_out / pool : w_out; }
  int input_elems() const { return c_in * h_in * w_in; }
  int output_elems() const { return out * h_pooled() * w_pooled(); }
};

struct Network {
  std::string source;  // the file it came from
  int input_size = 0;  // = input_c * input_h * input_w
  int input_c = 1, input_h = 1, input_w = 1;
  float input_threshold = 0.5f;  // input_bits 0: first layer x = +1 iff pixel/255 >= threshold, else -1
  // 0: the first layer takes ±1 thresholded pixels. k in 1..kMaxInputBits: it takes k-bit unsigned
  // integers q = input_levels[pixel], read bit-serially (one crossbar read per bit plane).
  int input_bits = 0;
  static constexpr int kMaxInputBits = 8;
  std::array<std::uint16_t, 256> input_levels{};  // input_bits > 0: the integer of each raw 8-bit pixel
  int classes = 0;
  std::vector<BinaryLayer> layers;
  DropoutSpec dropout;
  std::map<std::string, std::string> metadata;

  // Number of layers that take part in dropout.
  int dropout_layers() const;
  std::uint64_t binary_macs_per_sample() const;
  // Checks internal consistency (sizes, ±1 weights, finite parameters); throws ModelError.
  void validate() const;
  // Where a kind goes when no layers are named: scale on every layer; mc_dropout on every layer
  // but the first (whose inputs are pixels); spatial on every conv layer but the first.
  std::vector<std::string> default_dropout_layers(DropoutKind kind) const;
  // Applies a dropout spec (from the model file or from config) to the layers.
  void apply_dropout(const DropoutSpec& spec);
};

}  // namespace bayescim::models
