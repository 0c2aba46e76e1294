// Fuzzes the experiment YAML loader and validator (sim/config_tree, sim/config): any input must
// either load or throw InputError. Anything else (a crash, a sanitizer report, another
// exception: the executable would call it an internal error) is a finding.
#include <cstddef>
#include <cstdint>

#include "fuzz/common.h"
#include "sim/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = bayescim::fuzz::scratch_path("experiment.yaml");
  bayescim::fuzz::write_scratch(path, data, size);
  try {
    bayescim::sim::load_experiment(path);
  } catch (const bayescim::sim::InputError&) {
  }
  return 0;
}
