// A dataset split ready for the runner: images and labels, checked against the model's input.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/idx.h"

namespace bayescim::sim {

struct Dataset {
  std::string name;  // mnist | fashion-mnist
  std::string role;  // id | ood
  IdxImages images;
  std::vector<std::uint8_t> labels;
  std::size_t count = 0;  // images used (after the limit)
};

// Corrupts the first `count` images in place: Gaussian noise (sigma = strength * 255, drawn per
// pixel from (seed, image, pixel), clipped to [0, 255]) or a rotation by `strength` degrees about
// the image centre (bilinear, zero outside), each channel plane of rows x cols separately.
void corrupt(Dataset& d, const Corruption& c, std::uint64_t seed, int channels);

// Loads a split, checks shapes against input_size and classes, applies the limit (0 = all).
Dataset load_dataset(const DataSplit& split, const std::string& role, int input_size, int classes, std::size_t limit);

}  // namespace bayescim::sim
