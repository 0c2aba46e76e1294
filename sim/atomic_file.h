#pragma once

// Crash-safe output files: the data goes to a temporary `path + ".tmp.<pid>"` beside the target,
// is fsynced, then renamed over the target. A reader sees the old file or the complete new one,
// never a partial one.

#include <fstream>
#include <ostream>
#include <string>

namespace bayescim::sim {

// Writes content to path atomically. On failure removes the temporary, leaves any old file at
// path untouched, and throws std::runtime_error naming the path and the errno text.
void write_file_atomic(const std::string& path, const std::string& content);

// Streams a large output (a CSV) to the temporary; commit() publishes it at path. Without
// commit(), for instance while an exception unwinds, the temporary is removed and path is left
// untouched.
class AtomicWriter {
 public:
  // Creates the temporary; throws std::runtime_error if it cannot.
  explicit AtomicWriter(std::string path);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  // The stream to write to, until commit(). Throws std::logic_error after commit().
  std::ostream& stream();

  // Flushes, fsyncs and renames the temporary over path. On failure removes the temporary and
  // throws std::runtime_error naming the path and the errno text. Callable once; a second call
  // throws std::logic_error.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string tmp_;
  std::ofstream out_;
  bool finished_ = false;  // commit() was called, successfully or not
};

}  // namespace bayescim::sim
