// Memory estimates: a model or config that needs more memory than the limit is refused before
// anything large is allocated (a typo such as `array.rows: 1` makes hundreds of thousands of
// tiles, each a SystemC module). The estimate is deliberately simple and on the high side; it is
// printed with the refusal so the user can see which part is too large.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/network.h"
#include "sim/config.h"

namespace bayescim::sim {

// Bytes of one crossbar tile besides its cells: the SystemC module, its socket, signals, logger
// and statistics. Measured 13.6 KiB (maximum RSS of the MLP mapped onto 8x8 against 16x16
// arrays; docs/reliability.md), rounded up.
constexpr double kTileOverheadBytes = 16 * 1024;

struct MemoryEstimate {
  struct Part {
    std::string what;
    double bytes = 0;
  };
  std::vector<Part> parts;
  double total() const;
  // "3.2 GiB (crossbar tiles 2.9 GiB: 400000 arrays x 2 workers; datasets 15 MiB; ...)"
  std::string describe() const;
};

// What a run of `net` under `cfg` with `workers` processes needs at its peak.
MemoryEstimate estimate_memory(const ExperimentConfig& cfg, const models::Network& net, int workers);

// The default limit: 4 GiB, or 3/4 of the physical memory (sysconf) when that is less.
std::uint64_t default_memory_limit();

// Parses a size: bytes, or a number with K, M, G, T (powers of 1024, optional "iB" or "B"), e.g.
// "4G", "512MiB", "1.5g". "0" means no limit. Throws std::invalid_argument when malformed.
std::uint64_t parse_memory_size(const std::string& text);

// "1.5 GiB", "12 MiB", "300 B".
std::string format_bytes(double bytes);

// Throws InputError naming the config, the estimate and the limit when the estimate is above the
// limit (0 = no limit).
void check_memory(const ExperimentConfig& cfg, const models::Network& net, int workers,
                  std::uint64_t limit);

}  // namespace bayescim::sim
