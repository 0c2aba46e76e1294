#include "sim/datasets.h"

#include <algorithm>

namespace bayescim::sim {

Dataset load_dataset(const DataSplit& split, const std::string& role, int input_size, int classes,
                     std::size_t limit) {
  Dataset d;
  d.name = split.dataset;
  d.role = role;
  d.images = read_idx_images(split.images_path());
  d.labels = read_idx_labels(split.labels_path());
  check_pair(d.images, d.labels, split.images_path(), split.labels_path(), classes);
  if (d.images.pixels() != static_cast<std::size_t>(input_size))
    throw InputError(split.images_path() + ": images are " + std::to_string(d.images.rows) + "x" +
                     std::to_string(d.images.cols) + " = " + std::to_string(d.images.pixels()) +
                     " pixels, but the model expects " + std::to_string(input_size) + " inputs");
  d.count = limit == 0 ? d.images.n : std::min(limit, d.images.n);
  return d;
}

}  // namespace bayescim::sim
