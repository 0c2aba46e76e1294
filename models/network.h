// Network IR for binary BayNNs: what the ONNX importer produces and every executor consumes.
#pragma once
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

enum class DropoutKind { None, Scale };

const char* to_string(DropoutKind k);
// Parses "none" | "scale"; throws ModelError listing the valid names otherwise.
DropoutKind parse_dropout_kind(const std::string& s);

// Where and how MC dropout is applied (see BRIEF §1; the "project's reading").
struct DropoutSpec {
  DropoutKind kind = DropoutKind::None;
  double p = 0.0;                   // probability that a draw drops
  std::vector<std::string> layers;  // names of the dropped layers, in network order
  double scale_dropped_value = 1.0; // Scale-Dropout: the value a dropped alpha takes (1 or 0)
};

// One binary fully connected layer: a = x·w (x, w in {-1,+1}), a' = a·s, z = BN(a'),
// then sign(z) (+1 iff z >= 0) for hidden layers, or z itself (logits) for the last.
struct BinaryDense {
  std::string name;
  int in = 0;
  int out = 0;
  std::vector<int8_t> weight;  // [out][in], each +1 or -1
  std::vector<float> alpha;    // [out] learnable scale (all 1 when the model has none)
  std::vector<float> bn_gamma, bn_beta, bn_mean, bn_var;  // [out]
  float bn_eps = 1e-5f;
  bool sign_activation = true;
  bool scale_dropout = false;  // alpha is stochastically replaced by scale_dropped_value
};

struct Network {
  std::string source;  // the file it came from
  int input_size = 0;
  float input_threshold = 0.5f;  // first layer: pixel/255 >= threshold -> +1, else -1
  int classes = 0;
  std::vector<BinaryDense> layers;
  DropoutSpec dropout;
  std::map<std::string, std::string> metadata;

  // Number of dropout draws per MC sample for the shared unit (one per dropped layer).
  int dropout_layers() const;
  std::uint64_t binary_macs_per_sample() const;
  // Checks internal consistency (sizes, ±1 weights, finite parameters); throws ModelError.
  void validate() const;
  // Applies a dropout spec (from the model file or from config) to the layers.
  void apply_dropout(const DropoutSpec& spec);
};

}  // namespace bayescim::models
