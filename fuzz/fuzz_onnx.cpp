// Fuzzes the ONNX importer (models/onnx_import) from memory. A network it accepts is compiled and
// run once, with and without dropout, by the reference executor, as the runner would. Any input
// must load or throw ModelError; an accepted network must run without a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/compiled.h"
#include "models/onnx_import.h"
#include "models/reference_executor.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  bayescim::models::Network net;
  try {
    net = bayescim::models::load_onnx_bytes(bytes, "fuzz.onnx");
  } catch (const bayescim::models::ModelError&) {
    return 0;
  }
  // Keep each run short: the importer accepts networks far larger than an input can describe
  // only through huge initializers, which the size limit of the fuzzer already bounds.
  const bayescim::models::CompiledNetwork compiled(net);
  bayescim::models::ReferenceExecutor exec(compiled);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(net.input_size));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = data[i % size];
  std::vector<float> logits(static_cast<std::size_t>(net.classes));
  bayescim::models::SampleMasks masks;
  for (int drop = 0; drop < 2; ++drop) {
    compiled.fill_masks(masks, [&](std::size_t d) { return drop == 1 && (d % 3 == 0); });
    exec.forward(pixels.data(), masks, logits.data());
  }
  return 0;
}
