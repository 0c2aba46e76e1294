#include "models/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_map>

namespace bayescim::models {
namespace {

const char* kSupportedOps =
    "GreaterOrEqual, Where, Sign, BipolarQuant, Quant (1-bit, k-bit input), MatMul, Gemm, Conv, BatchNormalization, "
    "MaxPool, Flatten, Reshape, Shape, Identity; Mul, Div, Add, Sub by constants (input, after a layer); "
    "residual Add, AveragePool, Concat; on constants: Constant, Cast, Transpose, Gather, Unsqueeze, Squeeze, Concat, "
    "Pow, Sqrt";

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
  // Affine: constant Mul/Div/Add/Sub after a layer (e.g. a per-tensor output normalisation), folded
  // into its BatchNorm at close_layer.
  // Joined: a residual Add joined the open layer's output and a shortcut; only its sign may follow.
  enum class Stage { Input, Binary, PreAct, Scaled, Normed, Affine, Joined } stage_ = Stage::Input;
  std::optional<float> pending_ge_;  // threshold of a GreaterOrEqual awaiting its Where
  int cur_c_ = 0, cur_h_ = 1, cur_w_ = 1;  // shape of the value flowing along the chain
  bool flat_ = true;
  std::vector<int64_t> ints(const onnx::NodeProto& n, const onnx::AttributeProto& a) const;
  void conv_node(const onnx::NodeProto& n);
  // Evaluates a node whose inputs are all constants (weight preprocessing such as Sign(W),
  // Transpose, BipolarQuant, Quant); returns false if the op cannot be folded.
  bool fold(const onnx::NodeProto& n);
  void binarize_node(const onnx::NodeProto& n, float threshold);
  // Scalar Mul/Div/Add/Sub on the graph input before its binarisation, in order ('*', '/', '+', '-').
  std::vector<std::pair<char, float>> input_ops_;
  void input_op(const onnx::NodeProto& n, int value_input);
  // f(x): the input's Mul/Div/Add/Sub in float32, one rounding each, as the graph evaluates them.
  float apply_input_ops(float x) const;
  float input_threshold(const onnx::NodeProto& n, float compare) const;
  // A k-bit unsigned Quant on the input: the first layer reads the integers bit-serially.
  void input_quant(const onnx::NodeProto& n);
  double input_scale_ = 1.0;  // its dequantisation scale, for the first layer
  // y = z * aff_mul_ + aff_add_ per output, after the open layer's BatchNorm; empty if none.
  std::vector<double> aff_mul_, aff_add_;
  void affine_node(const onnx::NodeProto& n, int value_input);
  std::optional<std::vector<float>> per_output(const Tensor& t, int out, bool conv) const;
  void quant_activation(const onnx::NodeProto& n);
  std::vector<int64_t> value_shape() const;
  Tensor shape_of(const onnx::NodeProto& n, const std::vector<int64_t>& dims) const;
  std::optional<std::vector<float>> pending_bias_;  // a Gemm bias, folded into the layer's BatchNorm
  void maxpool_node(const onnx::NodeProto& n);
  // Residual joins. The values a shortcut may read, by name: a hidden layer's ±1 output (the
  // input of layer `from`), and what AveragePool and Concat (channel copies) make of it off the chain.
  struct ShortcutValue {
    int from = 0, pool = 1, c = 0, h = 1, w = 1, copies = 1;
  };
  std::unordered_map<std::string, ShortcutValue> shortcut_values_;
  // Handles an off-chain node of a shortcut (AveragePool, Concat) or a residual Add; false if n is none.
  bool shortcut_node(const onnx::NodeProto& n);
  void residual_add(const onnx::NodeProto& n, const ShortcutValue& v);
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

// A number for a message: integers without decimals.
std::string num(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return std::to_string(v);
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// Shape helpers work on small integer tensors (shape arithmetic); they are held as float like every
// constant, exact up to 2^24.
constexpr std::size_t kMaxRank = 8;

// A constant used as an integer (axis, index, size): the cast is defined only in range.
int64_t as_int(float f) {
  return std::isfinite(f) && std::abs(f) < 1e15f ? static_cast<int64_t>(f) : std::numeric_limits<int64_t>::max();
}

Tensor Importer::shape_of(const onnx::NodeProto& n, const std::vector<int64_t>& dims) const {
  const auto r = static_cast<int64_t>(dims.size());
  int64_t start = 0, end = r;
  for (const auto& a : n.attribute()) {
    if (a.name() == "start") start = a.i();
    else if (a.name() == "end") end = a.i();
    else fail_node(n, "unsupported attribute '" + a.name() + "' (supported: start, end)");
  }
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  Tensor t;
  for (int64_t i = start; i < end; ++i) t.data.push_back(static_cast<float>(dims[static_cast<std::size_t>(i)]));
  t.dims = {static_cast<int64_t>(t.data.size())};
  return t;
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
  // Axes of Unsqueeze/Squeeze: the attribute (opset < 13) or the second input (opset 13).
  auto axes = [&](std::vector<int64_t>& v) {
    for (const auto& a : n.attribute())
      if (a.name() == "axes") v.assign(a.ints().begin(), a.ints().end());
      else fail_node(n, "unsupported attribute '" + a.name() + "' (supported: axes)");
    if (n.input_size() > 1 && !n.input(1).empty())
      for (float f : constant(n.input(1))->data) v.push_back(as_int(f));
    return !v.empty();
  };
  if (op == "Identity" || op == "Cast") {
    // Cast to float keeps the values; the importer holds every constant as float.
  } else if (op == "Sign") {
    for (auto& v : out.data) v = v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f);
  } else if (op == "BipolarQuant") {
    const float scale = scalar_input(1);
    for (auto& v : out.data) v = (v >= 0 ? 1.0f : -1.0f) * scale;
  } else if (op == "Quant") {
    // QONNX Quant: q = clip(round(x / scale + zeropt), lo, hi); y = (q - zeropt) * scale. A signed
    // 1-bit Quant is bipolar (as QONNX executes it): q = +1 if x / scale + zeropt >= 0, else -1.
    const float scale = scalar_input(1), zero = scalar_input(2), bits = scalar_input(3);
    const bool is_signed = attr_i("signed", 1) != 0, narrow = attr_i("narrow", 0) != 0;
    if (bits < 1 || bits > 16 || bits != std::floor(bits)) fail_node(n, "bitwidth must be an integer in [1, 16]");
    const int b = static_cast<int>(bits);
    const double lo = is_signed ? -std::ldexp(1.0, b - 1) + (narrow ? 1 : 0) : 0.0;
    const double hi = is_signed ? std::ldexp(1.0, b - 1) - 1 : std::ldexp(1.0, b) - 1 - (narrow ? 1 : 0);
    for (std::size_t i = 0; i < out.data.size(); ++i) {
      const double u = static_cast<double>(out.data[i]) / scale + zero;
      const double q = b == 1 && is_signed ? (u >= 0 ? 1.0 : -1.0) : std::clamp(std::nearbyint(u), lo, hi);
      // Binary layers take weights of levels +-1 only: a wider quantiser is refused here, by name
      // and bit width, unless every weight it gives happens to be +-1.
      if (q - zero != 1.0 && q - zero != -1.0)
        fail_node(n, "weights quantised to " + std::to_string(b) + " bits (" + (is_signed ? "signed" : "unsigned") +
                         ") are not binary (level " + num(q - zero) + " at index " + std::to_string(i) +
                         "); only binary weights are supported, expected levels +1/-1 (BipolarQuant, or Quant "
                         "with bit width 1 and signed = 1)");
      out.data[i] = static_cast<float>((q - zero) * scale);
    }
  } else if (op == "Transpose") {
    if (x.dims.size() != 2) fail_node(n, "only 2-D constants can be transposed");
    for (const auto& a : n.attribute())
      if (a.name() == "perm" && !(a.ints_size() == 2 && a.ints(0) == 1 && a.ints(1) == 0))
        fail_node(n, "only perm = [1, 0] is supported");
    out.dims = {x.dims[1], x.dims[0]};
    for (int64_t r = 0; r < x.dims[0]; ++r)
      for (int64_t c = 0; c < x.dims[1]; ++c) out.data[c * x.dims[0] + r] = x.data[r * x.dims[1] + c];
  } else if (op == "Shape") {
    out = shape_of(n, x.dims);
  } else if (op == "Gather") {
    if (n.input_size() != 2) fail_node(n, "expected 2 inputs");
    const Tensor& idx = *constant(n.input(1));
    const int64_t axis = attr_i("axis", 0);
    if (x.dims.size() != 1 || (axis != 0 && axis != -1))
      fail_node(n, "only gathering from 1-D constants (shape values) is supported, the data is " + dims_str(x.dims));
    out.dims = idx.dims;
    out.data.clear();
    const auto size = static_cast<int64_t>(x.data.size());
    for (float f : idx.data) {
      int64_t k = as_int(f);
      if (k < 0) k += size;
      if (f != std::floor(f) || k < 0 || k >= size)
        fail_node(n, "index " + num(f) + " is out of range, expected an integer in [-" +
                         std::to_string(size) + ", " + std::to_string(size - 1) + "]");
      out.data.push_back(x.data[static_cast<std::size_t>(k)]);
    }
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    std::vector<int64_t> ax;
    const bool has_axes = axes(ax);
    if (op == "Unsqueeze") {
      if (!has_axes) fail_node(n, "expected axes (attribute, or input 1 from opset 13)");
      const auto r = static_cast<int64_t>(x.dims.size() + ax.size());
      if (static_cast<std::size_t>(r) > kMaxRank) fail_node(n, "rank " + std::to_string(r) + " is too large, expected at most 8");
      std::vector<bool> one(static_cast<std::size_t>(r), false);
      for (int64_t a : ax) {
        const int64_t k = a < 0 ? a + r : a;
        if (k < 0 || k >= r || one[static_cast<std::size_t>(k)])
          fail_node(n, "axis " + std::to_string(a) + " is out of range or repeated, expected distinct axes in [-" +
                           std::to_string(r) + ", " + std::to_string(r - 1) + "]");
        one[static_cast<std::size_t>(k)] = true;
      }
      out.dims.clear();
      std::size_t j = 0;
      for (int64_t k = 0; k < r; ++k) out.dims.push_back(one[static_cast<std::size_t>(k)] ? 1 : x.dims[j++]);
    } else {
      const auto r = static_cast<int64_t>(x.dims.size());
      std::vector<bool> drop(x.dims.size(), !has_axes);
      for (int64_t a : ax) {
        const int64_t k = a < 0 ? a + r : a;
        if (k < 0 || k >= r || x.dims[static_cast<std::size_t>(k)] != 1)
          fail_node(n, "axis " + std::to_string(a) + " is out of range or not of size 1 in " + dims_str(x.dims) +
                           ", expected axes of size 1");
        drop[static_cast<std::size_t>(k)] = true;
      }
      out.dims.clear();
      for (std::size_t k = 0; k < x.dims.size(); ++k)
        if (!(drop[k] && x.dims[k] == 1)) out.dims.push_back(x.dims[k]);
    }
  } else if (op == "Concat") {
    out.data.clear();
    for (int i = 0; i < n.input_size(); ++i) {
      const Tensor* t = n.input(i).empty() ? nullptr : constant(n.input(i));
      if (!t || t->dims.size() != 1)
        fail_node(n, "only 1-D constants (shape values) can be concatenated, input " + std::to_string(i) + " is " +
                         (t ? dims_str(t->dims) : std::string("missing")));
      if (out.data.size() + t->data.size() > (std::size_t{1} << 28)) fail_node(n, "the result is too large");
      out.data.insert(out.data.end(), t->data.begin(), t->data.end());
    }
    out.dims = {static_cast<int64_t>(out.data.size())};
  } else if (op == "Sqrt") {
    for (auto& v : out.data) v = static_cast<float>(std::sqrt(static_cast<double>(v)));
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
    if (n.input_size() != 2 || n.input(1).empty()) fail_node(n, "expected 2 inputs");
    const Tensor& y = *constant(n.input(1));
    // Broadcasting as far as per-tensor and per-channel constants need it: one value against
    // anything, or equal sizes whose shapes differ only by leading 1s.
    auto strip = [](const std::vector<int64_t>& d) {
      std::size_t k = 0;
      while (k < d.size() && d[k] == 1) ++k;
      return std::vector<int64_t>(d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
    };
    const bool xs = x.data.size() == 1, ys = y.data.size() == 1;
    if (!xs && !ys && (x.data.size() != y.data.size() || strip(x.dims) != strip(y.dims)))
      fail_node(n, "constants of shapes " + dims_str(x.dims) + " and " + dims_str(y.dims) +
                       " cannot be folded, expected equal shapes or a single value");
    const std::size_t count = std::max(x.data.size(), y.data.size());
    out.dims = (xs && !ys) || (xs == ys && y.dims.size() > x.dims.size()) ? y.dims : x.dims;
    out.data.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      const double a = x.data[xs ? 0 : i], c = y.data[ys ? 0 : i];
      double r = 0;
      if (op == "Add") r = a + c;
      else if (op == "Sub") r = a - c;
      else if (op == "Mul") r = a * c;
      else if (op == "Div") r = a / c;
      else r = std::pow(a, c);
      out.data[i] = static_cast<float>(r);
    }
  } else {
    return false;
  }
  consts_[n.output(0)] = std::move(out);
  return true;
}

void Importer::binarize_node(const onnx::NodeProto& n, float threshold) {
  if (stage_ == Stage::Input) {
    net_.input_threshold = input_threshold(n, threshold);
    input_ops_.clear();
  } else {
    if (stage_ != Stage::Normed && stage_ != Stage::PreAct && stage_ != Stage::Scaled && stage_ != Stage::Affine &&
        stage_ != Stage::Joined)
      fail_node(n, "a binarisation is supported only on the input or after a layer");
    if (threshold != 0.0f) fail_node(n, "hidden activations must compare against 0");
    close_layer(true);
  }
  stage_ = Stage::Binary;
}

void Importer::input_op(const onnx::NodeProto& n, int value_input) {
  const std::string& op = n.op_type();
  const auto c = n.input_size() == 2 ? scalar(n.input(1 - value_input)) : std::nullopt;
  if (!c) fail_node(n, "on the graph input, expected the input and one scalar constant");
  if (value_input != 0) fail_node(n, "expected the graph input as the first operand (input - constant)");
  if ((op == "Mul" || op == "Div") && !(*c > 0.0f && std::isfinite(*c)))
    fail_node(n, "the input's scale is " + num(*c) + ", expected a positive number (the binarisation "
                 "becomes a threshold on the pixel value)");
  if (!std::isfinite(*c)) fail_node(n, "the input's offset is " + num(*c) + ", expected a finite number");
  input_ops_.emplace_back(op == "Mul" ? '*' : op == "Div" ? '/' : op == "Add" ? '+' : '-', *c);
}

// The first layer's binarisation is f(x) >= compare, f the input's Mul/Div/Add/Sub in float32 (one
// rounding each, as the graph evaluates them). With positive scales f is non-decreasing, so the
// inputs that give +1 are exactly those >= the least float32 that does: found by bisection over the
// floats in order, it reproduces the graph on every float32 input, not only approximately.
float Importer::apply_input_ops(float x) const {
  volatile float v = x;  // one rounding per op, never contracted into an FMA
  for (const auto& [op, c] : input_ops_) {
    switch (op) {
      case '*': v = v * c; break;
      case '/': v = v / c; break;
      case '+': v = v + c; break;
      default: v = v - c; break;
    }
  }
  return v;
}

float Importer::input_threshold(const onnx::NodeProto& n, float compare) const {
  if (input_ops_.empty()) return compare;
  auto fires = [&](float x) { return apply_input_ops(x) >= compare; };
  // Floats in order as integers: -FLT_MAX .. FLT_MAX map to -0x7f7fffff .. 0x7f7fffff (both zeros to 0).
  auto key = [](float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return (u & 0x80000000u) ? -static_cast<int64_t>(u & 0x7fffffffu) : static_cast<int64_t>(u);
  };
  auto from_key = [](int64_t k) {
    const std::uint32_t u = k < 0 ? static_cast<std::uint32_t>(-k) | 0x80000000u : static_cast<std::uint32_t>(k);
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  const float max = std::numeric_limits<float>::max();
  if (fires(-max)) return -max;
  if (!fires(max)) fail_node(n, "the input's binarisation gives -1 for every input, expected a threshold within the input range");
  int64_t lo = key(-max), hi = key(max);  // fires(lo) is false, fires(hi) true
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fires(from_key(mid)) ? hi : lo) = mid;
  }
  return from_key(hi);
}

std::optional<std::vector<float>> Importer::per_output(const Tensor& t, int out, bool conv) const {
  if (t.data.size() == 1) return std::vector<float>(static_cast<std::size_t>(out), t.data[0]);
  if (t.data.size() != static_cast<std::size_t>(out)) return std::nullopt;
  const std::vector<int64_t> a = conv ? std::vector<int64_t>{out, 1, 1} : std::vector<int64_t>{out};
  std::vector<int64_t> b = a;
  b.insert(b.begin(), 1);
  if (t.dims != a && t.dims != b) return std::nullopt;
  return t.data;
}

void Importer::affine_node(const onnx::NodeProto& n, int value_input) {
  const std::string& op = n.op_type();
  const Tensor* t = n.input_size() == 2 ? constant(n.input(1 - value_input)) : nullptr;
  if (!t) fail_node(n, "after a layer, expected the layer's value and one constant");
  const bool conv = open_->kind == LayerKind::Conv;
  const auto c = per_output(*t, open_->out, conv);
  if (!c)
    fail_node(n, "constant '" + n.input(1 - value_input) + "' has shape " + dims_str(t->dims) +
                     ", expected one value or one per output (" + std::to_string(open_->out) + ", as " +
                     (conv ? "[1, C, 1, 1]" : "[1, C] or [C]") + ")");
  check_finite(n, n.input(1 - value_input), Tensor{t->dims, *c});
  if (aff_mul_.empty()) {
    aff_mul_.assign(static_cast<std::size_t>(open_->out), 1.0);
    aff_add_.assign(static_cast<std::size_t>(open_->out), 0.0);
  }
  for (std::size_t o = 0; o < c->size(); ++o) {
    const double k = (*c)[o];
    double &m = aff_mul_[o], &a = aff_add_[o];
    if (op == "Mul") {
      m *= k;
      a *= k;
    } else if (op == "Div") {
      if (k == 0) fail_node(n, "division by zero at output " + std::to_string(o) + ", expected a non-zero divisor");
      m /= k;
      a /= k;
    } else if (op == "Add") {
      a += k;
    } else if (value_input == 0) {  // z - k
      a -= k;
    } else {  // k - z
      m = -m;
      a = k - a;
    }
  }
  stage_ = Stage::Affine;
}

// QONNX Quant, unsigned: q = clip(round(f(x) / scale + zero point), 0, 2^k - 1 (- 1 if narrow)),
// evaluated in float32 as the graph does, for every raw pixel (x = pixel / 255): the table of
// integers the first layer reads. The dequantised value q * scale keeps its scale in the first
// layer's pre-activation (BinaryLayer::input_scale).
void Importer::input_quant(const onnx::NodeProto& n) {
  if (n.input_size() != 4) fail_node(n, "expected 4 inputs (x, scale, zero point, bit width)");
  const auto scale = scalar(n.input(1)), zero = scalar(n.input(2)), bits = scalar(n.input(3));
  if (!scale || !zero || !bits) fail_node(n, "scale, zero point and bit width must be scalar constants");
  if (*bits != std::floor(*bits) || *bits < 1 || *bits > Network::kMaxInputBits)
    fail_node(n, "the input is quantised to " + num(*bits) + " bits; the first layer reads unsigned inputs of 1 to " +
                     std::to_string(Network::kMaxInputBits) + " bits bit-serially");
  if (*zero != 0.0f) fail_node(n, "input Quant has zero point " + num(*zero) + ", expected 0 (a 0 bit reads no row)");
  if (!(*scale > 0.0f) || !std::isfinite(*scale)) fail_node(n, "input Quant has scale " + num(*scale) + ", expected a positive number");
  bool narrow = false;
  std::string rounding = "ROUND";
  for (const auto& a : n.attribute()) {
    if (a.name() == "narrow") narrow = a.i() != 0;
    else if (a.name() == "rounding_mode") rounding = a.s();
    else if (a.name() != "signed") fail_node(n, "unsupported attribute '" + a.name() + "' (supported: signed, narrow, rounding_mode)");
  }
  const int k = static_cast<int>(*bits);
  const float hi = static_cast<float>((1 << k) - 1 - (narrow ? 1 : 0));
  for (int p = 0; p < 256; ++p) {
    volatile float u = apply_input_ops(static_cast<float>(p) / 255.0f);
    u = u / *scale;
    float q;
    if (rounding == "ROUND") q = std::nearbyint(u);  // half to even, as numpy's round
    else if (rounding == "FLOOR") q = std::floor(u);
    else if (rounding == "CEIL") q = std::ceil(u);
    else fail_node(n, "rounding_mode '" + rounding + "' is not supported (supported: ROUND, FLOOR, CEIL)");
    net_.input_levels[static_cast<std::size_t>(p)] = static_cast<std::uint16_t>(std::clamp(q, 0.0f, hi));
  }
  net_.input_bits = k;
  input_scale_ = *scale;
  input_ops_.clear();
  stage_ = Stage::Binary;
}

void Importer::quant_activation(const onnx::NodeProto& n) {
  if (n.input_size() != 4) fail_node(n, "expected 4 inputs (x, scale, zero point, bit width)");
  const auto scale = scalar(n.input(1)), zero = scalar(n.input(2)), bits = scalar(n.input(3));
  if (!scale || !zero || !bits) fail_node(n, "scale, zero point and bit width must be scalar constants");
  bool is_signed = true;
  for (const auto& a : n.attribute())
    if (a.name() == "signed") is_signed = a.i() != 0;
  if (*bits != 1.0f)
    fail_node(n, "activations quantised to " + num(*bits) +
                     " bits are not binary; only 1-bit activations are supported (BipolarQuant, or Quant with "
                     "bit width 1 and signed = 1), and k-bit unsigned inputs on the graph input");
  if (!is_signed) fail_node(n, "a 1-bit unsigned Quant gives 0/1, expected bipolar +1/-1 activations (signed = 1)");
  if (*scale != 1.0f || *zero != 0.0f) fail_node(n, "activation Quant must have scale 1 and zero point 0");
  binarize_node(n, 0.0f);
}

std::vector<int64_t> Importer::value_shape() const {
  if (open_) {
    if (open_->kind == LayerKind::Conv) return {1, open_->out, open_->h_out, open_->w_out};
    return {1, open_->out};
  }
  if (flat_) return {1, cur_c_};
  return {1, cur_c_, cur_h_, cur_w_};
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
  l.input_scale = net_.layers.empty() ? input_scale_ : 1.0;
  l.kind = LayerKind::Conv;
  l.name = n.name().empty() ? "layer" + std::to_string(net_.layers.size()) : n.name();
  l.c_in = cur_c_;
  l.h_in = cur_h_;
  l.w_in = cur_w_;
  l.k = static_cast<int>(w.dims[2]);
  for (const auto& a : n.attribute()) {
    if (a.name() == "group") {  // an INT, not a list; torch.onnx.export writes group = 1
      if (a.type() != onnx::AttributeProto::INT || a.i() != 1)
        fail_node(n, "grouped convolutions are not supported (attribute 'group' must be 1)");
      continue;
    }
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
    } else {
      fail_node(n, "unsupported attribute '" + a.name() + "' (supported: kernel_shape, strides, pads, dilations=1, group=1)");
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
    if (a.name() == "ceil_mode" && a.type() == onnx::AttributeProto::INT && a.i() == 0) continue;
    const auto v = ints(n, a);
    if (a.name() == "dilations" && std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 1; })) continue;
    if (a.name() == "kernel_shape" && v.size() == 2 && v[0] == v[1]) k = static_cast<int>(v[0]);
    else if (a.name() == "strides" && v.size() == 2 && v[0] == v[1]) stride = static_cast<int>(v[0]);
    else if (a.name() == "pads" && std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; })) continue;
    else fail_node(n, "unsupported attribute '" + a.name() + "' (supported: square kernel_shape, equal strides, pads 0, dilations 1, ceil_mode 0)");
  }
  if (k < 1 || stride != k) fail_node(n, "pooling window and stride must be equal (non-overlapping)");
  auto& l = net_.layers.back();
  if (l.h_out % k || l.w_out % k) fail_node(n, "pooling window must divide the feature map");
  l.pool = k;
  cur_h_ = l.h_pooled();
  cur_w_ = l.w_pooled();
}

bool Importer::shortcut_node(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  auto value = [&](int i) -> const ShortcutValue* {
    if (n.input_size() <= i) return nullptr;
    auto it = shortcut_values_.find(n.input(i));
    return it == shortcut_values_.end() ? nullptr : &it->second;
  };
  if (op == "AveragePool" && value(0)) {
    ShortcutValue v = *value(0);
    if (v.pool != 1 || v.copies != 1) fail_node(n, "a shortcut may be pooled once, before any Concat");
    if (n.output_size() != 1) fail_node(n, "expected exactly one output");
    int k = 0, stride = 0;
    for (const auto& a : n.attribute()) {
      if ((a.name() == "ceil_mode" || a.name() == "count_include_pad") && a.type() == onnx::AttributeProto::INT &&
          (a.name() == "count_include_pad" || a.i() == 0))
        continue;
      const auto vals = ints(n, a);
      if (a.name() == "kernel_shape" && vals.size() == 2 && vals[0] == vals[1]) k = static_cast<int>(vals[0]);
      else if (a.name() == "strides" && vals.size() == 2 && vals[0] == vals[1]) stride = static_cast<int>(vals[0]);
      else if (a.name() == "pads" && std::all_of(vals.begin(), vals.end(), [](int64_t x) { return x == 0; })) continue;
      else fail_node(n, "unsupported attribute '" + a.name() + "' (supported: square kernel_shape, equal strides, pads 0, ceil_mode 0)");
    }
    if (k < 1 || stride != k) fail_node(n, "a shortcut's pooling window and stride must be equal (non-overlapping)");
    if (k > Shortcut::kMaxPool)
      fail_node(n, "a shortcut's pooling window is " + std::to_string(k) + ", expected at most " +
                       std::to_string(Shortcut::kMaxPool));
    if (v.h % k || v.w % k)
      fail_node(n, "pooling window " + std::to_string(k) + " must divide the shortcut's " + std::to_string(v.h) + "x" +
                       std::to_string(v.w));
    v.pool = k;
    shortcut_values_[n.output(0)] = v;
    return true;
  }
  if (op == "Concat" && value(0)) {
    for (int i = 1; i < n.input_size(); ++i)
      if (n.input(i) != n.input(0))
        fail_node(n, "a Concat on a shortcut must repeat one value (channel copies, as ReActNet doubles channels)");
    for (const auto& a : n.attribute())
      if (a.name() != "axis" || a.i() != 1) fail_node(n, "a Concat on a shortcut must join channels (axis = 1)");
    ShortcutValue v = *value(0);
    if (static_cast<long long>(v.copies) * n.input_size() * v.c > (1 << 24))
      fail_node(n, "the shortcut's copies give more than 2^24 channels, expected as many as the layer it joins");
    v.copies *= n.input_size();
    shortcut_values_[n.output(0)] = v;
    return true;
  }
  if (op == "Add" && n.input_size() == 2 && !constant(n.input(0)) && !constant(n.input(1))) {
    const int other = n.input(0) == current_ ? 1 : n.input(1) == current_ ? 0 : -1;
    const ShortcutValue* v = other >= 0 ? value(other) : nullptr;
    if (!v)
      fail_node(n, "an Add of two computed values ('" + n.input(0) + "', '" + n.input(1) +
                       "') is supported only as a residual join: a layer's output before its sign (the chain, '" +
                       current_ + "') plus a shortcut of +-1 activations (a hidden layer's sign output, or its "
                       "AveragePool, with Concat copies); a real-valued or multi-bit shortcut is not supported");
    residual_add(n, *v);
    current_ = n.output(0);
    return true;
  }
  return false;
}

void Importer::residual_add(const onnx::NodeProto& n, const ShortcutValue& v) {
  if (!open_ || (stage_ != Stage::PreAct && stage_ != Stage::Scaled && stage_ != Stage::Normed && stage_ != Stage::Affine))
    fail_node(n, "a residual Add must join a layer's output (after its BatchNorm, before its sign) and a shortcut");
  if (n.output_size() != 1) fail_node(n, "expected exactly one output");
  BinaryLayer& l = *open_;
  const bool conv = l.kind == LayerKind::Conv;
  const int h = conv ? l.h_out : 1, w = conv ? l.w_out : 1;
  if (v.c * v.copies != l.out || v.h != h * v.pool || v.w != w * v.pool)
    fail_node(n, "shapes differ: the shortcut gives " + std::to_string(v.c * v.copies) + "x" + std::to_string(v.h / v.pool) +
                     "x" + std::to_string(v.w / v.pool) + ", the layer '" + l.name + "' " + std::to_string(l.out) + "x" +
                     std::to_string(h) + "x" + std::to_string(w) +
                     " (expected equal shapes: a downsampling shortcut is AveragePool with window = stride, plus Concat copies "
                     "for more channels)");
  l.shortcut.from = v.from;
  l.shortcut.pool = v.pool;
  l.shortcut.c = v.c;
  l.shortcut.h = v.h;
  l.shortcut.w = v.w;
  stage_ = Stage::Joined;
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
  } else if (type == onnx::TensorProto::INT64 || type == onnx::TensorProto::INT32) {
    // Shape constants and indices: held as float like everything else (exact up to 2^24).
    const std::size_t width = type == onnx::TensorProto::INT64 ? 8 : 4;
    if (raw) {
      if (t.raw_data().size() != count * width) size_error();
      for (std::size_t i = 0; i < count; ++i) {
        if (width == 8) {
          int64_t v;
          std::memcpy(&v, t.raw_data().data() + i * 8, 8);
          out.data[i] = static_cast<float>(v);
        } else {
          int32_t v;
          std::memcpy(&v, t.raw_data().data() + i * 4, 4);
          out.data[i] = static_cast<float>(v);
        }
      }
    } else if (width == 8) {
      if (static_cast<std::size_t>(t.int64_data_size()) != count) size_error();
      for (std::size_t i = 0; i < count; ++i) out.data[i] = static_cast<float>(t.int64_data(static_cast<int>(i)));
    } else {
      if (static_cast<std::size_t>(t.int32_data_size()) != count) size_error();
      for (std::size_t i = 0; i < count; ++i) out.data[i] = static_cast<float>(t.int32_data(static_cast<int>(i)));
    }
  } else {
    fail("initializer '" + t.name() + "' has data type " +
         (onnx::TensorProto_DataType_IsValid(type) ? onnx::TensorProto_DataType_Name(type) : std::to_string(type)) +
         " (supported: FLOAT, INT8, INT32, INT64)");
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
  if (!aff_mul_.empty()) {  // z * m + c after BatchNorm: gamma * m, beta * m + c
    for (std::size_t o = 0; o < aff_mul_.size(); ++o) {
      l.bn_gamma[o] = static_cast<float>(l.bn_gamma[o] * aff_mul_[o]);
      l.bn_beta[o] = static_cast<float>(l.bn_beta[o] * aff_mul_[o] + aff_add_[o]);
    }
    aff_mul_.clear();
    aff_add_.clear();
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
    if (shortcut_node(n)) continue;
    // The value flowing along the chain is the first input; a constant may come first in Mul, Add, Sub.
    int vin = 0;
    if ((op == "Mul" || op == "Add" || op == "Sub") && n.input_size() == 2 && n.input(0) != current_ &&
        n.input(1) == current_ && constant(n.input(0)))
      vin = 1;
    if (n.input_size() < 1 || n.input(vin) != current_)
      fail_node(n, "expected a linear chain: first input should be '" + current_ + "'");
    if (n.output_size() != 1) fail_node(n, "expected exactly one output");
    if (op == "Shape") {
      // The value's shape with a batch of 1 (the simulator runs image by image), as a constant;
      // the chain goes on from the same value.
      consts_[n.output(0)] = shape_of(n, value_shape());
      continue;
    }
    if (op == "Identity") {
    } else if (op == "Flatten") {
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
      if (shape.data.size() != 2 || !(shape.data[1] == -1 || as_int(shape.data[1]) == elems))
        fail_node(n, "only a flatten to [N, " + std::to_string(elems) + "] is supported");
      cur_c_ = static_cast<int>(elems);
      cur_h_ = cur_w_ = 1;
      flat_ = true;
    } else if (op == "Mul" && stage_ == Stage::PreAct) {
      if (pending_bias_) fail_node(n, "a bias followed by a scale vector is not supported");
      const Tensor& a = need_constant(n, 1 - vin);
      if (a.data.size() != static_cast<std::size_t>(open_->out))
        fail_node(n, "scale vector must have one entry per output (" + std::to_string(open_->out) + ")");
      check_finite(n, n.input(1 - vin), a);
      open_->alpha = a.data;
      stage_ = Stage::Scaled;
    } else if (op == "Mul" || op == "Div" || op == "Add" || op == "Sub") {
      if (stage_ == Stage::Joined)
        fail_node(n, "after a residual Add only the sign activation is supported (put the layer's scale and "
                     "normalisation before the Add)");
      if (stage_ == Stage::Input) input_op(n, vin);
      else if (stage_ == Stage::Binary)
        fail_node(n, op + " on binary values is not supported; expected it on the graph input before its "
                          "binarisation, or after a layer (folded into its scale and offset)");
      else affine_node(n, vin);
    } else if (op == "Sign") {
      // sign(0) is 0 in ONNX but +1 here (a crossbar input is on or off); only an exact zero differs.
      binarize_node(n, 0.0f);
    } else if (op == "BipolarQuant") {
      auto scale = n.input_size() == 2 ? scalar(n.input(1)) : std::nullopt;
      if (!scale || *scale != 1.0f) fail_node(n, "activation BipolarQuant must have scale 1");
      binarize_node(n, 0.0f);
    } else if (op == "Quant") {
      bool is_signed = true;
      for (const auto& a : n.attribute())
        if (a.name() == "signed") is_signed = a.i() != 0;
      if (stage_ == Stage::Input && !is_signed) input_quant(n);
      else quant_activation(n);
    } else if (op == "Conv") {
      conv_node(n);
    } else if (op == "MaxPool") {
      maxpool_node(n);
    } else if (op == "GreaterOrEqual") {
      auto thr = n.input_size() == 2 ? scalar(n.input(1)) : std::nullopt;
      if (!thr) fail_node(n, "second input must be a scalar initializer");
      if ((stage_ == Stage::Normed || stage_ == Stage::Affine || stage_ == Stage::Joined) && *thr != 0.0f)
        fail_node(n, "the activation compare must be against 0 (sign), found " + std::to_string(*thr));
      if (stage_ != Stage::Input && stage_ != Stage::Normed && stage_ != Stage::PreAct && stage_ != Stage::Scaled &&
          stage_ != Stage::Affine && stage_ != Stage::Joined)
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
      l.input_scale = net_.layers.empty() ? input_scale_ : 1.0;
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
    // A hidden layer's ±1 output (or its max-pool): what a residual shortcut may read. A value
    // whose geometry changes (pool, flatten) is no longer the next layer's input.
    if (op == "MaxPool" || op == "Flatten" || op == "Reshape") shortcut_values_.erase(n.input(0));
    if (stage_ == Stage::Binary && !net_.layers.empty())
      shortcut_values_[current_] = {static_cast<int>(net_.layers.size()), 1, cur_c_, cur_h_, cur_w_, 1};
  }
  if (stage_ == Stage::Joined) fail("the last layer (logits) cannot take a residual Add: a residual join must be followed by a sign");
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
