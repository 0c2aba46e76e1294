// Input corruptions against hand-made expectations: an exact 90-degree rotation and the spread of
// Gaussian noise on a mid-grey image.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/datasets.h"

namespace bayescim::sim {
namespace {

Dataset image(int h, int w, int channels, std::uint8_t (*f)(int, int, int)) {
  Dataset d;
  d.images.n = d.count = 1;
  d.images.rows = static_cast<std::size_t>(h * channels);
  d.images.cols = static_cast<std::size_t>(w);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) d.images.data.push_back(f(c, y, x));
  return d;
}

TEST(Corruption, RotationBy90DegreesMovesEveryPixelExactly) {
  auto d = image(5, 5, 2, [](int c, int y, int x) { return static_cast<std::uint8_t>(c * 100 + y * 5 + x); });
  const auto before = d.images.data;
  corrupt(d, {Corruption::Kind::Rotation, 90.0}, 1, 2);
  // Output (x, y) samples the input at (cx + (y - cy), cy - (x - cx)) for a 90-degree turn.
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 5; ++x)
        EXPECT_EQ(d.images.data[(c * 5 + y) * 5 + x], before[(c * 5 + (4 - x)) * 5 + y]) << c << " " << y << " " << x;
}

TEST(Corruption, GaussianNoiseHasTheConfiguredSigmaAndIsSeeded) {
  auto grey = [](int, int, int) { return std::uint8_t{128}; };
  auto d = image(64, 64, 1, grey);
  corrupt(d, {Corruption::Kind::GaussianNoise, 0.05}, 3, 1);  // sigma = 12.75 grey levels: no clipping
  double s1 = 0, s2 = 0;
  const double n = static_cast<double>(d.images.data.size());
  for (auto v : d.images.data) {
    s1 += (v - 128.0) / n;
    s2 += (v - 128.0) * (v - 128.0) / n;
  }
  const double sd = std::sqrt(s2 - s1 * s1);
  EXPECT_NEAR(s1, 0.0, 4 * 12.75 / std::sqrt(n));
  EXPECT_NEAR(sd, 12.75, 0.05 * 12.75);  // rounding to integers adds 1/12 grey level^2
  auto again = image(64, 64, 1, grey);
  corrupt(again, {Corruption::Kind::GaussianNoise, 0.05}, 3, 1);
  EXPECT_EQ(again.images.data, d.images.data);
  auto none = image(64, 64, 1, grey);
  corrupt(none, {Corruption::Kind::GaussianNoise, 0.0}, 3, 1);
  EXPECT_EQ(none.images.data, std::vector<std::uint8_t>(64 * 64, 128));
}

}  // namespace
}  // namespace bayescim::sim
