#include "sim/cli.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <sstream>

#include "bayescim_version.h"  // generated at configure time (CMakeLists.txt)
#include "sim/resources.h"

namespace bayescim::sim {
namespace po = boost::program_options;

namespace {

const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
constexpr int kMaxJobs = 256;

const char* const kExitCodes =
    "exit codes: 0 ok, 1 input error, 2 usage error, 3 internal error,\n"
    "            130/143 interrupted by SIGINT/SIGTERM (no report written)\n";

// The options a command accepts, as a description Program_options parses and prints.
po::options_description config_options() {
  po::options_description d("Configuration");
  std::string levels;
  for (const char* l : kLogLevels) levels += (levels.empty() ? "" : "|") + std::string(l);
  d.add_options()
      ("set", po::value<std::vector<std::string>>()->value_name("KEY=VALUE")->composing(),
       "override any config key (repeatable), e.g. --set mc.samples=5")
      ("limit", po::value<std::string>()->value_name("N"), "only the first N images of each split")
      ("log-level", po::value<std::string>()->value_name("LEVEL"), (levels + " (overrides log.level)").c_str());
  return d;
}

po::options_description resource_options() {
  po::options_description d("Resources");
  d.add_options()
      ("jobs", po::value<std::string>()->value_name("N"),
       "split the images over N worker processes, 1 to 256 (same results as 1; default 1)")
      ("max-memory", po::value<std::string>()->value_name("SIZE"),
       "refuse runs estimated to need more (e.g. 8G; 0 = no limit; default 4G, or 3/4 of the physical "
       "memory if less)");
  return d;
}

po::options_description output_options() {
  po::options_description d("Output");
  d.add_options()
      ("out", po::value<std::string>()->value_name("DIR"), "output folder (default: out/<experiment name>/)")
      ("vcd", po::value<std::string>()->value_name("FILE"),
       "write VCD waveforms of the first image's samples (see the trace.* keys)")
      ("samples-csv", "also write samples.csv (every MC sample's bits and logits)")
      ("plots", "also write PNG plots beside the report (sim/plots.py, /usr/bin/python3)")
      ("quiet", "no progress display");
  return d;
}

po::options_description help_option() {
  po::options_description d("Help");
  d.add_options()("help,h", "print this help and exit");
  return d;
}

// One command: its name, positional argument, what it does, and its options. A new command is
// one entry here, an enum value in sim/cli.h, the reading of its options in parse_command_line
// and its action in sim/main.cpp.
struct CommandSpec {
  Command id;
  const char* name;
  const char* positional;  // shown in the usage line; exactly one is required
  const char* summary;     // one line, for the top-level help
  const char* description;
  std::function<po::options_description()> options;
};

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> table = {
      {Command::Run, "run", "CONFIG.yaml", "run an experiment and write its report",
       "Runs the experiment CONFIG.yaml (with the files it includes) on the simulated accelerator, or\n"
       "on the reference executor (experiment.engine), and writes report.json, predictions.csv and\n"
       "layers.csv to the output folder.",
       [] {
         po::options_description d;
         d.add(config_options()).add(output_options()).add(resource_options()).add(help_option());
         return d;
       }},
      {Command::Validate, "validate", "CONFIG.yaml", "check a config without running it",
       "Loads and checks CONFIG.yaml, the files it includes, the model and its dropout layers, and\n"
       "the memory the run would need; runs nothing and writes nothing.",
       [] {
         po::options_description d;
         d.add(config_options()).add(resource_options()).add(help_option());
         return d;
       }},
      {Command::Device, "device", "DEVICE.yaml", "characterise a stochastic-MTJ device (macrospin solver)",
       "Runs the macrospin solver (stochastic LLG with spin-transfer torque) on the llg section of a\n"
       "stochastic-MTJ device file and writes DIR/switching.csv (p against current or pulse width, with\n"
       "95 % Clopper-Pearson intervals, energy and latency per random bit) and DIR/switching.png.\n"
       "Without --current-uA / --current-density it sweeps the current from 0 to the junction-voltage\n"
       "limit at the write pulse and, if p stays below ~1 there, the pulse width at the limit.\n"
       "With --table FILE it writes the run-time switching table (current x pulse x temperature) instead.",
       [] {
         po::options_description d("Device");
         d.add_options()
             ("current-uA", po::value<std::string>()->value_name("A:B:N"),
              "sweep the write current, N points from A to B uA")
             ("current-density", po::value<std::string>()->value_name("A:B:N"),
              "sweep the write current density, N points from A to B A/m^2")
             ("pulse-ns", po::value<std::string>()->value_name("T|A:B:N"),
              "write pulse in ns, or a sweep of it (default: the device's write_pulse_ns)")
             ("temperature-K", po::value<std::string>()->value_name("T[,T...]"),
              "temperature(s) in K (default: the device's temperature_K)")
             ("samples", po::value<std::string>()->value_name("N"), "trials per point, 1 to 10^7 (default 1000)")
             ("seed", po::value<std::string>()->value_name("N"),
              "solver seed (default 1); same seed, same results for any --jobs")
             ("jobs", po::value<std::string>()->value_name("N"), "worker threads, 1 to 256 (default 1)")
             ("out", po::value<std::string>()->value_name("DIR"), "output folder (default: out/device/<file stem>/)")
             ("table", po::value<std::string>()->value_name("FILE"),
              "write the run-time switching table to FILE (the device's switching_table) instead of the sweep; "
              "points FILE already holds for the same free layer, solver, samples and seed are kept, not rerun")
             ("beyond-voltage-limit", "allow currents above max_junction_voltage_V / R_AP (with a warning)")
             ("quiet", "no progress display");
         d.add(help_option());
         return d;
       }},
      {Command::Completion, "completion", "SHELL", "print a shell completion script (bash)",
       "Prints a bash completion script generated from the commands' option descriptions:\n"
       "  source <(build/bayescim completion bash)",
       [] { return help_option(); }},
  };
  return table;
}

const CommandSpec* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

std::string command_names() {
  std::string s;
  for (const auto& c : commands()) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

po::options_description top_level_options() {
  po::options_description d("Options");
  d.add_options()("help,h", "print this help and exit")("version", "print the version and the commit it was built from");
  return d;
}

std::string top_level_help() {
  std::ostringstream os;
  os << "usage: bayescim COMMAND [options]\n"
        "       bayescim --help | --version\n\n"
        "A SystemC/TLM simulator of STT-MRAM compute-in-memory accelerators for binary Bayesian\n"
        "neural networks.\n\nCommands:\n";
  for (const auto& c : commands()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-24s %s\n", (std::string(c.name) + " " + c.positional).c_str(), c.summary);
    os << buf;
  }
  os << "\n'bayescim COMMAND --help' lists the options of a command.\n\n" << top_level_options() << "\n" << kExitCodes;
  return os.str();
}

std::string command_help(const CommandSpec& c) {
  std::ostringstream os;
  os << "usage: " << usage_line(c.name) << "\n\n" << c.description << "\n" << c.options() << "\n" << kExitCodes;
  return os.str();
}

// Program_options' own exceptions, as one line naming the option.
std::string describe(const po::error& e) {
  if (const auto* u = dynamic_cast<const po::unknown_option*>(&e)) return "unknown option '" + u->get_option_name() + "'";
  if (const auto* m = dynamic_cast<const po::multiple_occurrences*>(&e))
    return "option " + m->get_option_name() + " given more than once";
  if (const auto* s = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
    switch (s->kind()) {
      case po::invalid_syntax::missing_parameter: return "option " + s->get_option_name() + " needs a value";
      case po::invalid_syntax::extra_parameter: return "option " + s->get_option_name() + " takes no value";
      default: break;
    }
  }
  return e.what();
}

// Integers with a one-line message naming the option and the range.
long long to_integer(const std::string& option, const std::string& v, long long lo, long long hi,
                     const std::string& expected) {
  long long n = 0;
  const char* end = v.data() + v.size();
  const auto [ptr, ec] = std::from_chars(v.data(), end, n);
  if (v.empty() || ec != std::errc() || ptr != end || n < lo || n > hi)
    throw UsageError(option + " expects " + expected + ", got '" + v + "'");
  return n;
}

double to_real(const std::string& option, const std::string& v, double lo, double hi, const std::string& expected) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x) || x < lo || x > hi)
    throw UsageError(option + " expects " + expected + ", got '" + v + "'");
  return x;
}

// "A:B:N" (or, when single_ok... a single value "A"), A <= B, N in [1, 1000] (N = 1 needs A = B).
SweepRange to_range(const std::string& option, const std::string& v, double lo, double hi, bool range_only) {
  const std::string expected = std::string(range_only ? "" : "a value or ") + "A:B:N with " +
                               (lo == 0.0 ? "0" : std::to_string(lo)) + " <= A <= B, N in [1, 1000]";
  SweepRange r;
  const auto c1 = v.find(':');
  if (c1 == std::string::npos) {
    if (range_only) throw UsageError(option + " expects " + expected + ", got '" + v + "'");
    r.lo = r.hi = to_real(option, v, lo, hi, expected);
    return r;
  }
  const auto c2 = v.find(':', c1 + 1);
  if (c2 == std::string::npos) throw UsageError(option + " expects " + expected + ", got '" + v + "'");
  r.lo = to_real(option, v.substr(0, c1), lo, hi, expected);
  r.hi = to_real(option, v.substr(c1 + 1, c2 - c1 - 1), lo, hi, expected);
  r.n = static_cast<int>(to_integer(option, v.substr(c2 + 1), 1, 1000, expected));
  if (r.hi < r.lo || (r.n == 1 && r.hi != r.lo) || (r.n > 1 && r.hi == r.lo))
    throw UsageError(option + " expects " + expected + ", got '" + v + "'");
  return r;
}

// An option given twice counts once, with its last value (`--limit 60 ... --limit 8` is 8), so
// that a wrapper can append to a user's options; --set and the positional arguments accumulate.
void keep_last_occurrences(po::parsed_options& parsed) {
  auto& o = parsed.options;
  for (std::size_t i = o.size(); i-- > 0;) {
    if (o[i].string_key == "set" || o[i].string_key == "positional") continue;
    for (std::size_t j = i; j-- > 0;)
      if (o[j].string_key == o[i].string_key) {
        o.erase(o.begin() + static_cast<std::ptrdiff_t>(j));
        --i;
      }
  }
}

constexpr int kStyle = po::command_line_style::unix_style ^ po::command_line_style::allow_guessing;

}  // namespace

std::string usage_line(const std::string& command) {
  if (const CommandSpec* c = find_command(command))
    return "bayescim " + std::string(c->name) + " " + c->positional + " [options]";
  return "bayescim COMMAND [options]";
}

std::string version_text() {
  return std::string("bayescim ") + BAYESCIM_VERSION + " (commit " + BAYESCIM_GIT_COMMIT + ")\n";
}

namespace {

std::string bash_completion();

}  // namespace

Cli parse_command_line(const std::vector<std::string>& args) {
  Cli cli;
  // Top-level options come before the command: the first argument that is not an option.
  std::size_t at = 0;
  while (at < args.size() && !args[at].empty() && args[at][0] == '-') ++at;
  {
    po::variables_map vm;
    try {
      const std::vector<std::string> top(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(at));
      po::store(po::command_line_parser(top).options(top_level_options()).style(kStyle).run(), vm);
    } catch (const po::error& e) {
      throw UsageError(describe(e) + " before the command");
    }
    if (vm.count("help")) {
      cli.print_only = true;
      cli.text = top_level_help();
      return cli;
    }
    if (vm.count("version")) {
      cli.print_only = true;
      cli.text = version_text();
      return cli;
    }
  }
  if (at == args.size()) throw UsageError("missing command (allowed: " + command_names() + ")");
  const CommandSpec* spec = find_command(args[at]);
  if (!spec) throw UsageError("unknown command '" + args[at] + "' (allowed: " + command_names() + ")");
  cli.command = spec->id;

  po::options_description visible = spec->options();
  po::options_description all;
  all.add(visible).add_options()("positional", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("positional", -1);
  po::variables_map vm;
  try {
    const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(at) + 1, args.end());
    po::parsed_options parsed = po::command_line_parser(rest).options(all).positional(positional).style(kStyle).run();
    keep_last_occurrences(parsed);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(describe(e), spec->name);
  }
  if (vm.count("help")) {
    cli.print_only = true;
    cli.text = command_help(*spec);
    return cli;
  }
  const auto pos = vm.count("positional") ? vm["positional"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (pos.empty()) throw UsageError("missing " + std::string(spec->positional), spec->name);
  if (pos.size() > 1)
    throw UsageError("unexpected argument '" + pos[1] + "' (one " + spec->positional + " expected)", spec->name);

  auto str = [&](const char* name) -> const std::string* {
    return vm.count(name) ? &vm[name].as<std::string>() : nullptr;
  };
  try {
    switch (spec->id) {
      case Command::Completion:
        if (pos[0] != "bash") throw UsageError("unsupported shell '" + pos[0] + "' (allowed: bash)", spec->name);
        cli.print_only = true;
        cli.text = bash_completion();
        return cli;
      case Command::Device: {
        cli.config = pos[0];
        auto& o = cli.device;
        if (const auto* v = str("current-uA")) {
          o.current_A = to_range("--current-uA", *v, 0.0, 1e5, true);
          o.current_A->lo *= 1e-6;
          o.current_A->hi *= 1e-6;
        }
        if (const auto* v = str("current-density"))
          o.density_A_per_m2 = to_range("--current-density", *v, 0.0, 1e14, true);
        if (o.current_A && o.density_A_per_m2)
          throw UsageError("--current-uA and --current-density exclude each other (give one)");
        if (const auto* v = str("pulse-ns")) {
          o.pulse_s = to_range("--pulse-ns", *v, 1e-3, 1e6, false);
          o.pulse_s->lo *= 1e-9;
          o.pulse_s->hi *= 1e-9;
        }
        if (const auto* v = str("temperature-K")) {
          std::stringstream ss(*v);
          for (std::string t; std::getline(ss, t, ',');)
            o.temperatures_K.push_back(
                to_real("--temperature-K", t, 1.0, 2000.0, "temperatures in [1, 2000] K, comma-separated"));
          std::sort(o.temperatures_K.begin(), o.temperatures_K.end());
          if (o.temperatures_K.empty() ||
              std::adjacent_find(o.temperatures_K.begin(), o.temperatures_K.end()) != o.temperatures_K.end())
            throw UsageError("--temperature-K expects distinct temperatures in [1, 2000] K, comma-separated, got '" +
                             *v + "'");
        }
        if (const auto* v = str("samples"))
          o.samples = static_cast<int>(to_integer("--samples", *v, 1, 10000000, "an integer in [1, 10^7]"));
        if (const auto* v = str("seed"))
          o.seed = static_cast<std::uint64_t>(
              to_integer("--seed", *v, 0, std::numeric_limits<long long>::max(), "a non-negative integer"));
        if (const auto* v = str("jobs"))
          cli.jobs = static_cast<int>(to_integer("--jobs", *v, 1, kMaxJobs, "an integer in [1, 256]"));
        if (const auto* v = str("out")) o.out_dir = *v;
        if (const auto* v = str("table")) o.table = *v;
        if (!o.table.empty() && (o.current_A || o.density_A_per_m2 || o.pulse_s || vm.count("out")))
          throw UsageError(
              "--table makes its own grid: it takes no --current-uA, --current-density, --pulse-ns or --out");
        o.beyond_limit = vm.count("beyond-voltage-limit") > 0;
        o.quiet = vm.count("quiet") > 0;
        return cli;
      }
      case Command::Run:
      case Command::Validate:
        cli.config = pos[0];
        if (vm.count("set")) cli.overrides.sets = vm["set"].as<std::vector<std::string>>();
        if (const auto* v = str("limit"))
          cli.overrides.limit = static_cast<std::size_t>(
              to_integer("--limit", *v, 1, std::numeric_limits<long long>::max(), "a positive integer"));
        if (const auto* v = str("jobs"))
          cli.jobs = static_cast<int>(to_integer("--jobs", *v, 1, kMaxJobs, "an integer in [1, 256]"));
        cli.max_memory = default_memory_limit();
        if (const auto* v = str("max-memory")) {
          try {
            cli.max_memory = parse_memory_size(*v);
          } catch (const std::invalid_argument& e) {
            throw UsageError("--max-memory " + std::string(e.what()));
          }
        }
        // Options that are config keys become --set overrides after the explicit ones (they win).
        if (const auto* v = str("log-level")) cli.overrides.sets.push_back("log.level=" + *v);
        if (vm.count("out")) cli.overrides.out_dir = vm["out"].as<std::string>();
        if (vm.count("vcd")) cli.overrides.vcd = vm["vcd"].as<std::string>();
        if (vm.count("samples-csv")) cli.overrides.sets.push_back("output.samples_csv=true");
        if (vm.count("quiet")) cli.overrides.sets.push_back("output.progress=false");
        cli.plots = vm.count("plots") > 0;
        return cli;
    }
  } catch (const UsageError& e) {
    throw UsageError(e.what(), spec->name);
  }
  return cli;
}

namespace {

// The bash completion script, generated from the command table and the option descriptions:
// option names per command, and for an option's value, what its value name says it is.
std::string bash_completion() {
  std::ostringstream os;
  std::string names;
  for (const auto& c : commands()) names += std::string(c.name) + " ";
  std::string levels;
  for (const char* l : kLogLevels) levels += std::string(l) + " ";
  os << "# bash completion for bayescim, generated by `bayescim completion bash`\n"
        "_bayescim() {\n"
        "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
        "  if ((COMP_CWORD == 1)); then\n"
        "    COMPREPLY=($(compgen -W \""
     << names << "--help --version\" -- \"$cur\")); return\n"
        "  fi\n"
        "  case ${COMP_WORDS[1]} in\n";
  for (const auto& c : commands()) {
    std::string opts, files, dirs, level_opts, free;
    const po::options_description desc = c.options();
    for (const auto& o : desc.options()) {
      const std::string name = o->canonical_display_name(po::command_line_style::allow_long);
      opts += name + " ";
      if (o->semantic()->max_tokens() == 0) continue;
      const std::string arg = o->format_parameter();
      if (arg == "FILE") files += (files.empty() ? "" : "|") + name;
      else if (arg == "DIR") dirs += (dirs.empty() ? "" : "|") + name;
      else if (arg == "LEVEL") level_opts += (level_opts.empty() ? "" : "|") + name;
      else free += (free.empty() ? "" : "|") + name;
    }
    os << "    " << c.name << ")\n      case $prev in\n";
    if (!files.empty()) os << "        " << files << ") compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n";
    if (!dirs.empty()) os << "        " << dirs << ") compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n";
    if (!level_opts.empty()) os << "        " << level_opts << ") COMPREPLY=($(compgen -W \"" << levels << "\" -- \"$cur\")); return ;;\n";
    if (!free.empty()) os << "        " << free << ") return ;;\n";
    os << "      esac\n"
          "      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \""
       << opts << "\" -- \"$cur\"))\n";
    if (std::string(c.positional) == "SHELL")
      os << "      else COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")); fi ;;\n";
    else
      os << "      else compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); fi ;;\n";
  }
  os << "  esac\n}\ncomplete -F _bayescim bayescim\n";
  return os.str();
}

}  // namespace

}  // namespace bayescim::sim
