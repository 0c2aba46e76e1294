#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/atomic_file.h"

namespace bayescim::sim {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string temp_of(const fs::path& p) { return p.string() + ".tmp." + std::to_string(::getpid()); }

// A fresh directory per test, removed afterwards.
class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("bayescim_atomic_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesContentAndLeavesNoTemporary) {
  const fs::path p = dir_ / "out.txt";
  const std::string content("line 1\nline 2\n\0binary", 21);
  write_file_atomic(p.string(), content);
  EXPECT_EQ(slurp(p), content);
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, WritesEmptyContent) {
  const fs::path p = dir_ / "empty";
  write_file_atomic(p.string(), "");
  EXPECT_TRUE(fs::is_regular_file(p));
  EXPECT_EQ(fs::file_size(p), 0u);
}

TEST_F(AtomicFileTest, ReplacesExistingFile) {
  const fs::path p = dir_ / "out.txt";
  write_file_atomic(p.string(), "a much longer old content\n");
  write_file_atomic(p.string(), "new\n");
  EXPECT_EQ(slurp(p), "new\n");
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, PathIsADirectoryThrowsAndLeavesItIntact) {
  const fs::path p = dir_ / "taken";
  fs::create_directory(p);
  write_file_atomic((p / "inside").string(), "kept");
  try {
    write_file_atomic(p.string(), "new");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Is a directory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(p / "inside"), "kept");
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"taken"});  // no temporary left
}

TEST_F(AtomicFileTest, TemporaryCannotBeCreatedLeavesOldFile) {
  // The temporary's name is taken by a directory: creating it fails even for root.
  const fs::path p = dir_ / "out.txt";
  write_file_atomic(p.string(), "old");
  fs::create_directory(temp_of(p));
  try {
    write_file_atomic(p.string(), "new");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(p), "old");
  EXPECT_TRUE(fs::is_directory(temp_of(p)));  // not ours to remove
}

TEST_F(AtomicFileTest, MissingDirectoryThrows) {
  const fs::path p = dir_ / "no-such-dir" / "out.txt";
  try {
    write_file_atomic(p.string(), "x");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
        << e.what();
  }
}

TEST_F(AtomicFileTest, WriterCommitPublishesStreamedContent) {
  const fs::path p = dir_ / "pred.csv";
  write_file_atomic(p.string(), "old");
  {
    AtomicWriter w(p.string());
    w.stream() << "image,label,pred\n";
    for (int i = 0; i < 1000; ++i) w.stream() << i << ',' << i % 10 << ',' << i % 7 << '\n';
    EXPECT_EQ(slurp(p), "old");  // nothing visible before commit
    w.commit();
    EXPECT_THROW(w.stream(), std::logic_error);
    EXPECT_THROW(w.commit(), std::logic_error);
  }
  const std::string got = slurp(p);
  EXPECT_EQ(got.rfind("image,label,pred\n0,0,0\n", 0), 0u);
  EXPECT_NE(got.find("\n999,9,5\n"), std::string::npos);
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"pred.csv"});
}

TEST_F(AtomicFileTest, WriterWithoutCommitRemovesTemporaryAndKeepsOldFile) {
  const fs::path p = dir_ / "pred.csv";
  write_file_atomic(p.string(), "old");
  {
    AtomicWriter w(p.string());
    w.stream() << "partial";
    EXPECT_TRUE(fs::exists(temp_of(p)));
  }
  EXPECT_EQ(slurp(p), "old");
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"pred.csv"});
}

TEST_F(AtomicFileTest, WriterCommitOverDirectoryThrowsAndCleansUp) {
  const fs::path p = dir_ / "taken";
  fs::create_directory(p);
  AtomicWriter w(p.string());
  w.stream() << "data";
  EXPECT_THROW(w.commit(), std::runtime_error);
  EXPECT_TRUE(fs::is_directory(p));
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"taken"});
}

TEST_F(AtomicFileTest, WriterCannotCreateTemporaryThrows) {
  EXPECT_THROW(AtomicWriter((dir_ / "no-such-dir" / "x.csv").string()), std::runtime_error);
}

}  // namespace
}  // namespace bayescim::sim
