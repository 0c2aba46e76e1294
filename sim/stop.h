// Clean stops on SIGINT and SIGTERM: the handler only sets a flag; the runner checks it between
// images, stops, and throws Interrupted, so no output that looks complete is written.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace bayescim::sim {

// Installs the handlers for SIGINT and SIGTERM. Each is one-shot (SA_RESETHAND): a second Ctrl-C
// kills the process at once, the usual escape when a stop takes too long.
void install_stop_handlers();

// True once SIGINT or SIGTERM has arrived (async-signal-safe to read).
bool stop_requested();

// The signal that asked for the stop (SIGINT or SIGTERM), 0 if none.
int stop_signal();

// "SIGINT", "SIGTERM", or "signal N".
std::string signal_name(int sig);

// Thrown by the runner when it stopped between images because a stop was requested.
struct Interrupted : std::runtime_error {
  Interrupted(std::size_t done_images, std::size_t total_images);
  std::size_t done, total;
};

}  // namespace bayescim::sim
