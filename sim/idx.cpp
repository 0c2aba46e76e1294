#include "sim/idx.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "sim/errors.h"

namespace bayescim::sim {

namespace {

namespace fs = std::filesystem;

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::uint32_t big_endian32(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

// One idx file being read: its name in messages, and the stream positioned after the header.
class IdxFile {
 public:
  IdxFile(const std::string& path, const char* kind, std::uint32_t magic, int dims)
      : path_(path), kind_(kind), header_bytes_(4 + 4 * static_cast<std::size_t>(dims)) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found) fail("no such file");
    if (ec) fail("cannot access it (" + ec.message() + ")");
    if (fs::is_directory(st)) fail("is a directory, expected a file");
    if (!fs::is_regular_file(st)) fail("is not a regular file");
    size_ = fs::file_size(path, ec);
    if (ec) fail("cannot get its size (" + ec.message() + ")");
    if (size_ == 0) fail("is empty, expected a header starting with magic " + hex32(magic));

    in_.open(path, std::ios::binary);
    if (!in_) fail(std::string("cannot open (") + std::strerror(errno) + ")");
    header_.resize(header_bytes_);
    in_.read(reinterpret_cast<char*>(header_.data()),
             static_cast<std::streamsize>(std::min<std::uintmax_t>(size_, header_bytes_)));

    if (size_ >= 4) check_magic(magic);
    if (size_ < header_bytes_)
      fail("is truncated: expected a header of " + std::to_string(header_bytes_) +
           " bytes, found " + std::to_string(size_) + " bytes");
    if (!in_) fail("read error in the header");
  }

  std::size_t dim(int i) const { return big_endian32(header_.data() + 4 + 4 * i); }

  // Checks the file holds exactly the header and `payload` bytes, then reads them.
  std::vector<std::uint8_t> read_payload(std::uintmax_t payload) {
    const std::uintmax_t expected = header_bytes_ + payload;
    if (size_ < expected)
      fail("is truncated: expected " + std::to_string(expected) + " bytes, found " +
           std::to_string(size_));
    if (size_ > expected)
      fail("has " + std::to_string(size_) + " bytes, expected " + std::to_string(expected) +
           ": trailing data after the last item");
    std::vector<std::uint8_t> data(static_cast<std::size_t>(payload));
    in_.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(payload));
    if (static_cast<std::uintmax_t>(in_.gcount()) != payload)
      fail("read error after " + std::to_string(header_bytes_ + in_.gcount()) + " of " +
           std::to_string(expected) + " bytes");
    return data;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(std::string(kind_) + " '" + path_ + "': " + what);
  }

 private:
  void check_magic(std::uint32_t expected) const {
    const std::uint32_t found = big_endian32(header_.data());
    if (found == expected) return;
    std::string hint;
    if (header_[0] == 0x1f && header_[1] == 0x8b)
      hint = " (the file looks gzip-compressed: gunzip it first)";
    else if (found == kIdxImagesMagic)
      hint = " (that is an idx image file)";
    else if (found == kIdxLabelsMagic)
      hint = " (that is an idx label file)";
    fail("wrong magic: found " + hex32(found) + ", expected " + hex32(expected) + hint);
  }

  std::string path_;
  const char* kind_;
  std::size_t header_bytes_;
  std::uintmax_t size_ = 0;
  std::ifstream in_;
  std::vector<unsigned char> header_;
};

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  IdxFile f(path, "idx image file", kIdxImagesMagic, 3);
  IdxImages img;
  img.n = f.dim(0);
  img.rows = f.dim(1);
  img.cols = f.dim(2);
  if (img.n > kIdxMaxImages)
    f.fail("header claims " + std::to_string(img.n) + " images, refusing more than " +
           std::to_string(kIdxMaxImages));
  if (img.rows == 0 || img.rows > kIdxMaxSide || img.cols == 0 || img.cols > kIdxMaxSide)
    f.fail("header claims images of " + std::to_string(img.rows) + "x" + std::to_string(img.cols) +
           " pixels, expected sides in [1, " + std::to_string(kIdxMaxSide) + "]");
  img.data = f.read_payload(std::uintmax_t{img.n} * img.rows * img.cols);
  return img;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  IdxFile f(path, "idx label file", kIdxLabelsMagic, 1);
  const std::size_t n = f.dim(0);
  if (n > kIdxMaxImages)
    f.fail("header claims " + std::to_string(n) + " labels, refusing more than " +
           std::to_string(kIdxMaxImages));
  return f.read_payload(n);
}

void check_pair(const IdxImages& images, const std::vector<std::uint8_t>& labels,
                const std::string& path_images, const std::string& path_labels, int classes) {
  if (classes < 1 || classes > 256)
    throw std::invalid_argument("check_pair: classes must be in [1, 256], got " +
                                std::to_string(classes));
  if (images.n != labels.size())
    throw InputError("idx files '" + path_images + "' and '" + path_labels +
                     "' do not pair: " + std::to_string(images.n) + " images but " +
                     std::to_string(labels.size()) + " labels");
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= classes)
      throw InputError("idx label file '" + path_labels + "': label " + std::to_string(labels[i]) +
                       " at index " + std::to_string(i) + " is not below the " +
                       std::to_string(classes) + " classes");
}

}  // namespace bayescim::sim
