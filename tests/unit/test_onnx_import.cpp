// ONNX import: models built here with the protobuf API in the project's export convention,
// then loaded; every rejection names the file, the node and op, and what is supported.
#include <gtest/gtest.h>

#include "tests/util/errors.h"
#include <unistd.h>

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/network.h"
#include "models/onnx_import.h"

namespace bayescim::models {
namespace {

namespace fs = std::filesystem;

// The tiny model: 6 inputs -> fc1 (4, sign) -> fc2 (3, logits). Weights are [in][out] as in
// the ONNX MatMul; the importer stores [out][in].
constexpr float kW1[6][4] = {{1, -1, -1, 1},  {-1, -1, 1, 1}, {1, 1, -1, -1},
                             {-1, 1, 1, -1},  {1, -1, 1, -1}, {-1, -1, -1, 1}};
constexpr float kW2[4][3] = {{1, -1, 1}, {-1, 1, 1}, {1, 1, -1}, {-1, -1, -1}};
const std::vector<float> kAlpha1 = {0.5f, 1.5f, 2.0f, 0.25f};
const std::vector<float> kGamma1 = {1.0f, 2.0f, 3.0f, 4.0f};
const std::vector<float> kBeta1 = {0.1f, -0.2f, 0.3f, -0.4f};
const std::vector<float> kMean1 = {0.5f, -1.0f, 1.5f, -2.0f};
const std::vector<float> kVar1 = {1.0f, 2.0f, 0.5f, 4.0f};
const std::vector<float> kAlpha2 = {3.0f, 1.0f, 0.75f};
const std::vector<float> kGamma2 = {0.5f, 0.25f, 2.0f};
const std::vector<float> kBeta2 = {0.0f, 1.0f, -1.0f};
const std::vector<float> kMean2 = {0.1f, 0.2f, 0.3f};
const std::vector<float> kVar2 = {9.0f, 1.0f, 0.25f};
constexpr float kInputThreshold = 0.375f;  // not the IR's default of 0.5
constexpr float kEps1 = 1e-3f;

std::vector<float> flat(const float* p, std::size_t n) { return std::vector<float>(p, p + n); }

onnx::TensorProto* add_init(onnx::GraphProto& g, const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<float>& v, bool raw = false) {
  onnx::TensorProto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  if (raw)
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  else
    for (float x : v) t->add_float_data(x);
  return t;
}

onnx::NodeProto* add_node(onnx::GraphProto& g, const std::string& op, const std::vector<std::string>& inputs,
                          const std::string& output, const std::string& name) {
  onnx::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

void add_float_attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void add_int_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void add_value_info(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, const std::string& name,
                    int64_t features) {
  onnx::ValueInfoProto* vi = list->Add();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("N");
  tt->mutable_shape()->add_dim()->set_dim_value(features);
}

void set_meta(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  for (auto& kv : *m.mutable_metadata_props())
    if (kv.key() == key) {
      kv.set_value(value);
      return;
    }
  auto* kv = m.add_metadata_props();
  kv->set_key(key);
  kv->set_value(value);
}

// One layer in the convention: MatMul -> Mul(alpha) -> BatchNormalization [-> GreaterOrEqual(0) -> Where].
std::string add_layer(onnx::GraphProto& g, const std::string& x, const std::string& name, int in, int out,
                      const std::vector<float>& w, const std::vector<float>& alpha, const std::vector<float>& gamma,
                      const std::vector<float>& beta, const std::vector<float>& mean, const std::vector<float>& var,
                      bool last, bool raw) {
  add_init(g, name + ".weight", {in, out}, w, raw);
  add_init(g, name + ".alpha", {out}, alpha);
  add_init(g, name + ".bn.gamma", {out}, gamma);
  add_init(g, name + ".bn.beta", {out}, beta, raw);
  add_init(g, name + ".bn.mean", {out}, mean);
  add_init(g, name + ".bn.var", {out}, var);
  add_node(g, "MatMul", {x, name + ".weight"}, name, name);
  add_node(g, "Mul", {name, name + ".alpha"}, name + ".scale", name + ".scale");
  const std::string bn_out = last ? "logits" : name + ".bn";
  onnx::NodeProto* bn = add_node(
      g, "BatchNormalization",
      {name + ".scale", name + ".bn.gamma", name + ".bn.beta", name + ".bn.mean", name + ".bn.var"}, bn_out,
      name + ".bn");
  if (name == "fc1") add_float_attr(*bn, "epsilon", kEps1);
  if (last) return bn_out;
  add_node(g, "GreaterOrEqual", {bn_out, "const.zero"}, name + ".act.ge", name + ".act.ge");
  add_node(g, "Where", {name + ".act.ge", "const.one", "const.minus_one"}, name + ".act", name + ".act");
  return name + ".act";
}

// The tiny valid model; fc2's weight and BN beta use raw_data, the rest float_data.
onnx::ModelProto tiny_model() {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.set_producer_name("bayescim-test");
  m.add_opset_import()->set_version(13);
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("tiny");
  add_value_info(g.mutable_input(), "input", 6);
  add_value_info(g.mutable_output(), "logits", 3);
  add_init(g, "input.threshold", {}, {kInputThreshold});
  add_init(g, "const.one", {}, {1.0f});
  add_init(g, "const.minus_one", {}, {-1.0f});
  add_init(g, "const.zero", {}, {0.0f});
  add_node(g, "GreaterOrEqual", {"input", "input.threshold"}, "input.binarize", "input.binarize");
  add_node(g, "Where", {"input.binarize", "const.one", "const.minus_one"}, "input.sign", "input.sign");
  std::string x = add_layer(g, "input.sign", "fc1", 6, 4, flat(&kW1[0][0], 24), kAlpha1, kGamma1, kBeta1, kMean1,
                            kVar1, false, false);
  add_layer(g, x, "fc2", 4, 3, flat(&kW2[0][0], 12), kAlpha2, kGamma2, kBeta2, kMean2, kVar2, true, true);
  set_meta(m, "bayescim.format", "1");
  set_meta(m, "bayescim.dropout.kind", "scale");
  set_meta(m, "bayescim.dropout.p", "0.25");
  set_meta(m, "bayescim.dropout.layers", "fc1");
  set_meta(m, "bayescim.scale.dropped_value", "0");
  return m;
}

onnx::NodeProto& node(onnx::ModelProto& m, const std::string& name) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.name() == name) return n;
  throw std::logic_error("test bug: no node '" + name + "'");
}

onnx::TensorProto& init(onnx::ModelProto& m, const std::string& name) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == name) return t;
  throw std::logic_error("test bug: no initializer '" + name + "'");
}

using bayescim::testing::Contains;

// A fresh directory per test, removed afterwards.
class OnnxImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("bayescim_onnx_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const onnx::ModelProto& m, const std::string& name = "model.onnx") const {
    const std::string p = (dir_ / name).string();
    std::ofstream out(p, std::ios::binary);
    if (!m.SerializeToOstream(&out)) throw std::runtime_error("cannot serialise the test model");
    return p;
  }
  std::string write_bytes(const std::string& bytes, const std::string& name) const {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  // Writes m, loads it (which must throw ModelError) and returns the message; path_ is the file.
  std::string error_loading(const onnx::ModelProto& m) {
    path_ = write(m);
    return error_of(path_);
  }
  static std::string error_of(const std::string& path) {
    return bayescim::testing::error_of<ModelError>([&] { load_onnx(path); });
  }

  fs::path dir_;
  std::string path_;
};

void expect_tiny_layers(const Network& net) {
  ASSERT_EQ(net.layers.size(), 2u);
  const BinaryLayer& l1 = net.layers[0];
  const BinaryLayer& l2 = net.layers[1];
  EXPECT_EQ(l1.name, "fc1");
  EXPECT_EQ(l1.in, 6);
  EXPECT_EQ(l1.out, 4);
  EXPECT_EQ(l2.name, "fc2");
  EXPECT_EQ(l2.in, 4);
  EXPECT_EQ(l2.out, 3);
  ASSERT_EQ(l1.weight.size(), 24u);
  ASSERT_EQ(l2.weight.size(), 12u);
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 6; ++i) EXPECT_EQ(l1.weight[o * 6 + i], kW1[i][o]) << "fc1 o=" << o << " i=" << i;
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 4; ++i) EXPECT_EQ(l2.weight[o * 4 + i], kW2[i][o]) << "fc2 o=" << o << " i=" << i;
  // Spot checks where the transpose matters: W1[0][3] = +1 but W1[3][0] = -1.
  EXPECT_EQ(l1.weight[3 * 6 + 0], 1);
  EXPECT_EQ(l1.weight[0 * 6 + 3], -1);
  EXPECT_EQ(l2.weight[2 * 4 + 1], 1);   // W2[1][2]
  EXPECT_EQ(l2.weight[1 * 4 + 2], 1);   // W2[2][1]
  EXPECT_EQ(l2.weight[0 * 4 + 3], -1);  // W2[3][0]
  EXPECT_EQ(l1.alpha, kAlpha1);
  EXPECT_EQ(l1.bn_gamma, kGamma1);
  EXPECT_EQ(l1.bn_beta, kBeta1);
  EXPECT_EQ(l1.bn_mean, kMean1);
  EXPECT_EQ(l1.bn_var, kVar1);
  EXPECT_FLOAT_EQ(l1.bn_eps, kEps1);
  EXPECT_EQ(l2.alpha, kAlpha2);
  EXPECT_EQ(l2.bn_gamma, kGamma2);
  EXPECT_EQ(l2.bn_beta, kBeta2);
  EXPECT_EQ(l2.bn_mean, kMean2);
  EXPECT_EQ(l2.bn_var, kVar2);
  EXPECT_FLOAT_EQ(l2.bn_eps, 1e-5f);  // ONNX's default when the attribute is absent
  EXPECT_TRUE(l1.sign_activation);
  EXPECT_FALSE(l2.sign_activation);
}

// ---------------------------------------------------------------------------------------------
// Valid models

TEST_F(OnnxImportTest, LoadsATinyTwoLayerModel) {
  const std::string path = write(tiny_model());
  const Network net = load_onnx(path);
  EXPECT_EQ(net.source, path);
  EXPECT_EQ(net.input_size, 6);
  EXPECT_EQ(net.classes, 3);
  EXPECT_FLOAT_EQ(net.input_threshold, kInputThreshold);
  expect_tiny_layers(net);
  EXPECT_EQ(net.binary_macs_per_sample(), 6u * 4 + 4u * 3);

  // Dropout from metadata_props.
  EXPECT_EQ(net.dropout.kind, DropoutKind::Scale);
  EXPECT_DOUBLE_EQ(net.dropout.p, 0.25);
  EXPECT_EQ(net.dropout.layers, std::vector<std::string>{"fc1"});
  EXPECT_DOUBLE_EQ(net.dropout.scale_dropped_value, 0.0);
  EXPECT_TRUE(net.layers[0].dropout);
  EXPECT_FALSE(net.layers[1].dropout);
  EXPECT_EQ(net.dropout_layers(), 1);
  EXPECT_EQ(net.metadata.at("bayescim.format"), "1");
  EXPECT_EQ(net.metadata.at("bayescim.dropout.p"), "0.25");
}

TEST_F(OnnxImportTest, DropoutOnSeveralLayersAndDroppedValueOne) {
  onnx::ModelProto m = tiny_model();
  set_meta(m, "bayescim.dropout.layers", "fc1,fc2");
  set_meta(m, "bayescim.scale.dropped_value", "1");
  set_meta(m, "bayescim.dropout.p", "0.5");
  const Network net = load_onnx(write(m));
  EXPECT_EQ(net.dropout.layers, (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_TRUE(net.layers[0].dropout);
  EXPECT_TRUE(net.layers[1].dropout);
  EXPECT_DOUBLE_EQ(net.dropout.p, 0.5);
  EXPECT_DOUBLE_EQ(net.dropout.scale_dropped_value, 1.0);
  EXPECT_EQ(net.dropout_layers(), 2);
}

TEST_F(OnnxImportTest, NoMetadataMeansNoDropout) {
  onnx::ModelProto m = tiny_model();
  m.clear_metadata_props();
  const Network net = load_onnx(write(m));
  EXPECT_EQ(net.dropout.kind, DropoutKind::None);
  EXPECT_EQ(net.dropout_layers(), 0);
  EXPECT_TRUE(net.metadata.empty());
  expect_tiny_layers(net);
}

TEST_F(OnnxImportTest, GemmWithTransBIsEquivalentToMatMul) {
  onnx::ModelProto m = tiny_model();
  // fc1 as Gemm(transB=1) with the weight stored [out][in], and an all-zero bias.
  onnx::NodeProto& fc1 = node(m, "fc1");
  fc1.set_op_type("Gemm");
  add_int_attr(fc1, "transB", 1);
  add_float_attr(fc1, "alpha", 1.0f);
  add_float_attr(fc1, "beta", 1.0f);
  fc1.add_input("fc1.bias");
  add_init(*m.mutable_graph(), "fc1.bias", {4}, {0, 0, 0, 0});
  onnx::TensorProto& w = init(m, "fc1.weight");
  w.clear_dims();
  w.add_dims(4);
  w.add_dims(6);
  w.clear_float_data();
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 6; ++i) w.add_float_data(kW1[i][o]);
  // fc2 as Gemm without transB (weight stays [in][out]).
  node(m, "fc2").set_op_type("Gemm");

  const Network gemm = load_onnx(write(m, "gemm.onnx"));
  const Network matmul = load_onnx(write(tiny_model(), "matmul.onnx"));
  expect_tiny_layers(gemm);
  ASSERT_EQ(gemm.layers.size(), matmul.layers.size());
  for (std::size_t k = 0; k < gemm.layers.size(); ++k) {
    EXPECT_EQ(gemm.layers[k].weight, matmul.layers[k].weight) << k;
    EXPECT_EQ(gemm.layers[k].in, matmul.layers[k].in) << k;
    EXPECT_EQ(gemm.layers[k].out, matmul.layers[k].out) << k;
  }
}

TEST_F(OnnxImportTest, Int8WeightsAccepted) {
  onnx::ModelProto m = tiny_model();
  onnx::TensorProto& w = init(m, "fc1.weight");
  w.set_data_type(onnx::TensorProto::INT8);
  w.clear_float_data();
  for (int i = 0; i < 6; ++i)
    for (int o = 0; o < 4; ++o) w.add_int32_data(static_cast<int>(kW1[i][o]));
  onnx::TensorProto& w2 = init(m, "fc2.weight");  // raw INT8
  w2.set_data_type(onnx::TensorProto::INT8);
  std::string raw;
  for (int i = 0; i < 4; ++i)
    for (int o = 0; o < 3; ++o) raw.push_back(static_cast<char>(static_cast<int8_t>(kW2[i][o])));
  w2.set_raw_data(raw);
  expect_tiny_layers(load_onnx(write(m)));
}

TEST_F(OnnxImportTest, LayerWithoutScaleOrBatchNormGetsIdentities) {
  onnx::ModelProto m = tiny_model();
  // fc2: MatMul straight to the output.
  auto* nodes = m.mutable_graph()->mutable_node();
  nodes->erase(nodes->end() - 2, nodes->end());  // fc2.scale, fc2.bn
  node(m, "fc2").set_output(0, "logits");
  const Network net = load_onnx(write(m));
  ASSERT_EQ(net.layers.size(), 2u);
  const BinaryLayer& l2 = net.layers[1];
  EXPECT_EQ(l2.alpha, std::vector<float>(3, 1.0f));
  EXPECT_EQ(l2.bn_gamma, std::vector<float>(3, 1.0f));
  EXPECT_EQ(l2.bn_beta, std::vector<float>(3, 0.0f));
  EXPECT_EQ(l2.bn_mean, std::vector<float>(3, 0.0f));
  for (float v : l2.bn_var) EXPECT_FLOAT_EQ(v + l2.bn_eps, 1.0f);
}

// ---------------------------------------------------------------------------------------------
// Unsupported graphs

TEST_F(OnnxImportTest, RejectsUnsupportedOps) {
  {
    onnx::ModelProto m = tiny_model();
    node(m, "fc1").set_op_type("ConvTranspose");
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": "));
    EXPECT_TRUE(Contains(msg, "node 'fc1' (ConvTranspose): unsupported op"));
    EXPECT_TRUE(Contains(msg, "supported: GreaterOrEqual, Where, Sign, BipolarQuant, Quant (1-bit, k-bit input), MatMul, Gemm, Conv"));
  }
  {
    onnx::ModelProto m = tiny_model();  // a Conv on a flat [N, features] value
    node(m, "fc1").set_op_type("Conv");
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, "node 'fc1' (Conv): Conv needs a [N, C, H, W] input, but the value is flat"));
  }
  {
    onnx::ModelProto m = tiny_model();
    onnx::NodeProto& act = node(m, "fc1.act");  // the hidden sign becomes a Relu
    act.set_op_type("Relu");
    act.clear_input();
    act.add_input("fc1.bn");
    m.mutable_graph()->mutable_node()->erase(m.mutable_graph()->mutable_node()->begin() + 5);  // fc1.act.ge
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": "));
    EXPECT_TRUE(Contains(msg, "node 'fc1.act' (Relu): unsupported op (supported: GreaterOrEqual, Where"));
  }
}

TEST_F(OnnxImportTest, RejectsAConstantNodeWithoutAValue) {
  onnx::ModelProto m = tiny_model();
  onnx::NodeProto* c = m.mutable_graph()->add_node();
  c->set_op_type("Constant");
  c->set_name("k");
  c->add_output("k.out");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'k' (Constant): only Constant nodes with a 'value' tensor are supported"));
}

TEST_F(OnnxImportTest, RejectsNonBinaryWeights) {
  onnx::ModelProto m = tiny_model();
  init(m, "fc1.weight").set_float_data(9, 0.5f);  // W1[2][1]
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1' (MatMul): weights must be exactly +1 or -1"));
  EXPECT_TRUE(Contains(msg, "found 0.5"));
}

TEST_F(OnnxImportTest, RejectsAScaleThatIsNotPerOutput) {
  for (const std::vector<float>& alpha : {std::vector<float>{1.0f, 2.0f, 3.0f}, std::vector<float>{2.0f}}) {
    SCOPED_TRACE(alpha.size());
    onnx::ModelProto m = tiny_model();
    onnx::TensorProto& a = init(m, "fc1.alpha");
    a.clear_dims();
    a.add_dims(static_cast<int64_t>(alpha.size()));
    a.clear_float_data();
    for (float v : alpha) a.add_float_data(v);
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1.scale' (Mul): scale vector must have one entry per output (4)"));
  }
}

TEST_F(OnnxImportTest, RejectsWhereSelectingOtherThanPlusMinusOne) {
  for (const std::string where : {"input.sign", "fc1.act"}) {
    SCOPED_TRACE(where);
    onnx::ModelProto m = tiny_model();
    node(m, where).set_input(2, "const.zero");  // selects +1 / 0
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '" + where + "' (Where): "));
    EXPECT_TRUE(Contains(msg, "binarisation must select +1 (true) and -1 (false) scalar initializers"));
  }
}

TEST_F(OnnxImportTest, RejectsAHiddenCompareAgainstNonZero) {
  onnx::ModelProto m = tiny_model();
  node(m, "fc1.act.ge").set_input(1, "input.threshold");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1.act.ge' (GreaterOrEqual): "));
  EXPECT_TRUE(Contains(msg, "the activation compare must be against 0 (sign), found 0.375"));
}

TEST_F(OnnxImportTest, RejectsACompareAgainstANonScalar) {
  onnx::ModelProto m = tiny_model();
  node(m, "input.binarize").set_input(1, "fc1.alpha");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'input.binarize' (GreaterOrEqual): "));
  EXPECT_TRUE(Contains(msg, "second input must be a scalar initializer"));
}

TEST_F(OnnxImportTest, RejectsABiasBeforeAScaleVector) {
  onnx::ModelProto m = tiny_model();
  onnx::NodeProto& fc2 = node(m, "fc2");
  fc2.set_op_type("Gemm");
  fc2.add_input("fc2.bias");
  add_init(*m.mutable_graph(), "fc2.bias", {3}, {0.0f, 0.5f, 0.0f});
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc2.scale' (Mul): a bias followed by a scale vector is not supported"));
}

TEST_F(OnnxImportTest, RejectsUnsupportedGemmAttributes) {
  {
    onnx::ModelProto m = tiny_model();
    onnx::NodeProto& fc1 = node(m, "fc1");
    fc1.set_op_type("Gemm");
    add_int_attr(fc1, "transA", 1);
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1' (Gemm): unsupported attribute 'transA'"));
    EXPECT_TRUE(Contains(msg, "(supported: transB, alpha=1, beta=1)"));
  }
  {
    onnx::ModelProto m = tiny_model();
    onnx::NodeProto& fc1 = node(m, "fc1");
    fc1.set_op_type("Gemm");
    add_float_attr(fc1, "alpha", 2.0f);
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1' (Gemm): unsupported attribute 'alpha'"));
  }
  {
    onnx::ModelProto m = tiny_model();
    add_int_attr(node(m, "fc1"), "transB", 1);
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1' (MatMul): unsupported attribute 'transB' (MatMul takes none)"));
  }
}

TEST_F(OnnxImportTest, RejectsBatchNormInTrainingMode) {
  onnx::ModelProto m = tiny_model();
  add_int_attr(node(m, "fc2.bn"), "training_mode", 1);
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc2.bn' (BatchNormalization): unsupported attribute 'training_mode'"));
  EXPECT_TRUE(Contains(msg, "(supported: epsilon, momentum)"));
}

TEST_F(OnnxImportTest, RejectsABinaryLayerOnAnUnbinarisedInput) {
  onnx::ModelProto m = tiny_model();
  auto* nodes = m.mutable_graph()->mutable_node();
  nodes->erase(nodes->begin(), nodes->begin() + 2);  // drop the input binarisation
  node(m, "fc1").set_input(0, "input");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc1' (MatMul): a binary layer's input must be binarised (+1/-1) first"));
}

TEST_F(OnnxImportTest, RejectsABrokenChain) {
  onnx::ModelProto m = tiny_model();
  node(m, "fc2").set_input(0, "fc1.bn");  // skips fc1's sign
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc2' (MatMul): expected a linear chain: first input should be 'fc1.act'"));
}

TEST_F(OnnxImportTest, RejectsAGraphOutputThatIsNotTheLogits) {
  onnx::ModelProto m = tiny_model();
  m.mutable_graph()->mutable_output(0)->set_name("fc1.bn");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": the graph output must be the last layer's logits ('logits')"));
}

TEST_F(OnnxImportTest, RejectsALayerSizeMismatch) {
  onnx::ModelProto m = tiny_model();
  onnx::TensorProto& w = init(m, "fc2.weight");  // [5, 3]: fc1 gives only 4
  w.set_dims(0, 5);
  std::vector<float> v(15, 1.0f);
  w.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node 'fc2' (MatMul): weight expects 5 inputs, the previous value has 4"));
}

// ---------------------------------------------------------------------------------------------
// Metadata

TEST_F(OnnxImportTest, RejectsAnUnknownDropoutKind) {
  onnx::ModelProto m = tiny_model();
  set_meta(m, "bayescim.dropout.kind", "gaussian");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": metadata 'bayescim.dropout.kind': "));
  EXPECT_TRUE(Contains(msg, "unknown dropout kind 'gaussian' (allowed: none, mc_dropout, spatial, scale)"));
}

TEST_F(OnnxImportTest, RejectsADropoutLayerThatDoesNotExist) {
  onnx::ModelProto m = tiny_model();
  set_meta(m, "bayescim.dropout.layers", "fc1,fc9");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": dropout layer 'fc9' is not a layer of the model (layers: fc1, fc2)"));
  EXPECT_TRUE(Contains(msg, "(from metadata_props)"));
}

TEST_F(OnnxImportTest, RejectsADropoutPThatIsNotANumber) {
  for (const std::string bad : {"abc", "", "0.2x", "nan", "inf"}) {
    SCOPED_TRACE(bad);
    onnx::ModelProto m = tiny_model();
    set_meta(m, "bayescim.dropout.p", bad);
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": metadata 'bayescim.dropout.p' = '" + bad + "' is not a number"));
  }
  onnx::ModelProto m = tiny_model();
  set_meta(m, "bayescim.scale.dropped_value", "one");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": metadata 'bayescim.scale.dropped_value' = 'one' is not a number"));
}

TEST_F(OnnxImportTest, RejectsADropoutPOutOfRange) {
  onnx::ModelProto m = tiny_model();
  set_meta(m, "bayescim.dropout.p", "1.5");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": dropout p must be in [0, 1]"));
  EXPECT_TRUE(Contains(msg, "(from metadata_props)"));
}

// ---------------------------------------------------------------------------------------------
// Bad files

TEST_F(OnnxImportTest, RejectsACorruptFile) {
  std::mt19937 rng(12345);
  std::string bytes(2048, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  const std::string path = write_bytes(bytes, "corrupt.onnx");
  const std::string msg = error_of(path);
  EXPECT_TRUE(Contains(msg, path + ": not a valid ONNX protobuf (corrupt or truncated file)"));
}

TEST_F(OnnxImportTest, RejectsATruncatedFile) {
  std::string bytes;
  ASSERT_TRUE(tiny_model().SerializeToString(&bytes));
  const std::string path = write_bytes(bytes.substr(0, bytes.size() / 2), "half.onnx");
  const std::string msg = error_of(path);
  EXPECT_TRUE(Contains(msg, path + ": not a valid ONNX protobuf (corrupt or truncated file)"));
}

TEST_F(OnnxImportTest, RejectsAnEmptyFile) {
  const std::string path = write_bytes("", "empty.onnx");
  const std::string msg = error_of(path);
  EXPECT_TRUE(Contains(msg, path + ": file is empty, expected an ONNX model"));
}

TEST_F(OnnxImportTest, RejectsAModelWithoutNodes) {
  onnx::ModelProto m = tiny_model();
  m.mutable_graph()->clear_node();
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": the ONNX model has no graph nodes"));
}

TEST_F(OnnxImportTest, RejectsADirectory) {
  const std::string msg = error_of(dir_.string());
  EXPECT_TRUE(Contains(msg, dir_.string() + ": is a directory, expected an .onnx file"));
}

TEST_F(OnnxImportTest, RejectsAMissingFile) {
  const std::string path = (dir_ / "nope.onnx").string();
  const std::string msg = error_of(path);
  EXPECT_TRUE(Contains(msg, path + ": file does not exist"));
}

TEST_F(OnnxImportTest, RejectsAnInitializerShorterThanItsShape) {
  {
    onnx::ModelProto m = tiny_model();
    onnx::TensorProto& w = init(m, "fc2.weight");  // raw_data: 12 floats, cut to 11 and a half
    w.set_raw_data(w.raw_data().substr(0, 46));
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": initializer 'fc2.weight' holds fewer values than its shape needs"));
  }
  {
    onnx::ModelProto m = tiny_model();
    init(m, "fc1.bn.var").mutable_float_data()->RemoveLast();
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": initializer 'fc1.bn.var' holds fewer values than its shape needs"));
  }
}

TEST_F(OnnxImportTest, RejectsAnUnsupportedDataType) {
  onnx::ModelProto m = tiny_model();
  init(m, "fc1.alpha").set_data_type(onnx::TensorProto::DOUBLE);
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": initializer 'fc1.alpha' has data type"));
  EXPECT_TRUE(Contains(msg, "(supported: FLOAT, INT8, INT32, INT64)"));
}


// ---------------------------------------------------------------------------------------------
// QONNX / Brevitas exports (scripts/qonnx_export.py writes real ones; tests/python/test_qonnx.py)

onnx::TensorProto* add_int64_init(onnx::GraphProto& g, const std::string& name, const std::vector<int64_t>& dims,
                                  const std::vector<int64_t>& v, bool raw) {
  onnx::TensorProto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (auto d : dims) t->add_dims(d);
  if (raw)
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
  else
    for (int64_t x : v) t->add_int64_data(x);
  return t;
}

void add_ints_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

// The tiny network as Brevitas writes it: input [1, 1, 2, 3] (batch 1), every initializer also a
// graph input, flatten by Shape -> Gather -> Unsqueeze -> Concat -> Reshape (INT64), Mul(2),
// Sub(1), BipolarQuant, MatMul(x, Transpose(BipolarQuant(W))), BatchNormalization with momentum,
// and the last layer's per-tensor normalisation Sub, Pow, Div, Mul, Add. Opset 9 puts Unsqueeze's
// axes in an attribute, opset 13 in an input.
onnx::ModelProto brevitas_model(int opset, const std::string& domain = "onnx.brevitas") {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(opset);
  auto* d = m.add_opset_import();
  d->set_domain(domain);
  d->set_version(1);
  onnx::GraphProto& g = *m.mutable_graph();
  onnx::ValueInfoProto* in = g.add_input();
  in->set_name("global_in");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t v : {1, 1, 2, 3}) tt->mutable_shape()->add_dim()->set_dim_value(v);
  add_value_info(g.mutable_output(), "global_out", 3);
  // Weights [out][in] as torch stores them, of varied magnitude (BipolarQuant keeps the sign; 0 -> +1).
  std::vector<float> w1, w2;
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 6; ++i) w1.push_back(kW1[i][o] > 0 ? (o + i == 3 ? 0.0f : 0.1f * (i + 1)) : -0.3f * (o + 1));
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 4; ++i) w2.push_back(kW2[i][o] * 0.7f);
  add_init(g, "w1", {4, 6}, w1, true);
  add_init(g, "w2", {3, 4}, w2);
  add_init(g, "one", {}, {1.0f});
  add_init(g, "two", {}, {2.0f});
  add_init(g, "one1", {1}, {1.0f});
  add_init(g, "bn.gamma", {4}, kGamma1);
  add_init(g, "bn.beta", {4}, kBeta1);
  add_init(g, "bn.mean", {4}, kMean1);
  add_init(g, "bn.var", {4}, kVar1);
  add_init(g, "tn.mean", {1}, {0.5f});
  add_init(g, "tn.var", {1}, {4.0f});
  add_init(g, "tn.half", {}, {0.5f});
  add_init(g, "tn.weight", {1}, {1.5f});
  add_init(g, "tn.bias", {1}, {-0.25f});
  add_int64_init(g, "idx0", {}, {0}, true);
  add_int64_init(g, "minus1", {1}, {-1}, false);
  for (const auto& t : g.initializer()) {  // initializers listed among the inputs
    onnx::ValueInfoProto* vi = g.add_input();
    vi->set_name(t.name());
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(t.data_type());
  }
  add_node(g, "Shape", {"global_in"}, "shape", "/Shape");
  add_node(g, "Gather", {"shape", "idx0"}, "batch", "/Gather");
  if (opset >= 13) {
    add_int64_init(g, "axes0", {1}, {0}, true);
    add_node(g, "Unsqueeze", {"batch", "axes0"}, "batch1", "/Unsqueeze");
  } else {
    add_ints_attr(*add_node(g, "Unsqueeze", {"batch"}, "batch1", "/Unsqueeze"), "axes", {0});
  }
  add_int_attr(*add_node(g, "Concat", {"batch1", "minus1"}, "target", "/Concat"), "axis", 0);
  add_node(g, "Reshape", {"global_in", "target"}, "flat", "/Reshape");
  add_node(g, "Mul", {"flat", "two"}, "x2", "/Mul");
  add_node(g, "Sub", {"x2", "one1"}, "xc", "/Sub");
  add_node(g, "BipolarQuant", {"xc", "one"}, "xb", "/in_quant/BipolarQuant")->set_domain(domain);
  add_node(g, "BipolarQuant", {"w1", "one"}, "w1q", "/w1_quant/BipolarQuant")->set_domain(domain);
  add_ints_attr(*add_node(g, "Transpose", {"w1q"}, "w1t", "/Transpose"), "perm", {1, 0});
  add_node(g, "MatMul", {"xb", "w1t"}, "a1", "/fc1/MatMul");
  onnx::NodeProto* bn = add_node(g, "BatchNormalization", {"a1", "bn.gamma", "bn.beta", "bn.mean", "bn.var"}, "z1", "/bn/BN");
  add_float_attr(*bn, "epsilon", kEps1);
  add_float_attr(*bn, "momentum", 0.1f);
  add_node(g, "BipolarQuant", {"z1", "one"}, "h1", "/act/BipolarQuant")->set_domain(domain);
  add_node(g, "BipolarQuant", {"w2", "one"}, "w2q", "/w2_quant/BipolarQuant")->set_domain(domain);
  add_ints_attr(*add_node(g, "Transpose", {"w2q"}, "w2t", "/Transpose_1"), "perm", {1, 0});
  add_node(g, "MatMul", {"h1", "w2t"}, "a2", "/fc2/MatMul");
  add_node(g, "Sub", {"a2", "tn.mean"}, "t1", "/tn/Sub");
  add_node(g, "Pow", {"tn.var", "tn.half"}, "tn.sd", "/tn/Pow");
  add_node(g, "Div", {"t1", "tn.sd"}, "t2", "/tn/Div");
  add_node(g, "Mul", {"t2", "tn.weight"}, "t3", "/tn/Mul");
  add_node(g, "Add", {"t3", "tn.bias"}, "global_out", "/tn/Add");
  return m;
}

TEST_F(OnnxImportTest, FoldsABrevitasExportInOpset9And13) {
  for (int opset : {9, 13}) {
    for (const std::string domain : {"onnx.brevitas", "qonnx.custom_op.general"}) {
      SCOPED_TRACE(std::to_string(opset) + " " + domain);
      const Network net = load_onnx(write(brevitas_model(opset, domain)));
      EXPECT_EQ(net.input_size, 6);
      EXPECT_EQ(net.input_c, 1);  // [1, 2, 3] flattened by the Reshape
      EXPECT_EQ(net.input_h, 2);
      EXPECT_EQ(net.input_w, 3);
      EXPECT_EQ(net.input_threshold, 0.5f);  // 2x - 1 >= 0, exactly
      ASSERT_EQ(net.layers.size(), 2u);
      const BinaryLayer& l1 = net.layers[0];
      const BinaryLayer& l2 = net.layers[1];
      EXPECT_EQ(l1.name, "/fc1/MatMul");
      EXPECT_EQ(l2.name, "/fc2/MatMul");
      for (int o = 0; o < 4; ++o)
        for (int i = 0; i < 6; ++i) EXPECT_EQ(l1.weight[o * 6 + i], kW1[i][o]) << "fc1 o=" << o << " i=" << i;
      for (int o = 0; o < 3; ++o)
        for (int i = 0; i < 4; ++i) EXPECT_EQ(l2.weight[o * 4 + i], kW2[i][o]) << "fc2 o=" << o << " i=" << i;
      EXPECT_EQ(l1.bn_gamma, kGamma1);
      EXPECT_EQ(l1.bn_mean, kMean1);
      EXPECT_FLOAT_EQ(l1.bn_eps, kEps1);
      EXPECT_EQ(l1.alpha, std::vector<float>(4, 1.0f));
      // ((a - 0.5) / 4^0.5) * 1.5 - 0.25 = 0.75 a - 0.625, on an identity BatchNorm.
      EXPECT_EQ(l2.bn_gamma, std::vector<float>(3, 0.75f));
      EXPECT_EQ(l2.bn_beta, std::vector<float>(3, -0.625f));
      EXPECT_EQ(l2.bn_mean, std::vector<float>(3, 0.0f));
      EXPECT_FALSE(l2.sign_activation);
      EXPECT_EQ(net.classes, 3);
    }
  }
}

// v(x) = fl(fl(x * s) - c) evaluated as the graph does, one float32 rounding per op.
float preprocess(float x, float s, float c) {
  volatile float v = x;
  v = v * s;
  v = v - c;
  return v;
}

TEST_F(OnnxImportTest, InputPreprocessingFoldsIntoAnExactFloat32Threshold) {
  // A scale and offset whose quotient is not a float: the threshold is the least float32 input
  // whose preprocessed value is >= 0, so the importer's compare agrees with the graph everywhere.
  for (const auto& [s, c] : std::vector<std::pair<float, float>>{{3.0f, 1.2f}, {2.0f, 1.0f}, {255.0f, 127.5f}, {0.7f, 0.1f}}) {
    SCOPED_TRACE(std::to_string(s) + " " + std::to_string(c));
    onnx::ModelProto m = brevitas_model(13);
    init(m, "two").set_float_data(0, s);
    init(m, "one1").set_float_data(0, c);
    const float t = load_onnx(write(m)).input_threshold;
    EXPECT_GE(preprocess(t, s, c), 0.0f);
    EXPECT_LT(preprocess(std::nextafter(t, -1.0f), s, c), 0.0f);
    for (int p = 0; p < 256; ++p) {  // every pixel the simulator feeds
      const float x = static_cast<float>(p) / 255.0f;
      EXPECT_EQ(x >= t, preprocess(x, s, c) >= 0.0f) << p;
    }
  }
  // A lone offset stays the offset itself (the plain-export path, Sub then Sign).
  onnx::ModelProto m = brevitas_model(13);
  auto* nodes = m.mutable_graph()->mutable_node();
  for (auto& n : *nodes)
    if (n.name() == "/Sub") n.set_input(0, "flat");
  for (int i = 0; i < nodes->size(); ++i)
    if (nodes->Get(i).name() == "/Mul") nodes->DeleteSubrange(i, 1);
  init(m, "one1").set_float_data(0, 0.375f);
  EXPECT_EQ(load_onnx(write(m, "sub.onnx")).input_threshold, 0.375f);
}

TEST_F(OnnxImportTest, RejectsANegativeInputScale) {
  onnx::ModelProto m = brevitas_model(9);
  init(m, "two").set_float_data(0, -2.0f);
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node '/Mul' (Mul): the input's scale is -2, expected a positive number"));
}

TEST_F(OnnxImportTest, OneBitQuantIsBipolarOnWeightsAndActivations) {
  onnx::ModelProto m = brevitas_model(13, "qonnx.custom_op.general");
  onnx::GraphProto& g = *m.mutable_graph();
  add_init(g, "zero", {}, {0.0f});
  for (auto& n : *g.mutable_node()) {
    if (n.op_type() != "BipolarQuant") continue;
    n.set_op_type("Quant");  // x, scale, zero point, bit width (an input tensor)
    n.add_input("zero");
    n.add_input("one");
    add_int_attr(n, "signed", 1);
    add_int_attr(n, "narrow", 0);
  }
  const Network q = load_onnx(write(m, "quant.onnx"));
  const Network b = load_onnx(write(brevitas_model(13), "bipolar.onnx"));
  ASSERT_EQ(q.layers.size(), 2u);
  EXPECT_EQ(q.input_threshold, b.input_threshold);
  for (int k = 0; k < 2; ++k) EXPECT_EQ(q.layers[k].weight, b.layers[k].weight) << k;
}

TEST_F(OnnxImportTest, RejectsTwoBitQuantByNodeAndBitWidth) {
  auto quant = [](onnx::ModelProto& m, const std::string& name, float bits, int64_t is_signed) {
    onnx::GraphProto& g = *m.mutable_graph();
    add_init(g, "zero", {}, {0.0f});
    add_init(g, "bits", {}, {bits});
    onnx::NodeProto& n = node(m, name);
    n.set_op_type("Quant");
    n.add_input("zero");
    n.add_input("bits");
    add_int_attr(n, "signed", is_signed);
  };
  {
    onnx::ModelProto m = brevitas_model(13);
    quant(m, "/w1_quant/BipolarQuant", 2.0f, 1);  // w1 holds 0.1 .. 0.6 and -0.3 .. -1.2: levels 0 and +-1
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '/w1_quant/BipolarQuant' (Quant): weights quantised to 2 bits (signed) "
                                      "are not binary (level 0 at index 0); only binary weights are supported"));
  }
  {
    onnx::ModelProto m = brevitas_model(13);
    quant(m, "/act/BipolarQuant", 2.0f, 1);
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '/act/BipolarQuant' (Quant): activations quantised to 2 bits are not "
                                      "binary; only 1-bit activations are supported"));
  }
  {
    onnx::ModelProto m = brevitas_model(13);
    quant(m, "/act/BipolarQuant", 1.0f, 0);  // on the graph input it is a 1-bit input (ImportsKBitInputQuant)
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '/act/BipolarQuant' (Quant): a 1-bit unsigned Quant gives 0/1, "
                                      "expected bipolar +1/-1 activations"));
  }
}

// The k-bit unsigned input Quant (models/README.md): tiny_model's input binarisation replaced by
// `pre` then Quant(scale, zero point 0, bits, signed 0); returns the model.
onnx::ModelProto kbit_model(float factor, float scale, float bits, float zero = 0.0f) {
  onnx::ModelProto m = tiny_model();
  onnx::GraphProto& g = *m.mutable_graph();
  add_init(g, "in.factor", {}, {factor});
  add_init(g, "in.scale", {}, {scale});
  add_init(g, "in.zero", {}, {zero});
  add_init(g, "in.bits", {}, {bits});
  onnx::NodeProto& mul = node(m, "input.binarize");
  mul.set_op_type("Mul");
  mul.set_input(1, "in.factor");
  mul.set_output(0, "in.levels");
  onnx::NodeProto& q = node(m, "input.sign");
  q.set_op_type("Quant");
  q.set_domain("qonnx.custom_op.general");
  q.clear_input();
  for (const char* i : {"in.levels", "in.scale", "in.zero", "in.bits"}) q.add_input(i);
  add_int_attr(q, "signed", 0);
  return m;
}

TEST_F(OnnxImportTest, ImportsKBitInputQuant) {
  {  // the bayescim convention: Mul by 2^k - 1, then Quant with scale 1: q = round(pixel (2^k - 1) / 255)
    for (int k : {1, 4, 8}) {
      const Network net = load_onnx(write(kbit_model(static_cast<float>((1 << k) - 1), 1.0f, static_cast<float>(k))));
      EXPECT_EQ(net.input_bits, k);
      EXPECT_EQ(net.layers[0].input_scale, 1.0);
      for (int p = 0; p < 256; ++p)  // round half up = half to even here: pixel (2^k - 1) / 255 is never a tie
        ASSERT_EQ(net.input_levels[static_cast<std::size_t>(p)], (2 * p * ((1 << k) - 1) + 255) / 510) << "k " << k << " pixel " << p;
    }
  }
  {  // Brevitas-style: no Mul, Quant with scale 1/255 (dequantised values pixel/255): q = pixel, scale kept
    const float s = 1.0f / 255.0f;
    const Network net = load_onnx(write(kbit_model(1.0f, s, 8.0f)));
    for (int p = 0; p < 256; ++p) ASSERT_EQ(net.input_levels[static_cast<std::size_t>(p)], p);
    EXPECT_EQ(net.layers[0].input_scale, static_cast<double>(s));
    EXPECT_EQ(net.layers[1].input_scale, 1.0);
  }
  {  // clipping: 4 bits of pixel/255 * 255 saturate at 15
    const Network net = load_onnx(write(kbit_model(255.0f, 1.0f, 4.0f)));
    EXPECT_EQ(net.input_levels[10], 10);
    EXPECT_EQ(net.input_levels[15], 15);
    EXPECT_EQ(net.input_levels[200], 15);
  }
  {
    const std::string msg = error_loading(kbit_model(255.0f, 1.0f, 9.0f));
    EXPECT_TRUE(Contains(msg, path_ + ": node 'input.sign' (Quant): the input is quantised to 9 bits; the first layer "
                                      "reads unsigned inputs of 1 to 8 bits bit-serially"));
  }
  {
    const std::string msg = error_loading(kbit_model(255.0f, 1.0f, 8.0f, 3.0f));
    EXPECT_TRUE(Contains(msg, path_ + ": node 'input.sign' (Quant): input Quant has zero point 3, expected 0"));
  }
  {
    onnx::ModelProto m = kbit_model(255.0f, 1.0f, 8.0f);
    auto* a = node(m, "input.sign").add_attribute();
    a->set_name("rounding_mode");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("HALF_UP");
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node 'input.sign' (Quant): rounding_mode 'HALF_UP' is not supported "
                                      "(supported: ROUND, FLOOR, CEIL)"));
  }
}

TEST_F(OnnxImportTest, FoldsAPerChannelAffineAfterBatchNorm) {
  onnx::ModelProto m = tiny_model();
  onnx::GraphProto& g = *m.mutable_graph();
  node(m, "fc2.bn").set_output(0, "fc2.bn");
  add_init(g, "k.mul", {1, 3}, {2.0f, -1.0f, 0.5f});
  add_init(g, "k.add", {1}, {0.25f});
  add_node(g, "Mul", {"k.mul", "fc2.bn"}, "fc2.m", "fc2.m");  // the constant first
  add_node(g, "Sub", {"fc2.m", "k.add"}, "logits", "fc2.s");
  const Network net = load_onnx(write(m));
  const BinaryLayer& l2 = net.layers[1];
  for (int o = 0; o < 3; ++o) {
    const float k = std::vector<float>{2.0f, -1.0f, 0.5f}[o];
    EXPECT_FLOAT_EQ(l2.bn_gamma[o], kGamma2[o] * k) << o;
    EXPECT_FLOAT_EQ(l2.bn_beta[o], kBeta2[o] * k - 0.25f) << o;
  }
  EXPECT_EQ(l2.alpha, kAlpha2);  // the scale vector (Scale-Dropout's alpha) is untouched
  EXPECT_EQ(l2.bn_mean, kMean2);
}

TEST_F(OnnxImportTest, RejectsAnAffineConstantOfAnotherShape) {
  onnx::ModelProto m = brevitas_model(9);
  onnx::TensorProto& w = init(m, "tn.weight");
  w.set_dims(0, 4);
  for (int i = 0; i < 3; ++i) w.add_float_data(1.0f);
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node '/tn/Mul' (Mul): constant 'tn.weight' has shape [4], expected one value "
                                    "or one per output (3, as [1, C] or [C])"));
}

TEST_F(OnnxImportTest, RejectsShapeArithmeticItCannotFold) {
  {
    onnx::ModelProto m = brevitas_model(9);
    onnx::TensorProto& idx = init(m, "idx0");
    int64_t seven = 7;
    idx.set_raw_data(std::string(reinterpret_cast<const char*>(&seven), 8));
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '/Gather' (Gather): index 7 is out of range, expected an integer in [-4, 3]"));
  }
  {
    onnx::ModelProto m = brevitas_model(9);  // the Reshape then gets [1, 1, -1]
    add_int64_init(*m.mutable_graph(), "one64", {1}, {1}, false);
    node(m, "/Concat").add_input("one64");
    node(m, "/Concat").set_input(1, "one64");
    node(m, "/Concat").set_input(2, "minus1");
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '/Reshape' (Reshape): only a flatten to [N, 6] is supported"));
  }
  {
    onnx::ModelProto m = brevitas_model(9);
    node(m, "/tn/Pow").set_op_type("Relu");  // on constants, but not foldable: an unsupported op
    const std::string msg = error_loading(m);
    EXPECT_TRUE(Contains(msg, path_ + ": node '/tn/Pow' (Relu): "));
  }
}

TEST_F(OnnxImportTest, UnsupportedOpsListWhatIsSupported) {
  onnx::ModelProto m = brevitas_model(13);
  node(m, "/act/BipolarQuant").set_op_type("Relu");
  const std::string msg = error_loading(m);
  EXPECT_TRUE(Contains(msg, path_ + ": node '/act/BipolarQuant' (Relu): unsupported op (supported: GreaterOrEqual, "
                                    "Where, Sign, BipolarQuant, Quant (1-bit, k-bit input), MatMul, Gemm, Conv, BatchNormalization"));
  EXPECT_TRUE(Contains(msg, "Shape, Gather, Unsqueeze") || Contains(msg, "Gather, Unsqueeze, Squeeze, Concat"));
}

}  // namespace
}  // namespace bayescim::models
