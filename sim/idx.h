#pragma once

// Reader for idx files (the MNIST / Fashion-MNIST format): a big-endian header of a magic number
// and dimensions, then unsigned bytes. Every error throws InputError naming the file and what
// was expected.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bayescim::sim {

constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  // ubyte, 3 dims: n, rows, cols
constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  // ubyte, 1 dim: n
constexpr std::size_t kIdxMaxImages = 10'000'000;
constexpr std::size_t kIdxMaxSide = 4096;

// n images of rows × cols pixels, row-major, image after image.
struct IdxImages {
  std::vector<std::uint8_t> data;
  std::size_t n = 0;
  std::size_t rows = 0;
  std::size_t cols = 0;

  std::size_t pixels() const { return rows * cols; }
  const std::uint8_t* image(std::size_t i) const { return data.data() + i * pixels(); }
};

// Reads an uncompressed idx image file. Refuses more than kIdxMaxImages images and sides of 0
// or above kIdxMaxSide before allocating, and a file size other than header + n·rows·cols.
IdxImages read_idx_images(const std::string& path);

// Reads an uncompressed idx label file (one byte per label), with the same checks.
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// Checks that images and labels pair up: the same count, and every label below classes.
void check_pair(const IdxImages& images, const std::vector<std::uint8_t>& labels,
                const std::string& path_images, const std::string& path_labels, int classes);

}  // namespace bayescim::sim
