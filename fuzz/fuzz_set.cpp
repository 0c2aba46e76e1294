// Fuzzes the --set parser: every line of the input is one `--set KEY=VALUE` applied to a shipped
// experiment (configs/experiments/mnist_mlp_scale.yaml), then the whole config is validated.
// Any input must load or throw InputError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/common.h"
#include "sim/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string base = std::string(BAYESCIM_SOURCE_DIR) + "/configs/experiments/mnist_mlp_scale.yaml";
  bayescim::sim::CliOverrides cli;
  std::string line;
  for (std::size_t i = 0; i <= size; ++i) {
    if (i == size || data[i] == '\n') {
      cli.sets.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(data[i]);
    }
  }
  try {
    bayescim::sim::load_experiment(base, cli);
  } catch (const bayescim::sim::InputError&) {
  }
  return 0;
}
