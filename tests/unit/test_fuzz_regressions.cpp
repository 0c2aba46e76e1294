// Inputs that once crashed a loader or were silently misread (docs/reliability.md, "Crashes
// found and fixed"). Each must now be refused with the loader's own error type, naming the file
// and what was expected; under the asan preset these also run with ASan and UBSan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "models/compiled.h"
#include "models/onnx_import.h"
#include "models/reference_executor.h"
#include "sim/config.h"
#include "tests/util/errors.h"

namespace bayescim::models {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> regression_files(const std::string& kind) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path("tests/fuzz_regressions") / kind)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FuzzRegressions, OnnxInputsAreRefusedWithAModelError) {
  const auto files = regression_files("onnx");
  ASSERT_EQ(files.size(), 9u) << "fuzz/make_regressions.py writes eight files; fuzz_onnx found one more";
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string msg = bayescim::testing::error_of<ModelError>([&] { load_onnx(f.string()); });
    EXPECT_NE(msg.find(f.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
  }
}

// The two that were accepted with a different meaning name the attribute and the value.
TEST(FuzzRegressions, WrappedIntegersAreNamed) {
  const std::string pool = bayescim::testing::error_of<ModelError>(
      [] { load_onnx("tests/fuzz_regressions/onnx/pool_kernel_wrap.onnx"); });
  EXPECT_NE(pool.find("node 'pool1' (MaxPool): attribute 'kernel_shape' holds 4294967298"), std::string::npos) << pool;
  const std::string stride = bayescim::testing::error_of<ModelError>(
      [] { load_onnx("tests/fuzz_regressions/onnx/conv_stride_2pow32.onnx"); });
  EXPECT_NE(stride.find("node 'conv1' (Conv): attribute 'strides' holds 4294967296"), std::string::npos) << stride;
  const std::string eps = bayescim::testing::error_of<ModelError>(
      [] { load_onnx("tests/fuzz_regressions/onnx/bn_eps_nan.onnx"); });
  EXPECT_NE(eps.find("node 'fc1.bn' (BatchNormalization): attribute 'epsilon' is nan"), std::string::npos) << eps;
}

// Valid models found by fuzz_onnx to reach undefined behaviour after import: a conv layer with a
// kernel position that has no valid tap made CompiledNetwork call runs.back() on an empty
// vector. They must load, compile and run (under the asan preset: without a report).
TEST(FuzzRegressions, ValidOnnxInputsCompileAndRun) {
  const auto files = regression_files("onnx_valid");
  ASSERT_EQ(files.size(), 1u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const Network net = load_onnx(f.string());
    const CompiledNetwork compiled(net);
    ReferenceExecutor exec(compiled);
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(net.input_size), 200);
    std::vector<float> logits(static_cast<std::size_t>(net.classes));
    SampleMasks masks;
    compiled.fill_masks(masks, [](std::size_t) { return false; });
    exec.forward(pixels.data(), masks, logits.data());
    for (float v : logits) EXPECT_TRUE(std::isfinite(v));
  }
}

// fuzz_config's finding: a mapping used as a key threw YAML::TypedBadConversion, which the
// executable reported as an internal error. Also a list key and a repeated key.
TEST(FuzzRegressions, ConfigInputsAreRefusedWithAnInputError) {
  const auto files = regression_files("config");
  ASSERT_EQ(files.size(), 3u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string msg = bayescim::testing::error_of<bayescim::sim::InputError>(
        [&] { bayescim::sim::load_experiment(f.string()); });
    EXPECT_NE(msg.find(f.string() + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
  }
  const std::string dup = bayescim::testing::error_of<bayescim::sim::InputError>(
      [] { bayescim::sim::load_experiment("tests/fuzz_regressions/config/duplicate_key.yaml"); });
  EXPECT_NE(dup.find("duplicate_key.yaml:4: key 'seed' appears twice in the same section (first at line 3)"),
            std::string::npos)
      << dup;
}

// The same through --set: a value whose mapping has a list as a key.
TEST(FuzzRegressions, SetValueWithAListKeyIsAnInputError) {
  bayescim::sim::CliOverrides cli;
  cli.sets = {"mc={? [a]: 1}"};
  const std::string msg = bayescim::testing::error_of<bayescim::sim::InputError>(
      [&] { bayescim::sim::load_experiment("configs/experiments/mnist_mlp_scale.yaml", cli); });
  EXPECT_NE(msg.find("--set mc={? [a]: 1}"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a plain key name"), std::string::npos) << msg;
}

}  // namespace
}  // namespace bayescim::models
