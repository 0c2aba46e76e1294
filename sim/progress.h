// Progress of a long run: a live line with rate and ETA on a terminal, periodic log lines otherwise.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace bayescim::sim {

class Progress {
 public:
  // `unit`: what is counted ("images"; "img" in the rate), e.g. "points" / "pt".
  Progress(std::string what, std::size_t total, bool enabled, std::string unit = "images", std::string unit_short = "img");
  void update(std::size_t done);
  void finish();

 private:
  std::string what_, unit_, unit_short_;
  std::size_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace bayescim::sim
