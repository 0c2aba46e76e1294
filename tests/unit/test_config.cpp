// Config loading and validation: every error names the file and line (or the --set argument),
// the dotted key and what was allowed; valid files convert units at the boundary.
#include <gtest/gtest.h>

#include "tests/util/errors.h"
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/config_tree.h"
#include "sim/errors.h"

namespace bayescim::sim {
namespace {

namespace fs = std::filesystem;

// Tests run from the repository root (WORKING_DIRECTORY in tests/CMakeLists.txt).
std::string repo_file(const std::string& rel) { return fs::absolute(rel).lexically_normal().string(); }

const std::string kArch = "configs/architectures/stt_cim_512x128.yaml";
const std::string kDevice = "configs/devices/nvsim_sttram.yaml";
const std::string kDropoutDevice = "configs/devices/uta_stochastic_mtj.yaml";

// A valid experiment; the line numbers below are asserted by the tests.
const std::string kBase =
    "experiment:\n"                   // 1
    "  name: t\n"                     // 2
    "  seed: 7\n"                     // 3
    "  engine: hw\n"                  // 4
    "model:\n"                        // 5
    "  path: model.onnx\n"            // 6
    "mc:\n"                           // 7
    "  samples: 20\n"                 // 8
    "data:\n"                         // 9
    "  id:\n"                         // 10
    "    dataset: mnist\n"            // 11
    "    dir: data/mnist\n"           // 12
    "hardware:\n"                     // 13
    "  architecture: @ARCH@\n"        // 14
    "  device: @DEVICE@\n"            // 15
    "  dropout_device: @DROPOUT@\n";  // 16

// Replaces the single occurrence of `from` in `text`.
std::string edit(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos)
    throw std::logic_error("test bug: '" + from + "' must occur exactly once");
  return text.replace(at, from.size(), to);
}

using bayescim::testing::Contains;

// Runs f, which must throw InputError, and returns its message.
template <typename F>
std::string input_error_of(F f) {
  return bayescim::testing::error_of<InputError>(f);
}

// A fresh directory per test, removed afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("bayescim_config_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  // Writes an experiment with the real hardware files included by absolute path.
  std::string experiment(std::string text, const std::string& name = "exp.yaml") const {
    for (const auto& [token, file] : {std::pair<std::string, std::string>{"@ARCH@", kArch},
                                      {"@DEVICE@", kDevice},
                                      {"@DROPOUT@", kDropoutDevice}}) {
      const auto at = text.find(token);
      if (at != std::string::npos) text.replace(at, token.size(), repo_file(file));
    }
    return write(name, text);
  }

  // Loads `text` as an experiment and returns the InputError message.
  std::string error_loading(const std::string& text, const CliOverrides& cli = {}) {
    path_ = experiment(text);
    return input_error_of([&] { load_experiment(path_, cli); });
  }

  fs::path dir_;
  std::string path_;  // the experiment written by error_loading()
};

// ---------------------------------------------------------------------------------------------
// Valid files

TEST_F(ConfigTest, ValidConfigLoadsAndConvertsUnits) {
  const std::string path = experiment(kBase);
  const ExperimentConfig c = load_experiment(path);
  EXPECT_EQ(c.config_path, path);
  EXPECT_EQ(c.name, "t");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.engine, Engine::Hw);
  EXPECT_EQ(c.samples, 20);
  // Relative paths resolve against the experiment file's directory.
  EXPECT_EQ(c.model_path, (dir_ / "model.onnx").string());
  EXPECT_EQ(c.id.dataset, "mnist");
  EXPECT_EQ(c.id.dir, (dir_ / "data/mnist").string());
  EXPECT_EQ(c.id.images_path(), (dir_ / "data/mnist/t10k-images-idx3-ubyte").string());

  // Architecture (ns -> s, fJ -> J, GHz -> period, uW -> W).
  EXPECT_EQ(c.arch.name, "stt_cim_512x128");
  EXPECT_EQ(c.arch.rows, 512);
  EXPECT_EQ(c.arch.cols, 128);
  EXPECT_DOUBLE_EQ(c.arch.read_pulse_s, 1.66e-9);
  EXPECT_DOUBLE_EQ(c.arch.sa_latch_energy_J, 5e-15);
  EXPECT_EQ(c.arch.adc_bits, 0);
  EXPECT_DOUBLE_EQ(c.arch.adc_fom_J_per_step, 10e-15);
  EXPECT_DOUBLE_EQ(c.arch.adc_floor_J, 24e-15);
  EXPECT_DOUBLE_EQ(c.arch.sample_hold_J, 10e-15);
  EXPECT_DOUBLE_EQ(c.device.cell.v_access_V, 0.15);
  EXPECT_DOUBLE_EQ(c.arch.adc_latency_s, 2e-9);
  EXPECT_EQ(c.arch.cols_per_adc, 8);
  EXPECT_DOUBLE_EQ(c.arch.clock_period_s, 1e-9);
  EXPECT_DOUBLE_EQ(c.arch.buffer_energy_per_bit_J, 10e-15);
  EXPECT_DOUBLE_EQ(c.arch.leakage_per_array_W, 10e-6);
  EXPECT_DOUBLE_EQ(c.arch.quantum_s, 1000e-9);

  // Crossbar device (uA -> A, ns -> s).
  EXPECT_EQ(c.device.name, "nvsim_sample_sttram");
  EXPECT_DOUBLE_EQ(c.device.cell.r_p_ohm, 3000.0);
  EXPECT_DOUBLE_EQ(c.device.cell.tmr, 1.0);
  EXPECT_DOUBLE_EQ(c.device.cell.v_read_V, 0.25);
  EXPECT_DOUBLE_EQ(c.device.write_current_A, 8e-5);
  EXPECT_DOUBLE_EQ(c.device.write_pulse_s, 10e-9);
  EXPECT_DOUBLE_EQ(c.device.cell_area_F2, 54.0);

  // Dropout device.
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.r_p_ohm, 5000.0);
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.reset_current_A, 90e-6);
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.reset_pulse_s, 10e-9);
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.v_junction_max_V, 1.0);
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.supply_V, 1.2);
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.latch_energy_J, 2e-15);
  ASSERT_TRUE(c.dropout_info.llg.has_value());  // the llg section: the run-time model is its table
  EXPECT_DOUBLE_EQ(c.dropout_info.llg->a_m, 50e-9);
  EXPECT_DOUBLE_EQ(c.dropout_info.llg->nz, 0.9788);
  ASSERT_TRUE(c.dropout_unit.mtj.table != nullptr);
  EXPECT_EQ(c.dropout_unit.mtj.table->samples, 1000);
  EXPECT_EQ(c.dropout_unit.mtj.table->temperatures_K.size(), 6u);  // 200 to 450 K
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.sa_energy_J, 5e-15);
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.sa_latency_s, 0.5e-9);

  // The resolved tree (for the report) holds the included files' contents.
  EXPECT_EQ(c.resolved["mc"]["samples"], 20);
  EXPECT_EQ(c.resolved["hardware"]["device"]["name"], "nvsim_sample_sttram");
  EXPECT_DOUBLE_EQ(c.resolved["hardware"]["architecture"]["read_pulse_ns"].get<double>(), 1.66);
}

TEST_F(ConfigTest, OptionalKeysTakeTheirDefaults) {
  const ExperimentConfig c = load_experiment(experiment(kBase));
  EXPECT_EQ(c.id.split, "test");
  EXPECT_FALSE(c.ood.has_value());
  EXPECT_EQ(c.limit, 0u);
  EXPECT_EQ(c.out_dir, (fs::path("out") / "t").string());
  EXPECT_FALSE(c.samples_csv);
  EXPECT_TRUE(c.progress);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.dropout.kind.has_value());
  EXPECT_FALSE(c.dropout.p.has_value());
  EXPECT_FALSE(c.dropout.layers.has_value());
  EXPECT_FALSE(c.dropout.dropped_value.has_value());
}

TEST_F(ConfigTest, NameDefaultsToTheFileStemAndNamesTheOutputDir) {
  const std::string path = experiment(edit(kBase, "  name: t\n", ""), "my_run.yaml");
  const ExperimentConfig c = load_experiment(path);
  EXPECT_EQ(c.name, "my_run");
  EXPECT_EQ(c.out_dir, (fs::path("out") / "my_run").string());
}

TEST_F(ConfigTest, OptionalSectionsAreRead) {
  std::string text = edit(kBase, "    dir: data/mnist\n",
                          "    dir: data/mnist\n"
                          "    split: train\n"
                          "  ood:\n"
                          "    dataset: fashion-mnist\n"
                          "    dir: /abs/fashion\n"
                          "  limit: 12\n");
  text = edit(text, "  path: model.onnx\n",
              "  path: model.onnx\n"
              "  dropout:\n"
              "    kind: scale\n"
              "    p: 0.3\n"
              "    layers: fc1,fc2\n"
              "    dropped_value: 0\n");
  const std::string path = experiment(text +
                                      "output:\n"
                                      "  dir: results/here\n"
                                      "  samples_csv: true\n"
                                      "  progress: false\n"
                                      "log:\n"
                                      "  level: debug\n");
  const ExperimentConfig c = load_experiment(path);
  EXPECT_EQ(c.id.split, "train");
  EXPECT_EQ(c.id.labels_path(), (dir_ / "data/mnist/train-labels-idx1-ubyte").string());
  ASSERT_TRUE(c.ood.has_value());
  EXPECT_EQ(c.ood->dataset, "fashion-mnist");
  EXPECT_EQ(c.ood->dir, "/abs/fashion");  // absolute paths stay as they are
  EXPECT_EQ(c.ood->split, "test");
  EXPECT_EQ(c.limit, 12u);
  ASSERT_TRUE(c.dropout.kind.has_value());
  EXPECT_EQ(*c.dropout.kind, "scale");
  EXPECT_DOUBLE_EQ(c.dropout.p.value_or(-1), 0.3);
  EXPECT_EQ(c.dropout.layers.value_or(std::vector<std::string>{}), (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_DOUBLE_EQ(c.dropout.dropped_value.value_or(-1), 0.0);
  EXPECT_EQ(c.dropout.where, path + ":10");  // the layers, the one thing checked against the model
  EXPECT_EQ(c.out_dir, "results/here");
  EXPECT_TRUE(c.samples_csv);
  EXPECT_FALSE(c.progress);
  EXPECT_EQ(c.log_level, "debug");
}

TEST_F(ConfigTest, DropoutLayersAsAYamlList) {
  const ExperimentConfig c = load_experiment(experiment(edit(kBase, "  path: model.onnx\n",
                                                             "  path: model.onnx\n"
                                                             "  dropout:\n"
                                                             "    layers: [fc1, fc3]\n")));
  EXPECT_EQ(c.dropout.layers.value_or(std::vector<std::string>{}), (std::vector<std::string>{"fc1", "fc3"}));
  EXPECT_TRUE(Contains(c.dropout.where, "exp.yaml:8"));  // the dropout mapping's first key
}

TEST_F(ConfigTest, InlineDeviceMappingInsteadOfAnInclude) {
  const std::string text = edit(kBase, "  device: @DEVICE@\n",
                                "  device:\n"
                                "    name: inline\n"
                                "    source: test\n"
                                "    r_p_ohm: 2000\n"
                                "    tmr: 1.5\n"
                                "    read_voltage_V: 0.2\n"
                                "    write_current_uA: 50\n"
                                "    write_pulse_ns: 5\n"
                                "    cell_area_F2: 40\n"
                                "    access_transistor_drop_V: 0.15\n"
                                "    write_voltage_V: 0.8\n");
  const ExperimentConfig c = load_experiment(experiment(text));
  EXPECT_EQ(c.device.name, "inline");
  EXPECT_DOUBLE_EQ(c.device.cell.tmr, 1.5);
  EXPECT_DOUBLE_EQ(c.device.write_current_A, 50e-6);

  // An error inside the inline mapping names the experiment file and its line.
  const std::string msg = error_loading(edit(text, "    tmr: 1.5\n", "    tmr: 0\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":19"));
  EXPECT_TRUE(Contains(msg, "'hardware.device.tmr'"));
  EXPECT_TRUE(Contains(msg, "[0.01, 100]"));
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

TEST_F(ConfigTest, UnknownTopLevelKeyListsAllowedKeys) {
  const std::string msg = error_loading(kBase + "bogus: 1\n");
  EXPECT_TRUE(Contains(msg, path_ + ":17"));
  EXPECT_TRUE(Contains(msg, "unknown key 'bogus'"));
  EXPECT_TRUE(Contains(msg, "allowed in '<top>': data, experiment, hardware, log, mc, model, output"));
}

TEST_F(ConfigTest, UnknownNestedKeyListsAllowedKeys) {
  const std::string msg = error_loading(edit(kBase, "  samples: 20\n", "  samplez: 20\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "unknown key 'mc.samplez'"));
  EXPECT_TRUE(Contains(msg, "allowed in 'mc': samples"));
}

TEST_F(ConfigTest, UnknownKeyInDeeplyNestedSection) {
  const std::string msg = error_loading(edit(kBase, "    dir: data/mnist\n", "    dir: data/mnist\n    splt: train\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":13"));
  EXPECT_TRUE(Contains(msg, "unknown key 'data.id.splt'"));
  EXPECT_TRUE(Contains(msg, "allowed in 'data.id': dataset, dir, split"));
}

TEST_F(ConfigTest, UnknownKeyInDropoutOverride) {
  const std::string msg = error_loading(edit(kBase, "  path: model.onnx\n",
                                             "  path: model.onnx\n"
                                             "  dropout:\n"
                                             "    prob: 0.2\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "unknown key 'model.dropout.prob'"));
  EXPECT_TRUE(Contains(msg, "dropped_value, kind, layers, layout, p"));
}

// ---------------------------------------------------------------------------------------------
// Wrong types

TEST_F(ConfigTest, StringWhereAnIntegerIsExpected) {
  const std::string msg = error_loading(edit(kBase, "  samples: 20\n", "  samples: abc\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "key 'mc.samples'"));
  EXPECT_TRUE(Contains(msg, "expected an integer in [1, 100000], got 'abc'"));
}

TEST_F(ConfigTest, StringWhereANumberIsExpected) {
  const std::string msg = error_loading(edit(kBase, "  path: model.onnx\n",
                                             "  path: model.onnx\n"
                                             "  dropout:\n"
                                             "    p: high\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "key 'model.dropout.p'"));
  EXPECT_TRUE(Contains(msg, "expected a number in [0, 1], got 'high'"));
}

TEST_F(ConfigTest, MappingWhereAScalarIsExpected) {
  std::string msg = error_loading(edit(kBase, "  samples: 20\n", "  samples: {a: 1}\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "key 'mc.samples'"));
  EXPECT_TRUE(Contains(msg, "expected an integer in [1, 100000], got a mapping"));

  msg = error_loading(edit(kBase, "  name: t\n", "  name: [a, b]\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":2"));
  EXPECT_TRUE(Contains(msg, "key 'experiment.name'"));
  EXPECT_TRUE(Contains(msg, "expected a string, got a list"));

  msg = error_loading(edit(kBase, "  engine: hw\n", "  engine:\n    kind: hw\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":5"));  // the mapping's first key
  EXPECT_TRUE(Contains(msg, "key 'experiment.engine'"));
  EXPECT_TRUE(Contains(msg, "expected one of: hw, reference, got a mapping"));
}

TEST_F(ConfigTest, ScalarWhereASectionIsExpected) {
  const std::string msg = error_loading(edit(kBase, "mc:\n  samples: 20\n", "mc: 5\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":7"));
  EXPECT_TRUE(Contains(msg, "key 'mc'"));
  EXPECT_TRUE(Contains(msg, "expected a mapping"));
}

TEST_F(ConfigTest, BadBoolean) {
  const std::string msg = error_loading(kBase + "output:\n  samples_csv: yes\n");
  EXPECT_TRUE(Contains(msg, path_ + ":18"));
  EXPECT_TRUE(Contains(msg, "key 'output.samples_csv'"));
  EXPECT_TRUE(Contains(msg, "expected true or false, got 'yes'"));
}

TEST_F(ConfigTest, DropoutLayersMustBeStrings) {
  std::string msg = error_loading(edit(kBase, "  path: model.onnx\n",
                                       "  path: model.onnx\n"
                                       "  dropout:\n"
                                       "    layers: {fc1: 1}\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "key 'model.dropout.layers'"));
  EXPECT_TRUE(Contains(msg, "expected a list of strings, got a mapping"));

  msg = error_loading(edit(kBase, "  path: model.onnx\n",
                           "  path: model.onnx\n"
                           "  dropout:\n"
                           "    layers: [fc1, [fc2]]\n"));
  EXPECT_TRUE(Contains(msg, "key 'model.dropout.layers'"));
  EXPECT_TRUE(Contains(msg, "an element that is a list"));
}

TEST_F(ConfigTest, FractionalIntegerRejected) {
  const std::string msg = error_loading(edit(kBase, "  samples: 20\n", "  samples: 2.5\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "expected an integer in [1, 100000], got '2.5'"));
}

TEST_F(ConfigTest, IntegerOverflowRejected) {
  const std::string msg = error_loading(edit(kBase, "  seed: 7\n", "  seed: 99999999999999999999\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":3"));
  EXPECT_TRUE(Contains(msg, "key 'experiment.seed'"));
  EXPECT_TRUE(Contains(msg, "an integer in [0, 9007199254740992]"));
  EXPECT_TRUE(Contains(msg, "got '99999999999999999999'"));
}

// ---------------------------------------------------------------------------------------------
// Ranges and non-finite values

TEST_F(ConfigTest, SamplesOutOfRange) {
  for (const std::string bad : {"0", "-3", "100001"}) {
    SCOPED_TRACE(bad);
    const std::string msg = error_loading(edit(kBase, "  samples: 20\n", "  samples: " + bad + "\n"));
    EXPECT_TRUE(Contains(msg, path_ + ":8"));
    EXPECT_TRUE(Contains(msg, "key 'mc.samples'"));
    EXPECT_TRUE(Contains(msg, "expected an integer in [1, 100000], got '" + bad + "'"));
  }
}

TEST_F(ConfigTest, DropoutPOutOfRange) {
  const std::string msg = error_loading(edit(kBase, "  path: model.onnx\n",
                                             "  path: model.onnx\n"
                                             "  dropout:\n"
                                             "    p: 1.5\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "key 'model.dropout.p'"));
  EXPECT_TRUE(Contains(msg, "expected a number in [0, 1], got '1.5'"));
}

TEST_F(ConfigTest, NonFiniteNumbersRejected) {
  for (const std::string bad : {".nan", "nan", ".inf", "-.inf", "inf", "1e999"}) {
    SCOPED_TRACE(bad);
    const std::string msg = error_loading(edit(kBase, "  path: model.onnx\n",
                                               "  path: model.onnx\n"
                                               "  dropout:\n"
                                               "    dropped_value: " + bad + "\n"));
    EXPECT_TRUE(Contains(msg, path_ + ":8"));
    EXPECT_TRUE(Contains(msg, "key 'model.dropout.dropped_value'"));
    EXPECT_TRUE(Contains(msg, "expected a number in [-1e+06, 1e+06], got '" + bad + "'"));
  }
  // strtod reads these, so the finiteness check is what rejects them.
  const std::string msg = error_loading(edit(kBase, "  path: model.onnx\n",
                                             "  path: model.onnx\n"
                                             "  dropout:\n"
                                             "    p: nan\n"));
  EXPECT_TRUE(Contains(msg, "got 'nan' (not finite)"));
}

TEST_F(ConfigTest, EmptyOrSlashedNameRejected) {
  for (const std::string bad : {"\"\"", "a/b"}) {
    SCOPED_TRACE(bad);
    const std::string msg = error_loading(edit(kBase, "  name: t\n", "  name: " + bad + "\n"));
    EXPECT_TRUE(Contains(msg, path_ + ":2"));
    EXPECT_TRUE(Contains(msg, "key 'experiment.name'"));
    EXPECT_TRUE(Contains(msg, "a non-empty name without '/'"));
  }
}

TEST_F(ConfigTest, AdcBitsOutOfRangeRejected) {
  CliOverrides cli;
  cli.sets = {"hardware.architecture.adc.bits=17"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set hardware.architecture.adc.bits=17"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.architecture.adc.bits'"));
  EXPECT_TRUE(Contains(msg, "an integer in [0, 16]"));
  EXPECT_TRUE(Contains(msg, "got '17'"));
}

TEST_F(ConfigTest, ZeroClockRejected) {
  CliOverrides cli;
  cli.sets = {"hardware.architecture.digital.clock_GHz=0"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set hardware.architecture.digital.clock_GHz=0"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.architecture.digital.clock_GHz'"));
  EXPECT_TRUE(Contains(msg, "expected a number > 0 GHz, got '0'"));
}

// ---------------------------------------------------------------------------------------------
// Missing keys and bad choices

TEST_F(ConfigTest, MissingRequiredKey) {
  const std::string msg = error_loading(edit(kBase, "    dir: data/mnist\n", ""));
  EXPECT_TRUE(Contains(msg, path_ + ":11"));  // the data.id section
  EXPECT_TRUE(Contains(msg, "key 'data.id.dir'"));
  EXPECT_TRUE(Contains(msg, "expected a string (required key is missing)"));
}

TEST_F(ConfigTest, MissingRequiredSection) {
  const std::string msg = error_loading(edit(kBase, "model:\n  path: model.onnx\n", ""));
  EXPECT_TRUE(Contains(msg, path_));
  EXPECT_TRUE(Contains(msg, "key 'model'"));
  EXPECT_TRUE(Contains(msg, "expected a section (required key is missing)"));
}

// A required section written without keys names the first required key inside it.
TEST_F(ConfigTest, EmptyRequiredSectionNamesTheMissingKey) {
  const std::string msg = error_loading(edit(kBase, "  path: model.onnx\n", ""));
  EXPECT_TRUE(Contains(msg, path_ + ":5"));
  EXPECT_TRUE(Contains(msg, "key 'model.path'"));
  EXPECT_TRUE(Contains(msg, "expected a string (required key is missing)"));
}

// mc.samples has a default (20), so the whole mc section may be left out.
TEST_F(ConfigTest, McSectionIsOptional) {
  const auto cfg = load_experiment(experiment(edit(kBase, "mc:\n  samples: 20\n", "")));
  EXPECT_EQ(cfg.samples, 20);
}

TEST_F(ConfigTest, MissingRequiredKeyInIncludedFile) {
  const std::string dev = write("dev.yaml",
                                "name: d\n"
                                "source: s\n"
                                "r_p_ohm: 3000\n"
                                "read_voltage_V: 0.25\n"
                                "write_current_uA: 80\n"
                                "write_pulse_ns: 10\n"
                                "cell_area_F2: 54\n");
  const std::string msg = error_loading(edit(kBase, "  device: @DEVICE@\n", "  device: dev.yaml\n"));
  EXPECT_TRUE(Contains(msg, dev));
  EXPECT_TRUE(Contains(msg, "key 'hardware.device.tmr'"));
  EXPECT_TRUE(Contains(msg, "expected a number in [0.01, 100] (required key is missing)"));
}

// write_voltage_V (required) reaches the parameters.
TEST_F(ConfigTest, WriteVoltageReachesTheParameters) {
  CliOverrides cli;
  cli.sets = {"hardware.device.write_voltage_V=1.1"};
  EXPECT_DOUBLE_EQ(load_experiment(experiment(kBase), cli).device.write_voltage_V, 1.1);
}

TEST_F(ConfigTest, BadChoiceListsTheAllowedValues) {
  std::string msg = error_loading(edit(kBase, "  engine: hw\n", "  engine: gpu\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":4"));
  EXPECT_TRUE(Contains(msg, "key 'experiment.engine'"));
  EXPECT_TRUE(Contains(msg, "expected one of: hw, reference, got 'gpu'"));

  msg = error_loading(edit(kBase, "    dataset: mnist\n", "    dataset: cifar10\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":11"));
  EXPECT_TRUE(Contains(msg, "key 'data.id.dataset'"));
  EXPECT_TRUE(Contains(msg, "expected one of: mnist, fashion-mnist, got 'cifar10'"));

  msg = error_loading(edit(kBase, "  path: model.onnx\n",
                           "  path: model.onnx\n"
                           "  dropout:\n"
                           "    kind: gaussian\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":8"));
  EXPECT_TRUE(Contains(msg, "key 'model.dropout.kind'"));
  EXPECT_TRUE(Contains(msg, "expected one of: none, mc_dropout, spatial, scale, got 'gaussian'"));

  msg = error_loading(kBase + "log:\n  level: verbose\n");
  EXPECT_TRUE(Contains(msg, path_ + ":18"));
  EXPECT_TRUE(Contains(msg, "key 'log.level'"));
  EXPECT_TRUE(Contains(msg, "one of: trace, debug, info, warn, error, off, got 'verbose'"));
}

TEST_F(ConfigTest, ReferenceEngineSelected) {
  const ExperimentConfig c = load_experiment(experiment(edit(kBase, "  engine: hw\n", "  engine: reference\n")));
  EXPECT_EQ(c.engine, Engine::Reference);
}

// ---------------------------------------------------------------------------------------------
// Files

TEST_F(ConfigTest, YamlSyntaxErrorReportsTheLine) {
  const std::string msg = error_loading(edit(kBase, "  samples: 20\n", "  samples: [20\n"));
  EXPECT_TRUE(Contains(msg, "YAML syntax error"));
  // yaml-cpp notices the unclosed list where the next token cannot continue it.
  EXPECT_TRUE(Contains(msg, path_ + ":"));
  const std::string after = msg.substr(msg.find(path_ + ":") + path_.size() + 1);
  const int line = std::stoi(after);
  EXPECT_GE(line, 8) << msg;
  EXPECT_LE(line, 9) << msg;

  const std::string msg2 = error_loading(edit(kBase, "  seed: 7\n", "  seed: 7\n   bad: : x\n"));
  EXPECT_TRUE(Contains(msg2, path_ + ":4"));
  EXPECT_TRUE(Contains(msg2, "YAML syntax error"));
}

TEST_F(ConfigTest, EmptyFileRejected) {
  for (const std::string text : {"", "# only a comment\n"}) {
    SCOPED_TRACE(text);
    const std::string path = write("empty.yaml", text);
    const std::string msg = input_error_of([&] { load_experiment(path); });
    EXPECT_TRUE(Contains(msg, path));
    EXPECT_TRUE(Contains(msg, "file is empty, expected a YAML mapping"));
  }
}

TEST_F(ConfigTest, TopLevelListRejected) {
  const std::string path = write("list.yaml", "- a\n- b\n");
  const std::string msg = input_error_of([&] { load_experiment(path); });
  EXPECT_TRUE(Contains(msg, path + ":1"));
  EXPECT_TRUE(Contains(msg, "expected a YAML mapping at top level"));
}

TEST_F(ConfigTest, BinaryFileRejected) {
  const std::string path = write("bin.yaml", std::string("mc:\0\x01\x02", 6));
  const std::string msg = input_error_of([&] { load_experiment(path); });
  EXPECT_TRUE(Contains(msg, path));
  EXPECT_TRUE(Contains(msg, "not a text file"));
}

TEST_F(ConfigTest, DirectoryGivenAsConfig) {
  const std::string msg = input_error_of([&] { load_experiment(dir_.string()); });
  EXPECT_TRUE(Contains(msg, dir_.string()));
  EXPECT_TRUE(Contains(msg, "is a directory, expected a YAML file"));
}

TEST_F(ConfigTest, MissingFile) {
  const std::string path = (dir_ / "nope.yaml").string();
  const std::string msg = input_error_of([&] { load_experiment(path); });
  EXPECT_TRUE(Contains(msg, path));
  EXPECT_TRUE(Contains(msg, "file does not exist"));
}

TEST_F(ConfigTest, IncludeOfAMissingFile) {
  const std::string missing = (dir_ / "missing_device.yaml").string();
  std::string msg = error_loading(edit(kBase, "  device: @DEVICE@\n", "  device: " + missing + "\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":15"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.device' names a file that cannot be used"));
  EXPECT_TRUE(Contains(msg, missing + ": file does not exist"));

  // Relative includes resolve against the experiment's directory.
  msg = error_loading(edit(kBase, "  device: @DEVICE@\n", "  device: missing_device.yaml\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":15"));
  EXPECT_TRUE(Contains(msg, missing + ": file does not exist"));
}

TEST_F(ConfigTest, IncludeOfADirectoryOrAnEmptyFile) {
  std::string msg = error_loading(edit(kBase, "  architecture: @ARCH@\n", "  architecture: " + dir_.string() + "\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":14"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.architecture' names a file that cannot be used"));
  EXPECT_TRUE(Contains(msg, "is a directory"));

  const std::string empty = write("empty.yaml", "");
  msg = error_loading(edit(kBase, "  dropout_device: @DROPOUT@\n", "  dropout_device: empty.yaml\n"));
  EXPECT_TRUE(Contains(msg, path_ + ":16"));
  EXPECT_TRUE(Contains(msg, empty + ": file is empty"));
}

TEST_F(ConfigTest, RelativeIncludeResolvedAgainstTheExperimentDirectory) {
  fs::create_directories(dir_ / "devs");
  fs::copy_file(repo_file("configs/devices/neurosim_intel22_sttram.yaml"), dir_ / "devs" / "d.yaml");
  const ExperimentConfig c =
      load_experiment(experiment(edit(kBase, "  device: @DEVICE@\n", "  device: devs/d.yaml\n")));
  EXPECT_EQ(c.device.name, "neurosim_intel22_sttram");
  EXPECT_DOUBLE_EQ(c.device.cell.tmr, 1.8);
  EXPECT_DOUBLE_EQ(c.device.cell_area_F2, 100.0);
}

TEST_F(ConfigTest, UnknownKeyInIncludedDeviceNamesTheDeviceFile) {
  std::ifstream in(repo_file(kDevice));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string dev = write("dev.yaml", edit(text, "tmr: 1.0\n", "tmr: 1.0\ncolour: blue\n"));
  int line = 1;  // the line of "colour:"
  for (std::size_t i = 0; i < text.find("tmr: 1.0\n"); ++i) line += text[i] == '\n';
  ++line;
  const std::string msg = error_loading(edit(kBase, "  device: @DEVICE@\n", "  device: dev.yaml\n"));
  EXPECT_TRUE(Contains(msg, dev + ":" + std::to_string(line) + ":"));
  EXPECT_TRUE(Contains(msg, "unknown key 'hardware.device.colour'"));
  EXPECT_TRUE(Contains(msg, "allowed in 'hardware.device': access_transistor_drop_V, access_transistor_ohm, cell_area_F2, faults, "
                       "max_junction_voltage_V, name, r_p_ohm, read_voltage_V, "
                            "source, thermal, tmr, variation, write_current_uA, write_pulse_ns, write_voltage_V"));
  EXPECT_FALSE(Contains(msg, path_ + ":"));
}

TEST_F(ConfigTest, OutOfRangeInIncludedFileNamesThatFileAndLine) {
  const std::string arch = write("arch.yaml", [] {
    std::ifstream in(repo_file(kArch));
    std::string t((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return edit(t, "  rows: 512 ", "  rows: 5000 ");
  }());
  const std::string msg = error_loading(edit(kBase, "  architecture: @ARCH@\n", "  architecture: arch.yaml\n"));
  EXPECT_TRUE(Contains(msg, arch + ":8:"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.architecture.array.rows'"));
  EXPECT_TRUE(Contains(msg, "expected an integer in [1, 4096], got '5000'"));
}

// ---------------------------------------------------------------------------------------------
// --set and the other command-line overrides

TEST_F(ConfigTest, SetOverrideApplies) {
  CliOverrides cli;
  cli.sets = {"mc.samples=5", "experiment.engine=reference", "data.id.split=train"};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_EQ(c.samples, 5);
  EXPECT_EQ(c.engine, Engine::Reference);
  EXPECT_EQ(c.id.split, "train");
  EXPECT_EQ(c.resolved["mc"]["samples"], 5);
}

TEST_F(ConfigTest, SetCreatesAbsentSections) {
  CliOverrides cli;
  cli.sets = {"model.dropout.p=0.4", "model.dropout.layers=fc9", "output.samples_csv=true"};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_DOUBLE_EQ(c.dropout.p.value_or(-1), 0.4);
  EXPECT_EQ(c.dropout.layers.value_or(std::vector<std::string>{}), std::vector<std::string>{"fc9"});
  EXPECT_TRUE(c.samples_csv);
  // A layer name is checked only against the model, later: its error must blame the --set.
  EXPECT_EQ(c.dropout.where, "--set model.dropout.layers=fc9");
}

TEST_F(ConfigTest, SetWithABadValueNamesTheArgument) {
  CliOverrides cli;
  cli.sets = {"mc.samples=abc"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set mc.samples=abc"));
  EXPECT_TRUE(Contains(msg, "key 'mc.samples'"));
  EXPECT_TRUE(Contains(msg, "expected an integer in [1, 100000], got 'abc'"));
  EXPECT_FALSE(Contains(msg, path_ + ":"));  // the file's line 8 is not where the bad value came from
}

TEST_F(ConfigTest, SetWithoutAnEqualsSignRejected) {
  for (const std::string bad : {"nonsense", "=5"}) {
    SCOPED_TRACE(bad);
    CliOverrides cli;
    cli.sets = {bad};
    const std::string msg = error_loading(kBase, cli);
    EXPECT_TRUE(Contains(msg, "--set " + bad + ": expected key=value"));
    EXPECT_TRUE(Contains(msg, "--set mc.samples=10"));  // the example
  }
}

TEST_F(ConfigTest, SetWithAMalformedKeyRejected) {
  for (const std::string bad : {"mc..samples=1", "mc.=1", ".mc=1"}) {
    SCOPED_TRACE(bad);
    CliOverrides cli;
    cli.sets = {bad};
    const std::string msg = error_loading(kBase, cli);
    EXPECT_TRUE(Contains(msg, "--set " + bad + ": malformed key '" + bad.substr(0, bad.find('=')) + "'"));
    EXPECT_TRUE(Contains(msg, "a.b.c=value"));
  }
}

TEST_F(ConfigTest, SetWithInvalidYamlValueRejected) {
  CliOverrides cli;
  cli.sets = {"mc.samples=[1"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set mc.samples=[1: value '[1' is not valid YAML"));
}

TEST_F(ConfigTest, SetOfAnUnknownKeyRejected) {
  CliOverrides cli;
  cli.sets = {"mc.samplez=5"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set mc.samplez=5"));
  EXPECT_TRUE(Contains(msg, "unknown key 'mc.samplez'"));
  EXPECT_TRUE(Contains(msg, "allowed in 'mc': samples"));
}

TEST_F(ConfigTest, SetReachesTheIncludedDeviceTree) {
  CliOverrides cli;
  cli.sets = {"hardware.device.tmr=2.5", "hardware.dropout_device.relax_ns=20"};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_DOUBLE_EQ(c.device.cell.tmr, 2.5);
  EXPECT_DOUBLE_EQ(c.device.cell.r_p_ohm, 3000.0);  // the rest of the file is kept
  EXPECT_DOUBLE_EQ(c.dropout_unit.mtj.relax_s, 20e-9);
  EXPECT_DOUBLE_EQ(c.resolved["hardware"]["device"]["tmr"].get<double>(), 2.5);

  cli.sets = {"hardware.device.tmr=500"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set hardware.device.tmr=500"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.device.tmr'"));
  EXPECT_TRUE(Contains(msg, "expected a number in [0.01, 100], got '500'"));

  cli.sets = {"hardware.device.colour=1"};
  const std::string msg2 = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg2, "--set hardware.device.colour=1"));
  EXPECT_TRUE(Contains(msg2, "unknown key 'hardware.device.colour'"));
}

TEST_F(ConfigTest, SetCanChooseAnotherIncludedFile) {
  CliOverrides cli;
  // Relative to the working directory (the repository root); the order of --set does not matter.
  cli.sets = {"hardware.device.cell_area_F2=77", "hardware.device=configs/devices/neurosim_intel22_sttram.yaml"};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_EQ(c.device.name, "neurosim_intel22_sttram");
  EXPECT_DOUBLE_EQ(c.device.cell.tmr, 1.8);
  EXPECT_DOUBLE_EQ(c.device.cell_area_F2, 77.0);

  // Errors inside the chosen file name that file, not the --set.
  std::ifstream in(repo_file(kDevice));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string dev = write("bad_dev.yaml", edit(text, "tmr: 1.0\n", "tmr: -1\n"));
  cli.sets = {"hardware.device=" + dev};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, dev + ":"));
  EXPECT_TRUE(Contains(msg, "key 'hardware.device.tmr'"));
  EXPECT_TRUE(Contains(msg, "got '-1'"));

  cli.sets = {"hardware.device=" + (dir_ / "none.yaml").string()};
  const std::string msg2 = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg2, "--set hardware.device="));
  EXPECT_TRUE(Contains(msg2, "names a file that cannot be used"));
  EXPECT_TRUE(Contains(msg2, "file does not exist"));
}

TEST_F(ConfigTest, SetOfAKeyUnderAScalarRejected) {
  CliOverrides cli;
  cli.sets = {"mc.samples.x=1"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set mc.samples.x=1"));
  EXPECT_TRUE(Contains(msg, "'mc.samples' is not a section, cannot set 'mc.samples.x'"));
}

TEST_F(ConfigTest, SetReplacingASectionWithAScalarRejected) {
  CliOverrides cli;
  cli.sets = {"mc=5"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--set mc=5"));
  EXPECT_TRUE(Contains(msg, "key 'mc'"));
  EXPECT_TRUE(Contains(msg, "expected a mapping"));
}

TEST_F(ConfigTest, CliOutDirAndLimitApply) {
  CliOverrides cli;
  cli.out_dir = "results/run 1";
  cli.limit = 10;
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_EQ(c.out_dir, "results/run 1");
  EXPECT_EQ(c.limit, 10u);
  EXPECT_EQ(c.resolved["data"]["limit"], 10);
  EXPECT_EQ(c.resolved["output"]["dir"], "results/run 1");
}

TEST_F(ConfigTest, CliOutDirIsTakenVerbatim) {
  // Characters that mean something in YAML must not change or break the directory.
  for (const std::string dir : {"it's/here", "a: b", "#x", "true", "123", "C:\\out\\\"q\""}) {
    SCOPED_TRACE(dir);
    CliOverrides cli;
    cli.out_dir = dir;
    const ExperimentConfig c = load_experiment(experiment(kBase), cli);
    EXPECT_EQ(c.out_dir, dir);
  }
}

TEST_F(ConfigTest, CliLimitOutOfRangeNamesTheOption) {
  CliOverrides cli;
  cli.limit = 200000000;
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "--limit 200000000"));
  EXPECT_TRUE(Contains(msg, "key 'data.limit'"));
  EXPECT_TRUE(Contains(msg, "an integer in [0, 100000000]"));
}

// ---------------------------------------------------------------------------------------------
// ConfigTree and Section directly

TEST_F(ConfigTest, TreeWhereNamesFileLineOrOverride) {
  const std::string path = write("t.yaml", "a:\n  b: 1\n  c:\n    d: x\n");
  ConfigTree t = ConfigTree::load(path);
  EXPECT_EQ(t.where("a.b"), path + ":2");
  EXPECT_EQ(t.where("a.c.d"), path + ":4");
  EXPECT_EQ(t.where("a.c.missing"), path + ":4");  // the nearest enclosing key that exists
  EXPECT_EQ(t.base_dir("a.b"), dir_.string());
  t.apply_assignment("a.c.d=y");
  EXPECT_EQ(t.where("a.c.d"), "--set a.c.d=y");
  EXPECT_EQ(t.base_dir("a.c.d"), fs::current_path().string());
  EXPECT_EQ(t.root()["a"]["c"]["d"].as<std::string>(), "y");
}

TEST_F(ConfigTest, TreeIncludeOfAMappingIsANoOp) {
  const std::string path = write("t.yaml", "a:\n  b: 1\n");
  ConfigTree t = ConfigTree::load(path);
  EXPECT_EQ(t.include("a"), "");
  EXPECT_EQ(t.include("nothing.here"), "");
  EXPECT_EQ(t.root()["a"]["b"].as<int>(), 1);
}

TEST_F(ConfigTest, SectionFinishReportsUnreadKeys) {
  const std::string path = write("t.yaml", "s:\n  used: 1\n  typo: 2\n");
  ConfigTree t = ConfigTree::load(path);
  Section top(t, "", t.root());
  Section s = top.child("s", true);
  EXPECT_EQ(s.integer("used", std::nullopt, 0, 5), 1);
  s.allow("other");
  const std::string msg = input_error_of([&] { s.finish(); });
  EXPECT_TRUE(Contains(msg, path + ":3: unknown key 's.typo' (allowed in 's': other, used)"));
  EXPECT_NO_THROW(top.finish());
}

TEST_F(ConfigTest, SectionPositiveRejectsZero) {
  const std::string path = write("t.yaml", "s:\n  x: 0\n");
  ConfigTree t = ConfigTree::load(path);
  Section s(t, "s", t.root()["s"]);
  const std::string msg = input_error_of([&] { s.positive("x", std::nullopt, "ns"); });
  EXPECT_TRUE(Contains(msg, path + ":2: key 's.x': expected a number > 0 ns, got '0'"));
}

// ---------------------------------------------------------------------------------------------
// The shipped configs

TEST(ShippedConfigs, EveryExperimentValidates) {
  int n = 0;
  for (const auto& entry : fs::recursive_directory_iterator("configs/experiments")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    ++n;
    const std::string path = entry.path().string();
    SCOPED_TRACE(path);
    try {
      const ExperimentConfig c = load_experiment(path);
      EXPECT_FALSE(c.name.empty());
      EXPECT_GT(c.arch.rows, 0);
      EXPECT_GT(c.device.cell.r_p_ohm, 0.0);
      EXPECT_GT(c.dropout_unit.mtj.delta_300K, 0.0);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  EXPECT_GT(n, 0) << "no experiment configs found (is the working directory the repository root?)";
}

// ---------------------------------------------------------------------------------------------
// The read operating point (issue 18): refused outside the limits with one error naming the keys
// and the currents; warned where the SA will err. The currents are worked out here from eq. X0.

TEST_F(ConfigTest, ReadCurrentAboveHalfTheWriteCurrentIsRefused) {
  CliOverrides cli;
  cli.sets = {"hardware.device.read_voltage_V=2.0"};
  const std::string msg = error_loading(kBase, cli);
  // (2.0 V - 0.15 V) / 3 kOhm = 616.7 uA in P: 7.71 times the 80 uA write current.
  EXPECT_TRUE(Contains(msg, "hardware.device.read_voltage_V")) << msg;
  EXPECT_TRUE(Contains(msg, "616.7 uA")) << msg;
  EXPECT_TRUE(Contains(msg, "7.71 of the write current")) << msg;
  EXPECT_TRUE(Contains(msg, "limits.max_read_to_write_current")) << msg;
  // The same read at a 0.5 limit of 10: allowed, and the bitline is then what refuses it:
  // 16 rows * 616.7 uA = 9.867 mA > 2 mA.
  cli.sets.push_back("hardware.architecture.limits.max_read_to_write_current=10");
  const std::string msg2 = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg2, "9.867 mA")) << msg2;
  EXPECT_TRUE(Contains(msg2, "rows_per_read")) << msg2;
  EXPECT_TRUE(Contains(msg2, "max_bitline_current_mA")) << msg2;
}

TEST_F(ConfigTest, BitlineCurrentLimitIsConfigurable) {
  // 64 rows * 0.1 V / 3 kOhm = 2.133 mA: refused at the default 2 mA, allowed at 2.5 mA.
  CliOverrides cli;
  cli.sets = {"hardware.architecture.array.rows_per_read=64"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "2.133 mA")) << msg;
  cli.sets.push_back("hardware.architecture.limits.max_bitline_current_mA=2.5");
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_DOUBLE_EQ(c.arch.max_bitline_current_A, 2.5e-3);
  EXPECT_EQ(c.arch.rows_per_read, 64);
}

TEST_F(ConfigTest, AccessDropAtOrAboveTheReadVoltageIsRefused) {
  CliOverrides cli;
  cli.sets = {"hardware.device.access_transistor_drop_V=0.25"};
  const std::string msg = error_loading(kBase, cli);
  EXPECT_TRUE(Contains(msg, "'hardware.device.access_transistor_drop_V'")) << msg;
  EXPECT_TRUE(Contains(msg, "less than read_voltage_V")) << msg;
}

TEST_F(ConfigTest, LsbBelowTheSaOffsetIsAWarningNotAnError) {
  // LSB = 0.1 V (1/3k - 1/6k) = 16.67 uA: an offset sigma of 20 uA exceeds it.
  CliOverrides cli;
  cli.sets = {"hardware.architecture.sense_amp.offset_sigma_uA=20"};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_TRUE(Contains(c.warnings[0], "16.67 uA")) << c.warnings[0];
  EXPECT_TRUE(Contains(c.warnings[0], "offset_sigma_uA")) << c.warnings[0];
  cli.sets = {"hardware.architecture.sense_amp.offset_sigma_uA=10"};
  EXPECT_TRUE(load_experiment(experiment(kBase), cli).warnings.empty());
}

}  // namespace
}  // namespace bayescim::sim

namespace bayescim::sim {
namespace {

// ---------------------------------------------------------------------------------------------
// Hardware options of issue 4: the keys reach the parameters, bad values are refused by name.

TEST_F(ConfigTest, ArchitectureOptionsReachTheParameters) {
  CliOverrides cli;
  cli.sets = {"hardware.architecture.array.cell=two_phase_1t1mtj", "hardware.architecture.array.rows_per_read=48",
              "hardware.architecture.mapping.replicate=3", "hardware.architecture.mapping.pipeline_samples=true",
              "hardware.architecture.programming.write_verify=true", "hardware.architecture.programming.max_attempts=5",
              "hardware.architecture.energy_overrides_fJ.adc.conversion=120",
              "hardware.architecture.energy_overrides_fJ.sense_amp.latch=2.5",
              "hardware.device.access_transistor_ohm=1500", "hardware.device.faults.read_disturb_rate=1e-6",
              "hardware.device.faults.write_error_rate=1e-4"};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_EQ(c.arch.cell, hw::CellScheme::TwoPhase);
  EXPECT_EQ(c.arch.rows_per_read, 48);
  EXPECT_EQ(c.arch.replicate, 3);
  EXPECT_TRUE(c.arch.pipeline_samples);
  EXPECT_TRUE(c.arch.write_verify);
  EXPECT_EQ(c.arch.write_max_attempts, 5);
  ASSERT_EQ(c.arch.energy_overrides_J.size(), 2u);
  EXPECT_DOUBLE_EQ(c.arch.energy_overrides_J.at("adc.conversion"), 120e-15);
  EXPECT_DOUBLE_EQ(c.arch.energy_overrides_J.at("sense_amp.latch"), 2.5e-15);
  EXPECT_DOUBLE_EQ(c.device.cell.r_access_ohm, 1500.0);
  EXPECT_DOUBLE_EQ(c.device.variation.read_disturb_rate, 1e-6);
  EXPECT_DOUBLE_EQ(c.device.variation.write_error_to_p, 1e-4);
  EXPECT_DOUBLE_EQ(c.device.variation.write_error_to_ap, 1e-4);
  // The shipped architecture: drivers from the file, the options at their documented defaults.
  const ExperimentConfig d = load_experiment(experiment(kBase));
  EXPECT_EQ(d.arch.cell, hw::CellScheme::Complementary);
  EXPECT_EQ(d.arch.rows_per_read, 16);
  EXPECT_EQ(d.arch.replicate, 1);
  EXPECT_FALSE(d.arch.pipeline_samples);
  EXPECT_DOUBLE_EQ(d.arch.wordline_cap_F_per_cell, 0.1e-15);
  EXPECT_DOUBLE_EQ(d.arch.wordline_voltage_V, 0.8);
  EXPECT_DOUBLE_EQ(d.arch.bitline_cap_F_per_cell, 0.05e-15);
  EXPECT_TRUE(d.arch.energy_overrides_J.empty());
}

TEST_F(ConfigTest, BadHardwareOptionsNameTheKeyAndWhatIsExpected) {
  auto err = [&](const std::string& set) {
    CliOverrides cli;
    cli.sets = {set};
    path_ = experiment(kBase);
    return input_error_of([&] { load_experiment(path_, cli); });
  };
  std::string msg = err("hardware.architecture.array.cell=3t3mtj");
  EXPECT_TRUE(Contains(msg, "hardware.architecture.array.cell")) << msg;
  EXPECT_TRUE(Contains(msg, "complementary_2t2mtj")) << msg;
  msg = err("hardware.architecture.mapping.replicate=0");
  EXPECT_TRUE(Contains(msg, "hardware.architecture.mapping.replicate")) << msg;
  msg = err("hardware.device.faults.read_disturb_rate=1.5");
  EXPECT_TRUE(Contains(msg, "hardware.device.faults.read_disturb_rate")) << msg;
  msg = err("hardware.architecture.energy_overrides_fJ.flux_capacitor.charge=1");
  EXPECT_TRUE(Contains(msg, "flux_capacitor")) << msg;
  EXPECT_TRUE(Contains(msg, "sense_amp")) << msg;  // the allowed components are listed
  msg = err("hardware.architecture.energy_overrides_fJ.adc.convert=1");
  EXPECT_TRUE(Contains(msg, "unknown key 'hardware.architecture.energy_overrides_fJ.adc.convert'")) << msg;
  EXPECT_TRUE(Contains(msg, "conversion")) << msg;
  msg = err("hardware.architecture.energy_overrides_fJ.adc.conversion=-1");
  EXPECT_TRUE(Contains(msg, "hardware.architecture.energy_overrides_fJ.adc.conversion")) << msg;
  // A nominal cell-read override cannot apply when each MTJ has its own conductance.
  CliOverrides cli;
  cli.sets = {"hardware.architecture.energy_overrides_fJ.crossbar_read.matching_cell=1",
              "hardware.device.variation.r_p_sigma_log=0.1"};
  path_ = experiment(kBase);
  msg = input_error_of([&] { load_experiment(path_, cli); });
  EXPECT_TRUE(Contains(msg, "crossbar_read.matching_cell does not apply with device variation")) << msg;
  // A key of the drivers section is required.
  msg = err("hardware.architecture.drivers=null");
  EXPECT_TRUE(Contains(msg, "hardware.architecture.drivers")) << msg;
}

// mapping.pipeline_images: windows of images (1..4096, default 1); more than 1 needs
// pipeline_samples, and the error names both keys and the file and line that set it.
TEST_F(ConfigTest, PipelineImagesNeedsPipelineSamples) {
  EXPECT_EQ(load_experiment(experiment(kBase)).arch.pipeline_images, 1);
  CliOverrides cli;
  cli.sets = {"hardware.architecture.mapping.pipeline_samples=true", "hardware.architecture.mapping.pipeline_images=8"};
  EXPECT_EQ(load_experiment(experiment(kBase), cli).arch.pipeline_images, 8);
  std::ifstream in(repo_file(kArch));
  std::stringstream arch;
  arch << in.rdbuf();
  const std::string line = "  pipeline_samples: false # overlap the layers of successive MC samples of one image\n";
  const std::string text = edit(arch.str(), line, line + "  pipeline_images: 8\n");
  std::size_t no = 1;  // the line of pipeline_images in the edited file
  for (std::size_t i = 0; i < text.find("  pipeline_images: 8"); ++i) no += text[i] == '\n';
  const std::string file = write("arch.yaml", text);
  const std::string msg = error_loading(edit(kBase, "  architecture: @ARCH@\n", "  architecture: " + file + "\n"));
  EXPECT_TRUE(Contains(msg, file + ":" + std::to_string(no))) << msg;
  EXPECT_TRUE(Contains(msg, "'hardware.architecture.mapping.pipeline_images'")) << msg;
  EXPECT_TRUE(Contains(msg, "'hardware.architecture.mapping.pipeline_samples'")) << msg;
  for (const char* bad : {"0", "4097", "two"}) {
    CliOverrides c2;
    c2.sets = {"hardware.architecture.mapping.pipeline_samples=true",
               std::string("hardware.architecture.mapping.pipeline_images=") + bad};
    path_ = experiment(kBase);
    const std::string m = input_error_of([&] { load_experiment(path_, c2); });
    EXPECT_TRUE(Contains(m, "'hardware.architecture.mapping.pipeline_images'")) << m;
    EXPECT_TRUE(Contains(m, "4096")) << m;
  }
}

}  // namespace
}  // namespace bayescim::sim

namespace bayescim::sim {
namespace {

// ---------------------------------------------------------------------------------------------
// The crossbar MTJ's free layer (hardware.device.thermal, eq. C1-C7): the keys reach the
// parameters, the rates are derived at the operating point, a hand rate > 0 overrides its effect,
// derived rates below CrossbarMtjInfo::kNegligible are used as 0, bad values are refused by name.

const std::string kThermalDevice = "configs/devices/nvsim_sttram_thermal.yaml";

TEST_F(ConfigTest, ThermalSectionDerivesBothRatesAtTheOperatingPoint) {
  CliOverrides cli;
  cli.sets = {"hardware.device=" + repo_file(kThermalDevice)};
  const ExperimentConfig c = load_experiment(experiment(kBase), cli);
  ASSERT_TRUE(c.device.thermal.has_value());
  ASSERT_TRUE(c.crossbar_mtj.has_value());
  const hw::CrossbarFreeLayer& f = *c.device.thermal;
  EXPECT_DOUBLE_EQ(f.delta_300K, 60);
  EXPECT_NEAR(f.ic0_ap_to_p_A, 20e-6, 1e-15);
  EXPECT_NEAR(f.ic0_p_to_ap_A, 40e-6, 1e-15);
  EXPECT_NEAR(f.precession_time_s, 1.65e-9, 1e-20);
  EXPECT_EQ(f.read_polarity, hw::ReadPolarity::ApToP);
  // The read of an AP MTJ at 0.1 V / 6 kOhm for the architecture's 1.66 ns read pulse.
  const double q = hw::fokker_planck_switching(60, (0.1 / 6000) / 20e-6, 1.66 / 1.65).switched;
  EXPECT_NEAR(c.crossbar_mtj->rates.read_disturb_ap / q, 1.0, 1e-6);
  EXPECT_NEAR(c.device.variation.read_disturb_rate / q, 1.0, 1e-6);
  EXPECT_FALSE(c.device.variation.read_disturbs_p);
  const double wer_ap = hw::fokker_planck_switching(60, 80.0 / 40.0, 10 / 1.65).stayed;
  EXPECT_NEAR(c.device.variation.write_error_to_ap / wer_ap, 1.0, 1e-6);
  EXPECT_FALSE(c.crossbar_mtj->read_disturb_override);
  EXPECT_FALSE(c.crossbar_mtj->write_error_override);
}

TEST_F(ConfigTest, HandRatesOverrideTheDerivedOnesAndNegligibleRatesAreZero) {
  CliOverrides cli;
  cli.sets = {"hardware.device=" + repo_file(kThermalDevice), "hardware.device.faults.read_disturb_rate=1e-3"};
  ExperimentConfig c = load_experiment(experiment(kBase), cli);
  EXPECT_DOUBLE_EQ(c.device.variation.read_disturb_rate, 1e-3);
  EXPECT_TRUE(c.crossbar_mtj->read_disturb_override);
  EXPECT_FALSE(c.crossbar_mtj->write_error_override);
  EXPECT_GT(c.device.variation.write_error_to_ap, 1e-5);  // still derived
  cli.sets = {"hardware.device=" + repo_file(kThermalDevice), "hardware.device.faults.write_error_rate=0.01"};
  c = load_experiment(experiment(kBase), cli);
  EXPECT_TRUE(c.crossbar_mtj->write_error_override);
  EXPECT_DOUBLE_EQ(c.device.variation.write_error_to_p, 0.01);
  EXPECT_DOUBLE_EQ(c.device.variation.write_error_to_ap, 0.01);
  // A cold layer: the read disturb (about 1e-17 at 200 K) is below 1e-15 and used as 0, the
  // derived value still reported.
  cli.sets = {"hardware.device=" + repo_file(kThermalDevice), "hardware.device.thermal.temperature_K=200"};
  c = load_experiment(experiment(kBase), cli);
  EXPECT_GT(c.crossbar_mtj->rates.read_disturb_ap, 0.0);
  EXPECT_LT(c.crossbar_mtj->rates.read_disturb_ap, CrossbarMtjInfo::kNegligible);
  EXPECT_EQ(c.device.variation.read_disturb_rate, 0.0);
  EXPECT_FALSE(c.device.variation.any());
  // The other polarity disturbs P MTJs.
  cli.sets = {"hardware.device=" + repo_file(kThermalDevice), "hardware.device.thermal.read_polarity=p_to_ap",
              "hardware.device.thermal.temperature_K=400"};
  c = load_experiment(experiment(kBase), cli);
  EXPECT_TRUE(c.device.variation.read_disturbs_p);
  EXPECT_EQ(c.crossbar_mtj->rates.read_disturb_ap, 0.0);
  EXPECT_DOUBLE_EQ(c.device.variation.read_disturb_rate, c.crossbar_mtj->rates.read_disturb_p);
}

TEST_F(ConfigTest, BadThermalSectionsNameTheKey) {
  auto err = [&](const std::vector<std::string>& sets) {
    CliOverrides cli;
    cli.sets = {"hardware.device=" + repo_file(kThermalDevice)};
    cli.sets.insert(cli.sets.end(), sets.begin(), sets.end());
    path_ = experiment(kBase);
    return input_error_of([&] { load_experiment(path_, cli); });
  };
  std::string msg = err({"hardware.device.thermal.read_polarity=sideways"});
  EXPECT_TRUE(Contains(msg, "hardware.device.thermal.read_polarity")) << msg;
  EXPECT_TRUE(Contains(msg, "p_to_ap")) << msg;
  msg = err({"hardware.device.thermal.ic0_uA=40"});  // the old single I_c0 is gone
  EXPECT_TRUE(Contains(msg, "ic0_uA")) << msg;
  EXPECT_TRUE(Contains(msg, "ic0_p_to_ap_uA")) << msg;
  msg = err({"hardware.device.thermal.curie_temperature_K=290"});
  EXPECT_TRUE(Contains(msg, "hardware.device.thermal.curie_temperature_K")) << msg;
  msg = err({"hardware.device.thermal.curie_temperature_K=350", "hardware.device.thermal.temperature_K=400"});
  EXPECT_TRUE(Contains(msg, "hardware.device.thermal.temperature_K")) << msg;
  EXPECT_TRUE(Contains(msg, "below curie_temperature_K")) << msg;
  msg = err({"hardware.device.thermal.precession_time_ns=0"});
  EXPECT_TRUE(Contains(msg, "hardware.device.thermal.precession_time_ns")) << msg;
  // A read that switches the MTJs it destabilises more often than not is refused.
  msg = err({"hardware.device.thermal.ic0_ap_to_p_uA=2"});  // read at 8 I_c0
  EXPECT_TRUE(Contains(msg, "hardware.device.thermal")) << msg;
  EXPECT_TRUE(Contains(msg, "critical current")) << msg;
}

}  // namespace
}  // namespace bayescim::sim
