// Fuzzes the experiment YAML loader and validator (sim/config_tree, sim/config): any input must
// either load or throw InputError. Anything else (a crash, a sanitizer report, another
// exception: the executable would call it an internal error) is a finding.
#include <cstddef>
#include <cstdint>

#include "fuzz/common.h"
#include "sim/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = bayescim::fuzz::scratch_path("experiment.yaml");
  // A file without a final newline is refused as truncated before it is parsed: end every input
  // with one, so that mutations reach the parser and the validator.
  std::string text(reinterpret_cast<const char*>(data), size);
  if (text.empty() || text.back() != '\n') text += '\n';
  bayescim::fuzz::write_scratch(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  try {
    bayescim::sim::load_experiment(path);
  } catch (const bayescim::sim::InputError&) {
  }
  return 0;
}
