// Progress of a long run: a live line with rate and ETA on a terminal, periodic log lines otherwise.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace bayescim::sim {

class Progress {
 public:
  Progress(std::string what, std::size_t total, bool enabled);
  void update(std::size_t done);
  void finish();

 private:
  std::string what_;
  std::size_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace bayescim::sim
