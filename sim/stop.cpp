#include "sim/stop.h"

#include <csignal>
#include <cstring>

namespace bayescim::sim {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) { g_signal = sig; }

}  // namespace

void install_stop_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // no SA_RESTART: a blocking wait returns EINTR and rechecks
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_signal != 0; }

int stop_signal() { return g_signal; }

std::string signal_name(int sig) {
  if (sig == SIGINT) return "SIGINT";
  if (sig == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(sig);
}

Interrupted::Interrupted(std::size_t done_images, std::size_t total_images)
    : std::runtime_error("interrupted after " + std::to_string(done_images) + " of " +
                         std::to_string(total_images) + " images"),
      done(done_images),
      total(total_images) {}

}  // namespace bayescim::sim
