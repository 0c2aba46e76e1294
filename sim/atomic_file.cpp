#include "sim/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace bayescim::sim {

namespace {

std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

[[noreturn]] void fail(const std::string& path, const std::string& step, int err) {
  const std::string reason = err != 0 ? std::strerror(err) : "unknown I/O error";
  throw std::runtime_error("cannot write '" + path + "': " + step + " failed: " + reason);
}

// Removes the temporary, then reports the failure that made it useless.
[[noreturn]] void discard_and_fail(const std::string& tmp, const std::string& path,
                                   const std::string& step, int err) {
  ::unlink(tmp.c_str());
  fail(path, step, err);
}

std::string parent_dir(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes the rename itself durable. Best effort: the new file is already in place.
void sync_parent_dir(const std::string& path) {
  const int fd = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// fsyncs, renames over path, and syncs the directory; the temporary is closed already.
void publish(const std::string& tmp, const std::string& path) {
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) discard_and_fail(tmp, path, "reopening temporary '" + tmp + "'", errno);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    discard_and_fail(tmp, path, "fsync of '" + tmp + "'", err);
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    discard_and_fail(tmp, path, "renaming '" + tmp + "' over it", errno);
  sync_parent_dir(path);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(path, "creating temporary '" + tmp + "'", errno);

  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      discard_and_fail(tmp, path, "writing '" + tmp + "'", err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) discard_and_fail(tmp, path, "closing '" + tmp + "'", errno);
  publish(tmp, path);
}

AtomicWriter::AtomicWriter(std::string path) : path_(std::move(path)), tmp_(temp_path_for(path_)) {
  errno = 0;
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_) fail(path_, "creating temporary '" + tmp_ + "'", errno);
}

AtomicWriter::~AtomicWriter() {
  if (finished_) return;
  out_.close();
  ::unlink(tmp_.c_str());
}

std::ostream& AtomicWriter::stream() {
  if (finished_) throw std::logic_error("AtomicWriter '" + path_ + "': stream() after commit()");
  return out_;
}

void AtomicWriter::commit() {
  if (finished_) throw std::logic_error("AtomicWriter '" + path_ + "': commit() called twice");
  finished_ = true;
  errno = 0;
  out_.flush();
  if (!out_) {
    const int err = errno;
    out_.close();
    discard_and_fail(tmp_, path_, "writing '" + tmp_ + "'", err);
  }
  errno = 0;
  out_.close();
  if (out_.fail()) discard_and_fail(tmp_, path_, "closing '" + tmp_ + "'", errno);
  publish(tmp_, path_);
}

}  // namespace bayescim::sim
