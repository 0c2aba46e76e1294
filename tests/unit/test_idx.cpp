#include <gtest/gtest.h>

#include "tests/util/errors.h"
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "sim/errors.h"
#include "sim/idx.h"

namespace bayescim::sim {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<std::uint8_t>;

void put_be32(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
}

Bytes header(std::uint32_t magic, std::initializer_list<std::uint32_t> dims) {
  Bytes b;
  put_be32(b, magic);
  for (std::uint32_t d : dims) put_be32(b, d);
  return b;
}

// A fresh directory per test, removed afterwards.
class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("bayescim_idx_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const Bytes& bytes) const {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }

  fs::path dir_;
};

// Runs f, which must throw InputError, and returns its message.
template <typename F>
std::string input_error_of(F f) {
  return bayescim::testing::error_of<InputError>(f);
}

// 3 images of 2x4 pixels holding 0..23, and their labels.
Bytes valid_images() {
  Bytes b = header(0x00000803, {3, 2, 4});
  for (int i = 0; i < 24; ++i) b.push_back(static_cast<std::uint8_t>(i));
  return b;
}

Bytes valid_labels() {
  Bytes b = header(0x00000801, {3});
  for (std::uint8_t l : {7, 0, 9}) b.push_back(l);
  return b;
}

TEST_F(IdxTest, ReadsValidFiles) {
  const IdxImages img = read_idx_images(write("img", valid_images()));
  EXPECT_EQ(img.n, 3u);
  EXPECT_EQ(img.rows, 2u);
  EXPECT_EQ(img.cols, 4u);
  ASSERT_EQ(img.data.size(), 24u);
  EXPECT_EQ(img.data[23], 23);
  EXPECT_EQ(img.image(2)[0], 16);  // third image starts at 2·8

  const Bytes labels = read_idx_labels(write("lbl", valid_labels()));
  EXPECT_EQ(labels, (Bytes{7, 0, 9}));
  EXPECT_NO_THROW(check_pair(img, labels, "img", "lbl", 10));
}

TEST_F(IdxTest, BigEndianDimensions) {
  // 258 = 0x00000102: a little-endian reader would see 0x02010000.
  Bytes b = header(0x00000801, {258});
  b.resize(b.size() + 258, 1);
  EXPECT_EQ(read_idx_labels(write("lbl", b)).size(), 258u);
}

TEST_F(IdxTest, WrongMagicNamesFoundAndExpected) {
  const std::string path = write("img", valid_labels());
  const std::string msg = input_error_of([&] { read_idx_images(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 0x00000801"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 0x00000803"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label file"), std::string::npos) << msg;  // the hint
}

TEST_F(IdxTest, GzipFileGetsAHint) {
  const std::string path = write("img.gz", {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0});
  const std::string msg = input_error_of([&] { read_idx_images(path); });
  EXPECT_NE(msg.find("found 0x1f8b0800"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gunzip"), std::string::npos) << msg;
}

TEST_F(IdxTest, TruncatedDataNamesBothSizes) {
  Bytes b = valid_images();
  b.resize(16 + 10);  // header says 3·2·4 = 24 data bytes: 40 in all
  const std::string path = write("img", b);
  const std::string msg = input_error_of([&] { read_idx_images(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 40 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 26"), std::string::npos) << msg;
}

TEST_F(IdxTest, TruncatedHeader) {
  Bytes b = header(0x00000803, {3});  // 8 of the 16 header bytes
  const std::string path = write("img", b);
  const std::string msg = input_error_of([&] { read_idx_images(path); });
  EXPECT_NE(msg.find("header of 16 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 8 bytes"), std::string::npos) << msg;
}

TEST_F(IdxTest, TrailingBytesRejected) {
  Bytes b = valid_labels();
  b.push_back(0);
  const std::string path = write("lbl", b);
  const std::string msg = input_error_of([&] { read_idx_labels(path); });
  EXPECT_NE(msg.find("has 12 bytes, expected 11"), std::string::npos) << msg;
}

TEST_F(IdxTest, EmptyFile) {
  const std::string path = write("lbl", {});
  const std::string msg = input_error_of([&] { read_idx_labels(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0x00000801"), std::string::npos) << msg;
}

TEST_F(IdxTest, DirectoryInsteadOfFile) {
  const std::string path = dir_.string();
  const std::string msg = input_error_of([&] { read_idx_images(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
}

TEST_F(IdxTest, MissingFile) {
  const std::string path = (dir_ / "no-such-file").string();
  const std::string msg = input_error_of([&] { read_idx_labels(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST_F(IdxTest, AbsurdDimensionsRefusedBeforeAllocating) {
  // Only a header: the checks must fire before the size check or any allocation.
  const std::string many = write("many", header(0x00000803, {20'000'000, 28, 28}));
  std::string msg = input_error_of([&] { read_idx_images(many); });
  EXPECT_NE(msg.find("20000000 images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("10000000"), std::string::npos) << msg;

  const std::string wide = write("wide", header(0x00000803, {1, 28, 5000}));
  msg = input_error_of([&] { read_idx_images(wide); });
  EXPECT_NE(msg.find("28x5000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4096"), std::string::npos) << msg;

  const std::string flat = write("flat", header(0x00000803, {1, 0, 28}));
  msg = input_error_of([&] { read_idx_images(flat); });
  EXPECT_NE(msg.find("0x28"), std::string::npos) << msg;

  const std::string labels = write("labels", header(0x00000801, {0xffffffffu}));
  msg = input_error_of([&] { read_idx_labels(labels); });
  EXPECT_NE(msg.find("4294967295 labels"), std::string::npos) << msg;
}

TEST_F(IdxTest, CheckPairCountMismatch) {
  const IdxImages img = read_idx_images(write("img", valid_images()));
  const Bytes labels = {1, 2};
  const std::string msg =
      input_error_of([&] { check_pair(img, labels, "a/img-file", "a/lbl-file", 10); });
  EXPECT_NE(msg.find("a/img-file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a/lbl-file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 images but 2 labels"), std::string::npos) << msg;
}

TEST_F(IdxTest, CheckPairLabelOutOfRange) {
  const IdxImages img = read_idx_images(write("img", valid_images()));
  const Bytes labels = {1, 10, 2};
  const std::string msg = input_error_of([&] { check_pair(img, labels, "i", "a/lbl", 10); });
  EXPECT_NE(msg.find("a/lbl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label 10 at index 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("10 classes"), std::string::npos) << msg;
}

}  // namespace
}  // namespace bayescim::sim
