#include "sim/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace bayescim::sim {

using clock_type = std::chrono::steady_clock;

Progress::Progress(std::string what, std::size_t total, bool enabled, std::string unit, std::string unit_short)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      unit_short_(std::move(unit_short)),
      total_(total),
      enabled_(enabled && total > 0),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(clock_type::now()),
      last_(start_) {}

void Progress::update(std::size_t done) {
  if (!enabled_) return;
  const auto now = clock_type::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? 0.2 : 10.0) && done < total_) return;
  last_ = now;
  const double el = std::chrono::duration<double>(now - start_).count();
  const double rate = el > 0 ? static_cast<double>(done) / el : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  const double pct = 100.0 * static_cast<double>(done) / static_cast<double>(total_);
  if (tty_) {
    std::fprintf(stderr, "\r%s %zu/%zu (%5.1f%%)  %.0f %s/s  ETA %.0f s   ", what_.c_str(), done, total_, pct, rate,
                 unit_short_.c_str(), eta);
    std::fflush(stderr);
  } else {
    spdlog::info("{}: {}/{} {} ({:.1f}%), {:.0f} {}/s, ETA {:.0f} s", what_, done, total_, unit_, pct, rate,
                 unit_short_, eta);
  }
}

void Progress::finish() {
  if (enabled_ && tty_) std::fprintf(stderr, "\n");
}

}  // namespace bayescim::sim
