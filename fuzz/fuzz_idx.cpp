// Fuzzes the idx reader (sim/idx): the input is read as an image file and as a label file, and
// a successful pair is checked with check_pair. Any input must load or throw InputError.
#include <cstddef>
#include <cstdint>

#include "fuzz/common.h"
#include "sim/errors.h"
#include "sim/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = bayescim::fuzz::scratch_path("input-idx-ubyte");
  bayescim::fuzz::write_scratch(path, data, size);
  bayescim::sim::IdxImages images;
  bool have_images = false;
  try {
    images = bayescim::sim::read_idx_images(path);
    have_images = true;
  } catch (const bayescim::sim::InputError&) {
  }
  try {
    const auto labels = bayescim::sim::read_idx_labels(path);
    if (have_images) bayescim::sim::check_pair(images, labels, path, path, 10);
  } catch (const bayescim::sim::InputError&) {
  }
  return 0;
}
