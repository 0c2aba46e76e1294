// ONNX import: models built here with the protobuf API in the project's export convention,
// then loaded; every rejection names the file, the node and op, and what is supported.
#include <gtest/gtest.h>

#include "tests/util/errors.h"
#include <unistd.h>

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
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
    EXPECT_TRUE(Contains(msg, "supported: GreaterOrEqual, Where, Sign, BipolarQuant, Quant (1-bit), MatMul, Gemm, Conv"));
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

}  // namespace
}  // namespace bayescim::models
