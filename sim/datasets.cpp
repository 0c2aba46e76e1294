#include "sim/datasets.h"

#include <algorithm>
#include <cmath>

#include "hw/physics/crossbar_physics.h"

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

void corrupt(Dataset& d, const Corruption& c, std::uint64_t seed, int channels) {
  if (c.kind == Corruption::Kind::None || c.strength == 0) return;
  const std::size_t px = d.images.pixels();
  // The model's channels share the idx image: a C x H x W input is stored as (C*H) x W.
  const int w = static_cast<int>(d.images.cols);
  const int h = static_cast<int>(px / static_cast<std::size_t>(w) / static_cast<std::size_t>(channels));
  std::vector<std::uint8_t> src(px);
  for (std::size_t i = 0; i < d.count; ++i) {
    std::uint8_t* img = d.images.data.data() + i * px;
    if (c.kind == Corruption::Kind::GaussianNoise) {
      for (std::size_t k = 0; k < px; ++k) {
        const double v = img[k] + 255.0 * c.strength * hw::gaussian(seed ^ 0x6e015e00ULL, i, k, 0);
        img[k] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
      continue;
    }
    std::copy(img, img + px, src.begin());
    const double a = c.strength * M_PI / 180.0, ca = std::cos(a), sa = std::sin(a);
    const double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
    for (int ch = 0; ch < channels; ++ch) {
      const std::uint8_t* s = src.data() + static_cast<std::size_t>(ch) * h * w;
      std::uint8_t* o = img + static_cast<std::size_t>(ch) * h * w;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          // The output pixel (x, y) samples the input at the inverse rotation.
          const double sx = ca * (x - cx) + sa * (y - cy) + cx, sy = -sa * (x - cx) + ca * (y - cy) + cy;
          const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
          const double fx = sx - x0, fy = sy - y0;
          auto at = [&](int yy, int xx) { return (yy < 0 || xx < 0 || yy >= h || xx >= w) ? 0.0 : s[yy * w + xx]; };
          const double v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
                           fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
          o[y * w + x] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
    }
  }
}

}  // namespace bayescim::sim
