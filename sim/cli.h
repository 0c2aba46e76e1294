// The command line of the bayescim executable: `bayescim [--help | --version] COMMAND [options]`,
// parsed with Boost.Program_options. Each command is one entry of a table (name, positional
// arguments, options, summary) in sim/cli.cpp; its --help and the bash completion are generated
// from the same option descriptions.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/config.h"

namespace bayescim::sim {

// A malformed command line (exit code 2). `command` is the command it belongs to, if known, so
// the one-line message can point at that command's --help.
struct UsageError : std::runtime_error {
  UsageError(const std::string& what, std::string command = {})
      : std::runtime_error(what), command(std::move(command)) {}
  std::string command;
};

enum class Command {
  Run,         // run an experiment and write its outputs
  Validate,    // check a config (and its includes, model and memory estimate) without running
  Completion,  // print a shell completion script
  Device,      // characterise a stochastic-MTJ device file with the macrospin solver
};

// A sweep axis a:b:n (n points from a to b, evenly spaced; n = 1 is the single value a = b).
struct SweepRange {
  double lo = 0, hi = 0;
  int n = 1;
  double at(int i) const { return n == 1 ? lo : lo + (hi - lo) * i / (n - 1); }
};

// `bayescim device FILE.yaml` (sim/device_command.h).
struct DeviceOptions {
  std::optional<SweepRange> current_A;         // --current-uA, in A
  std::optional<SweepRange> density_A_per_m2;  // --current-density
  std::optional<SweepRange> pulse_s;           // --pulse-ns, in s (one value or a:b:n)
  std::vector<double> temperatures_K;          // --temperature-K (one value or a comma list); empty: the device's
  int samples = 1000;                          // --samples: trials per point
  std::uint64_t seed = 1;                      // --seed
  std::string out_dir;                         // --out ("" = out/device/<file stem>)
  std::string table;                           // --table FILE: write the run-time switching table instead
  bool beyond_limit = false;                   // --beyond-voltage-limit
  bool quiet = false;                          // --quiet: no progress
};

struct Cli {
  // What to do: print `text` (help, version, completion script) and exit 0, or run `command`.
  bool print_only = false;
  std::string text;
  Command command = Command::Run;
  std::string config;       // run, validate: CONFIG.yaml
  int jobs = 1;             // run, validate
  bool plots = false;       // run
  std::uint64_t max_memory = 0;  // run, validate (set to default_memory_limit() by the parser)
  CliOverrides overrides;   // run, validate
  DeviceOptions device;     // device (config holds FILE.yaml; jobs is shared)
};

// Parses argv[1..]. Throws UsageError with a one-line message naming the option and what it
// expects. `--help` anywhere, `--version` and `completion` give print_only.
Cli parse_command_line(const std::vector<std::string>& args);

// "bayescim run CONFIG.yaml [options]", or the overall synopsis for an empty/unknown command.
std::string usage_line(const std::string& command);

// `bayescim --version`: the version and the commit the build was configured from.
std::string version_text();

}  // namespace bayescim::sim
