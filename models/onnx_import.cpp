#include "models/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

namespace bayescim::models {
namespace {

const char* kSupportedOps =
    "GreaterOrEqual, Where, Sign, Sub (input offset), BipolarQuant, MatMul, Gemm, Conv, Mul, BatchNormalization, "
    "MaxPool, Flatten, Reshape (flatten); on constants also Constant, Identity, Transpose, Cast, Quant";

struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

class Importer {
 public:
  explicit Importer(std::string path, const std::string* bytes = nullptr) : path_(std::move(path)), bytes_(bytes) {}

  Network run();

 private:
  [[noreturn]] void fail(const std::string& what) const { throw ModelError(path_ + ": " + what); }
  [[noreturn]] void fail_node(const onnx::NodeProto& n, const std::string& what) const {
    fail("node '" + n.name() + "' (" + n.op_type() + "): " + what);
  }
  Tensor to_tensor(const onnx::TensorProto& t) const;
  const Tensor* constant(const std::string& name) const {
    auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Tensor& need_constant(const onnx::NodeProto& n, int input) const;
  std::optional<float> scalar(const std::string& name) const;
  void check_finite(const onnx::NodeProto& n, const std::string& name, const Tensor& t) const {
    for (std::size_t i = 0; i < t.data.size(); ++i)
      if (!std::isfinite(t.data[i]))
        fail_node(n, "parameter '" + name + "' holds " + std::to_string(t.data[i]) + " at index " +
                         std::to_string(i) + ", expected finite numbers");
  }
  void close_layer(bool sign);

  std::string path_;
  const std::string* bytes_ = nullptr;  // the file's content when loading from memory
  std::unordered_map<std::string, Tensor> consts_;
  Network net_;
  std::optional<BinaryLayer> open_;  // the layer being assembled
  std::string current_;              // name of the value flowing along the chain
  enum class Stage { Input, Binary, PreAct, Scaled, Normed } stage_ = Stage::Input;
  std::optional<float> pending_ge_;  // threshold of a GreaterOrEqual awaiting its Where
  int cur_c_ = 0, cur_h_ = 1, cur_w_ = 1;  // shape of the value flowing along the chain
  bool flat_ = true;
  std::vector<int64_t> ints(const onnx::NodeProto& n, const onnx::AttributeProto& a) const;
  void conv_node(const onnx::NodeProto& n);
  // Evaluates a node whose inputs are all constants (weight preprocessing such as Sign(W),
  // Transpose, BipolarQuant, Quant); returns false if the op cannot be folded.
  bool fold(const onnx::NodeProto& n);
  void binarize_node(const onnx::NodeProto& n, float threshold);
  std::optional<float> pending_sub_;  // input offset of a Sub awaiting its Sign
  std::optional<std::vector<float>> pending_bias_;  // a Gemm bias, folded into the layer's BatchNorm
  void maxpool_node(const onnx::NodeProto& n);
};

// Attribute integers are int64 in ONNX; geometry is int here. Checked before the cast, so that
// 2^32 + 2 is refused rather than read as 2 (found while fuzzing; tests/unit/test_fuzz_regressions).
constexpr int64_t kMaxGeometry = 4096;

std::vector<int64_t> Importer::ints(const onnx::NodeProto& n, const onnx::AttributeProto& a) const {
  if (a.type() != onnx::AttributeProto::INTS) fail_node(n, "attribute '" + a.name() + "' must be a list of integers");
  for (const int64_t v : a.ints())
    if (v < 0 || v > kMaxGeometry)
      fail_node(n, "attribute '" + a.name() + "' holds " + std::to_string(v) + ", expected integers in [0, " +
                       std::to_string(kMaxGeometry) + "]");
  return {a.ints().begin(), a.ints().end()};
}

bool Importer::fold(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (op == "Constant") {
    for (const auto& a : n.attribute())
      if (a.name() == "value" && a.has_t() && n.output_size() == 1) {
        consts_[n.output(0)] = to_tensor(a.t());
        return true;
      }
    fail_node(n, "only Constant nodes with a 'value' tensor are supported (and one output)");
  }
  for (int i = 0; i < n.input_size(); ++i)
    if (!n.input(i).empty() && !constant(n.input(i))) return false;
  // An empty first input (an omitted optional input) is no constant: not foldable (it was
  // dereferenced as one; found by fuzz_onnx).
  if (n.input_size() == 0 || n.input(0).empty() || n.output_size() != 1) return false;
  const Tensor& x = *constant(n.input(0));
  Tensor out = x;
  auto attr_i = [&](const char* name, int64_t def) {
    for (const auto& a : n.attribute())
      if (a.name() == name) return a.i();
    return def;
  };
  auto scalar_input = [&](int i) {
    const Tensor* t = n.input_size() > i ? constant(n.input(i)) : nullptr;
    if (!t || t->data.size() != 1) fail_node(n, "input " + std::to_string(i) + " must be a scalar constant");
    return t->data[0];
  };
  if (op == "Identity" || op == "Cast") {
    // Cast to float keeps the values; the importer holds every constant as float.
  } else if (op == "Sign") {
    for (auto& v : out.data) v = v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f);
  } else if (op == "BipolarQuant") {
    const float scale = scalar_input(1);
    for (auto& v : out.data) v = (v >= 0 ? 1.0f : -1.0f) * scale;
  } else if (op == "Quant") {
    // QONNX Quant: q = clip(round(x / scale + zeropt), lo, hi); y = (q - zeropt) * scale.
    const float scale = scalar_input(1), zero = scalar_input(2), bits = scalar_input(3);
    const bool is_signed = attr_i("signed", 1) != 0, narrow = attr_i("narrow", 0) != 0;
    if (bits < 1 || bits > 16 || bits != std::floor(bits)) fail_node(n, "bitwidth must be an integer in [1, 16]");
    const double lo = is_signed ? -std::ldexp(1.0, static_cast<int>(bits) - 1) + (narrow ? 1 : 0) : 0.0;
    const double hi = is_signed ? std::ldexp(1.0, static_cast<int>(bits) - 1) - 1 : std::ldexp(1.0, static_cast<int>(bits)) - 1 - (narrow ? 1 : 0);
    for (auto& v : out.data) {
      const double q = std::clamp(std::nearbyint(static_cast<double>(v) / scale + zero), lo, hi);
      v = static_cast<float>((q - zero) * scale);
    }
  } else if (op == "Transpose") {
    if (x.dims.size() != 2) fail_node(n, "only 2-D constants can be transposed");
    for (const auto& a : n.attribute())
      if (a.name() == "perm" && !(a.ints_size() == 2 && a.ints(0) == 1 && a.ints(1) == 0))
        fail_node(n, "only perm = [1, 0] is supported");
    out.dims = {x.dims[1], x.dims[0]};
    for (int64_t r = 0; r < x.dims[0]; ++r)
      for (int64_t c = 0; c < x.dims[1]; ++c) out.data[c * x.dims[0] + r] = x.data[r * x.dims[1] + c];
  } else {
    return false;
  }
  consts_[n.output(0)] = std::move(out);
  return true;
}

void Importer::binarize_node(const onnx::NodeProto& n, float threshold) {
  if (stage_ == Stage::Input) {
    net_.input_threshold = threshold;
  } else {
    if (stage_ != Stage::Normed && stage_ != Stage::PreAct && stage_ != Stage::Scaled)
      fail_node(n, "a binarisation is supported only on the input or after a layer");
    if (threshold != 0.0f) fail_node(n, "hidden activations must compare against 0");
    close_layer(true);
  }
  stage_ = Stage::Binary;
}

void Importer::conv_node(const onnx::NodeProto& n) {
  if (stage_ != Stage::Binary) fail_node(n, "a binary layer's input must be binarised (+1/-1) first");
  if (flat_) fail_node(n, "Conv needs a [N, C, H, W] input, but the value is flat");
  const Tensor& w = need_constant(n, 1);
  if (w.dims.size() != 4 || w.dims[2] != w.dims[3]) fail_node(n, "weight must be [C_out, C_in, K, K]");
  if (w.dims[0] < 1 || w.dims[2] < 1 || w.dims[2] > kMaxGeometry)
    fail_node(n, "weight is [" + std::to_string(w.dims[0]) + ", " + std::to_string(w.dims[1]) + ", " +
                     std::to_string(w.dims[2]) + ", " + std::to_string(w.dims[3]) +
                     "], expected at least one output channel and K in [1, " + std::to_string(kMaxGeometry) + "]");
  if (w.dims[1] != cur_c_)
    fail_node(n, "weight has " + std::to_string(w.dims[1]) + " input channels, the input has " + std::to_string(cur_c_));
  if (n.input_size() == 3) {
    for (float v : need_constant(n, 2).data)
      if (v != 0.0f) fail_node(n, "a bias is not supported on binary layers (fold it into BatchNorm)");
  }
  BinaryLayer l;
  l.kind = LayerKind::Conv;
  l.name = n.name().empty() ? "layer" + std::to_string(net_.layers.size()) : n.name();
  l.c_in = cur_c_;
  l.h_in = cur_h_;
  l.w_in = cur_w_;
  l.k = static_cast<int>(w.dims[2]);
  for (const auto& a : n.attribute()) {
    const auto v = ints(n, a);
    auto all_equal = [&](std::size_t count) {
      if (v.size() != count) return false;
      for (auto x : v) if (x != v[0]) return false;
      return true;
    };
    if (a.name() == "kernel_shape") {
      if (!all_equal(2) || v[0] != l.k) fail_node(n, "kernel_shape must match the square weight");
    } else if (a.name() == "strides") {
      if (!all_equal(2) || v[0] < 1) fail_node(n, "strides must be two equal positive integers");
      l.stride = static_cast<int>(v[0]);
    } else if (a.name() == "pads") {
      if (!all_equal(4) || v[0] < 0) fail_node(n, "pads must be four equal integers (symmetric zero padding)");
      l.pad = static_cast<int>(v[0]);
    } else if (a.name() == "dilations") {
      if (!all_equal(2) || v[0] != 1) fail_node(n, "only dilation 1 is supported");
    } else if (a.name() == "group") {
      fail_node(n, "grouped convolutions are not supported (attribute 'group')");
    } else {
      fail_node(n, "unsupported attribute '" + a.name() + "' (supported: kernel_shape, strides, pads, dilations=1)");
    }
  }
  l.in = l.c_in * l.k * l.k;
  l.out = static_cast<int>(w.dims[0]);
  l.h_out = (l.h_in + 2 * l.pad - l.k) / l.stride + 1;
  l.w_out = (l.w_in + 2 * l.pad - l.k) / l.stride + 1;
  if (l.h_out < 1 || l.w_out < 1 || l.pad >= l.k) fail_node(n, "kernel, stride and padding leave no output");
  l.weight.resize(static_cast<std::size_t>(l.in) * l.out);
  for (std::size_t i = 0; i < l.weight.size(); ++i) {
    const float v = w.data[i];
    if (v != 1.0f && v != -1.0f) fail_node(n, "weights must be exactly +1 or -1 (found " + std::to_string(v) + ")");
    l.weight[i] = static_cast<int8_t>(v);
  }
  open_ = std::move(l);
  stage_ = Stage::PreAct;
}

void Importer::maxpool_node(const onnx::NodeProto& n) {
  if (stage_ != Stage::Binary || net_.layers.empty() || net_.layers.back().kind != LayerKind::Conv ||
      net_.layers.back().pool != 0)
    fail_node(n, "MaxPool is supported only right after a conv layer's sign activation");
  int k = 0, stride = 0;
  for (const auto& a : n.attribute()) {
    const auto v = ints(n, a);
    if (a.name() == "kernel_shape" && v.size() == 2 && v[0] == v[1]) k = static_cast<int>(v[0]);
    else if (a.name() == "strides" && v.size() == 2 && v[0] == v[1]) stride = static_cast<int>(v[0]);
    else if (a.name() == "pads" && std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; })) continue;
    else fail_node(n, "unsupported attribute '" + a.name() + "' (supported: square kernel_shape, equal strides, pads 0)");
  }
  if (k < 1 || stride != k) fail_node(n, "pooling window and stride must be equal (non-overlapping)");
  auto& l = net_.layers.back();
  if (l.h_out % k || l.w_out % k) fail_node(n, "pooling window must divide the feature map");
  l.pool = k;
  cur_h_ = l.h_pooled();
  cur_w_ = l.w_pooled();
}

Tensor Importer::to_tensor(const onnx::TensorProto& t) const {
  Tensor out;
  std::size_t count = 1;
  for (auto d : t.dims()) {
    if (d < 0 || d > (int64_t{1} << 31)) fail("initializer '" + t.name() + "' has an invalid dimension");
    out.dims.push_back(d);
    count *= static_cast<std::size_t>(d);
  }
  if (count > (std::size_t{1} << 28)) fail("initializer '" + t.name() + "' is too large");
  out.data.resize(count);
  const auto type = t.data_type();
  const bool raw = t.has_raw_data();
  auto size_error = [&]() {
    fail("initializer '" + t.name() + "' holds fewer values than its shape needs (truncated file?)");
  };
  if (type == onnx::TensorProto::FLOAT) {
    if (raw) {
      if (t.raw_data().size() != count * 4) size_error();
      if (count > 0) std::memcpy(out.data.data(), t.raw_data().data(), count * 4);  // data() may be null (UBSan)
    } else {
      if (static_cast<std::size_t>(t.float_data_size()) != count) size_error();
      for (std::size_t i = 0; i < count; ++i) out.data[i] = t.float_data(static_cast<int>(i));
    }
  } else if (type == onnx::TensorProto::INT8) {
    if (raw) {
      if (t.raw_data().size() != count) size_error();
      for (std::size_t i = 0; i < count; ++i) out.data[i] = static_cast<int8_t>(t.raw_data()[i]);
    } else {
      if (static_cast<std::size_t>(t.int32_data_size()) != count) size_error();
      for (std::size_t i = 0; i < count; ++i) out.data[i] = static_cast<float>(t.int32_data(static_cast<int>(i)));
    }
  } else {
    fail("initializer '" + t.name() + "' has data type " +
         (onnx::TensorProto_DataType_IsValid(type) ? onnx::TensorProto_DataType_Name(type) : std::to_string(type)) +
         " (supported: FLOAT, INT8)");
  }
  return out;
}

const Tensor& Importer::need_constant(const onnx::NodeProto& n, int input) const {
  if (n.input_size() <= input) fail_node(n, "missing input " + std::to_string(input));
  const Tensor* t = constant(n.input(input));
  if (!t) fail_node(n, "input '" + n.input(input) + "' must be an initializer (constant)");
  return *t;
}

std::optional<float> Importer::scalar(const std::string& name) const {
  const Tensor* t = constant(name);
  if (!t || t->data.size() != 1) return std::nullopt;
  return t->data[0];
}

void Importer::close_layer(bool sign) {
  BinaryLayer& l = *open_;
  l.sign_activation = sign;
  if (l.alpha.empty()) l.alpha.assign(l.out, 1.0f);
  if (l.bn_gamma.empty()) {  // no BatchNorm: identity
    l.bn_gamma.assign(l.out, 1.0f);
    l.bn_beta.assign(l.out, 0.0f);
    l.bn_mean.assign(l.out, 0.0f);
    l.bn_var.assign(l.out, 1.0f - l.bn_eps);
  }
  if (pending_bias_) {  // BN(a + b) = BN'(a) with mean' = mean - b (alpha is 1: no Mul was allowed)
    for (int o = 0; o < l.out; ++o) l.bn_mean[o] -= (*pending_bias_)[o];
    pending_bias_.reset();
  }
  if (l.kind == LayerKind::Conv) {
    cur_c_ = l.out;
    cur_h_ = l.h_out;
    cur_w_ = l.w_out;
    flat_ = false;
  } else {
    cur_c_ = l.out;
    cur_h_ = cur_w_ = 1;
    flat_ = true;
  }
  net_.layers.push_back(std::move(l));
  open_.reset();
}

Network Importer::run() {
  namespace fs = std::filesystem;
  onnx::ModelProto model;
  if (bytes_) {
    if (bytes_->empty()) fail("file is empty, expected an ONNX model");
    if (!model.ParseFromString(*bytes_)) fail("not a valid ONNX protobuf (corrupt or truncated file)");
  } else {
    std::error_code ec;
    if (!fs::exists(path_, ec)) fail("file does not exist");
    if (fs::is_directory(path_, ec)) fail("is a directory, expected an .onnx file");
    std::ifstream in(path_, std::ios::binary);
    if (!in) fail("cannot open for reading");
    if (fs::file_size(path_, ec) == 0) fail("file is empty, expected an ONNX model");
    if (!model.ParseFromIstream(&in)) fail("not a valid ONNX protobuf (corrupt or truncated file)");
  }
  if (!model.has_graph() || model.graph().node_size() == 0) fail("the ONNX model has no graph nodes");
  const auto& g = model.graph();
  net_.source = path_;
  for (const auto& kv : model.metadata_props()) net_.metadata[kv.key()] = kv.value();
  for (const auto& t : g.initializer()) consts_[t.name()] = to_tensor(t);

  // The real graph input: the one that is not an initializer.
  for (const auto& vi : g.input()) {
    if (consts_.count(vi.name())) continue;
    if (!current_.empty()) fail("the model has more than one graph input (expected one image input)");
    current_ = vi.name();
    const auto& shape = vi.type().tensor_type().shape();
    std::vector<int64_t> d;
    for (int i = 1; i < shape.dim_size(); ++i) {
      if (!shape.dim(i).has_dim_value()) fail("input '" + vi.name() + "' must have static non-batch dimensions");
      if (shape.dim(i).dim_value() < 1 || shape.dim(i).dim_value() > 65536) fail("input '" + vi.name() + "' has an invalid dimension");
      d.push_back(shape.dim(i).dim_value());
    }
    if (d.size() == 1) {
      net_.input_c = static_cast<int>(d[0]);
    } else if (d.size() == 3) {
      net_.input_c = static_cast<int>(d[0]);
      net_.input_h = static_cast<int>(d[1]);
      net_.input_w = static_cast<int>(d[2]);
      flat_ = false;
    } else {
      fail("input '" + vi.name() + "' must have shape [N, features] or [N, C, H, W]");
    }
    if (static_cast<int64_t>(net_.input_c) * net_.input_h * net_.input_w > (1 << 24)) fail("input is too large");
    net_.input_size = net_.input_c * net_.input_h * net_.input_w;
    cur_c_ = net_.input_c;
    cur_h_ = net_.input_h;
    cur_w_ = net_.input_w;
  }
  if (current_.empty()) fail("the model has no graph input");

  for (const auto& n : g.node()) {
    const std::string& op = n.op_type();
    if (fold(n)) continue;
    if (n.input_size() < 1 || n.input(0) != current_)
      fail_node(n, "expected a linear chain: first input should be '" + current_ + "'");
    if (n.output_size() != 1) fail_node(n, "expected exactly one output");
    if (op == "Flatten") {
      if (stage_ != Stage::Input && stage_ != Stage::Binary) fail_node(n, "Flatten is supported only on binary values");
      for (const auto& a : n.attribute())
        if (a.name() != "axis" || a.i() != 1) fail_node(n, "only Flatten with axis = 1 is supported");
      cur_c_ = cur_c_ * cur_h_ * cur_w_;
      cur_h_ = cur_w_ = 1;
      flat_ = true;
    } else if (op == "Reshape") {
      // Accepted as a flatten: a constant target shape [N or -1 or 0, C*H*W or -1].
      const Tensor& shape = need_constant(n, 1);
      const int64_t elems = static_cast<int64_t>(cur_c_) * cur_h_ * cur_w_;
      if (stage_ != Stage::Input && stage_ != Stage::Binary) fail_node(n, "Reshape is supported only on binary values");
      if (shape.data.size() != 2 || !(shape.data[1] == -1 || static_cast<int64_t>(shape.data[1]) == elems))
        fail_node(n, "only a flatten to [N, " + std::to_string(elems) + "] is supported");
      cur_c_ = static_cast<int>(elems);
      cur_h_ = cur_w_ = 1;
      flat_ = true;
    } else if (op == "Sub") {
      auto c = n.input_size() == 2 ? scalar(n.input(1)) : std::nullopt;
      if (stage_ != Stage::Input || !c) fail_node(n, "Sub is supported only as a scalar offset of the graph input before Sign");
      pending_sub_ = *c;
    } else if (op == "Sign") {
      // sign(0) is 0 in ONNX but +1 here (a crossbar input is on or off); only an exact zero differs.
      binarize_node(n, pending_sub_.value_or(0.0f));
      pending_sub_.reset();
    } else if (op == "BipolarQuant") {
      auto scale = n.input_size() == 2 ? scalar(n.input(1)) : std::nullopt;
      if (!scale || *scale != 1.0f) fail_node(n, "activation BipolarQuant must have scale 1");
      binarize_node(n, pending_sub_.value_or(0.0f));
      pending_sub_.reset();
    } else if (op == "Conv") {
      conv_node(n);
    } else if (op == "MaxPool") {
      maxpool_node(n);
    } else if (op == "GreaterOrEqual") {
      auto thr = n.input_size() == 2 ? scalar(n.input(1)) : std::nullopt;
      if (!thr) fail_node(n, "second input must be a scalar initializer");
      if (stage_ == Stage::Normed && *thr != 0.0f)
        fail_node(n, "the activation compare must be against 0 (sign), found " + std::to_string(*thr));
      if (stage_ != Stage::Input && stage_ != Stage::Normed && stage_ != Stage::PreAct && stage_ != Stage::Scaled)
        fail_node(n, "a compare is supported only on the input or after a layer");
      pending_ge_ = *thr;
    } else if (op == "Where") {
      if (!pending_ge_) fail_node(n, "Where must follow GreaterOrEqual (binarisation)");
      auto hi = n.input_size() == 3 ? scalar(n.input(1)) : std::nullopt;
      auto lo = n.input_size() == 3 ? scalar(n.input(2)) : std::nullopt;
      if (!hi || !lo || *hi != 1.0f || *lo != -1.0f)
        fail_node(n, "binarisation must select +1 (true) and -1 (false) scalar initializers");
      binarize_node(n, *pending_ge_);
      pending_ge_.reset();
    } else if (op == "MatMul" || op == "Gemm") {
      if (stage_ != Stage::Binary) fail_node(n, "a binary layer's input must be binarised (+1/-1) first");
      if (!flat_) fail_node(n, "the input is [C, H, W]; add a Flatten before a fully connected layer");
      const Tensor& w = need_constant(n, 1);
      if (w.dims.size() != 2) fail_node(n, "weight must be 2-D");
      if (w.dims[0] < 1 || w.dims[1] < 1)
        fail_node(n, "weight is [" + std::to_string(w.dims[0]) + ", " + std::to_string(w.dims[1]) +
                         "], expected at least one input and one output");
      bool trans_b = false;
      for (const auto& a : n.attribute()) {
        if (op == "Gemm" && a.name() == "transB") trans_b = a.i() != 0;
        else if (op == "Gemm" && (a.name() == "alpha" || a.name() == "beta") && a.f() == 1.0f) continue;
        else fail_node(n, "unsupported attribute '" + a.name() + "'" +
                              (op == "Gemm" ? " (supported: transB, alpha=1, beta=1)" : " (MatMul takes none)"));
      }
      std::vector<float> bias;
      if (op == "Gemm" && n.input_size() == 3 && !n.input(2).empty()) bias = need_constant(n, 2).data;
      BinaryLayer l;
      l.name = n.name().empty() ? "layer" + std::to_string(net_.layers.size()) : n.name();
      l.in = static_cast<int>(trans_b ? w.dims[1] : w.dims[0]);
      l.out = static_cast<int>(trans_b ? w.dims[0] : w.dims[1]);
      l.c_in = l.in;
      if (l.in != cur_c_)
        fail_node(n, "weight expects " + std::to_string(l.in) + " inputs, the previous value has " + std::to_string(cur_c_));
      l.weight.resize(static_cast<std::size_t>(l.in) * l.out);
      for (int o = 0; o < l.out; ++o)
        for (int i = 0; i < l.in; ++i) {
          float v = trans_b ? w.data[static_cast<std::size_t>(o) * l.in + i] : w.data[static_cast<std::size_t>(i) * l.out + o];
          if (v != 1.0f && v != -1.0f)
            fail_node(n, "weights must be exactly +1 or -1 (found " + std::to_string(v) + ")");
          l.weight[static_cast<std::size_t>(o) * l.in + i] = static_cast<int8_t>(v);
        }
      if (!bias.empty()) {
        if (bias.size() != static_cast<std::size_t>(l.out)) fail_node(n, "bias must have one entry per output");
        if (std::any_of(bias.begin(), bias.end(), [](float v) { return v != 0.0f; })) pending_bias_ = bias;
      }
      open_ = std::move(l);
      stage_ = Stage::PreAct;
    } else if (op == "Mul") {
      if (pending_bias_) fail_node(n, "a bias followed by a scale vector is not supported");
      if (stage_ != Stage::PreAct) fail_node(n, "Mul (the scale vector) must directly follow MatMul/Gemm/Conv");
      const Tensor& a = need_constant(n, 1);
      if (a.data.size() != static_cast<std::size_t>(open_->out))
        fail_node(n, "scale vector must have one entry per output (" + std::to_string(open_->out) + ")");
      check_finite(n, n.input(1), a);
      open_->alpha = a.data;
      stage_ = Stage::Scaled;
    } else if (op == "BatchNormalization") {
      if (stage_ != Stage::PreAct && stage_ != Stage::Scaled) fail_node(n, "BatchNormalization must follow a layer");
      for (const auto& a : n.attribute()) {
        if (a.name() == "epsilon") {
          if (a.type() != onnx::AttributeProto::FLOAT || !std::isfinite(a.f()) || a.f() < 0)
            fail_node(n, "attribute 'epsilon' is " + std::to_string(a.f()) + ", expected a finite number >= 0");
          open_->bn_eps = a.f();
        }
        else if (a.name() == "momentum") continue;
        else if (a.name() == "training_mode" && a.i() == 0) continue;
        else fail_node(n, "unsupported attribute '" + a.name() + "' (supported: epsilon, momentum)");
      }
      if (n.input_size() != 5) fail_node(n, "expected 5 inputs");
      std::vector<float>* dst[4] = {&open_->bn_gamma, &open_->bn_beta, &open_->bn_mean, &open_->bn_var};
      for (int k = 0; k < 4; ++k) {
        const Tensor& t = need_constant(n, k + 1);
        if (t.data.size() != static_cast<std::size_t>(open_->out))
          fail_node(n, "parameter '" + n.input(k + 1) + "' has " + std::to_string(t.data.size()) +
                           " entries, expected one per output (" + std::to_string(open_->out) + ")");
        check_finite(n, n.input(k + 1), t);
        *dst[k] = t.data;
      }
      stage_ = Stage::Normed;
    } else {
      fail_node(n, std::string("unsupported op (supported: ") + kSupportedOps + ")");
    }
    current_ = n.output(0);
  }
  if (pending_ge_) fail("the graph ends in a GreaterOrEqual without its Where");
  if (!open_) fail("the last layer must end in real logits (MatMul/Gemm [+Mul] [+BatchNormalization])");
  close_layer(false);
  if (g.output_size() != 1 || g.output(0).name() != current_)
    fail("the graph output must be the last layer's logits ('" + current_ + "')");
  net_.classes = net_.layers.back().out;

  // Dropout from metadata_props (bayescim.* keys; see models/README.md).
  DropoutSpec spec;
  auto meta = [&](const std::string& k) -> const std::string* {
    auto it = net_.metadata.find(k);
    return it == net_.metadata.end() ? nullptr : &it->second;
  };
  auto meta_number = [&](const std::string& k, double& out) {
    if (const auto* v = meta(k)) {
      char* end = nullptr;
      out = std::strtod(v->c_str(), &end);
      if (v->empty() || *end != '\0' || !std::isfinite(out)) fail("metadata '" + k + "' = '" + *v + "' is not a number");
    }
  };
  if (const auto* k = meta("bayescim.dropout.kind")) {
    try {
      spec.kind = parse_dropout_kind(*k);
    } catch (const ModelError& e) {
      fail(std::string("metadata 'bayescim.dropout.kind': ") + e.what());
    }
  }
  meta_number("bayescim.dropout.p", spec.p);
  meta_number("bayescim.scale.dropped_value", spec.scale_dropped_value);
  if (const auto* ls = meta("bayescim.dropout.layers")) {
    std::stringstream ss(*ls);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) spec.layers.push_back(item);
  }
  try {
    net_.apply_dropout(spec);
  } catch (const ModelError& e) {
    throw ModelError(std::string(e.what()) + " (from metadata_props)");
  }
  net_.validate();
  return std::move(net_);
}

}  // namespace

Network load_onnx(const std::string& path) { return Importer(path).run(); }

Network load_onnx_bytes(const std::string& bytes, const std::string& name) { return Importer(name, &bytes).run(); }

}  // namespace bayescim::models
