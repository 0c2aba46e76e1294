// The check shared by the accelerator parity tests: every recorded MC sample's logits equal the
// reference executor's on the same counter-based dropout draws.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hw/physics/rng.h"
#include "models/compiled.h"
#include "models/reference_executor.h"

namespace bayescim::testing {

// got[k] holds the logits of sample k % samples of images[k / samples], whose image key is
// hw::image_key(split, k / samples); draws use (seed, p) like the shared-p dropout sources.
inline void expect_reference_logits(const models::CompiledNetwork& c,
                                    const std::vector<std::vector<std::uint8_t>>& images,
                                    const std::vector<std::vector<float>>& got, int samples, std::uint64_t seed,
                                    int split, double p, const std::string& what = "") {
  ASSERT_EQ(got.size(), images.size() * static_cast<std::size_t>(samples));
  models::ReferenceExecutor ref(c);
  models::SampleMasks masks;
  std::vector<float> want(static_cast<std::size_t>(c.net->classes));
  for (std::size_t k = 0; k < got.size(); ++k) {
    const std::size_t img = k / static_cast<std::size_t>(samples);
    const int t = static_cast<int>(k % static_cast<std::size_t>(samples));
    c.fill_masks(masks, [&](std::size_t d) { return hw::dropout_draw(seed, hw::image_key(split, img), t, d, p); });
    ref.forward(images[img].data(), masks, want.data());
    for (std::size_t o = 0; o < want.size(); ++o) EXPECT_EQ(got[k][o], want[o]) << what << " sample " << k;
  }
}

}  // namespace bayescim::testing
