// The bayescim executable: `bayescim run CONFIG [options]`, `bayescim validate CONFIG [options]`,
// `bayescim device DEVICE.yaml [options]` (sim/device_command.h);
// the command line is parsed in sim/cli.cpp, each command's action is a function here.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <systemc>
#include <vector>

#include "sim/cli.h"
#include "sim/config.h"
#include "sim/device_command.h"
#include "sim/report.h"
#include "sim/resources.h"
#include "sim/runner.h"
#include "sim/stop.h"

namespace {

// Exit codes (README: "Exit codes"; docs/reliability.md). An interrupted run exits with 128 + the
// signal number: 130 for SIGINT, 143 for SIGTERM.
constexpr int kOk = 0, kInputError = 1, kUsageError = 2, kInternalError = 3;

// --plots: runs `/usr/bin/python3 sim/plots.py OUT_DIR` ($BAYESCIM_PLOTS_SCRIPT, or ../sim/plots.py from
// the executable's folder). Returns an empty string on success, else what went wrong.
std::string run_plots(const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::string script;
  if (const char* env = std::getenv("BAYESCIM_PLOTS_SCRIPT"); env && *env) {
    script = env;
  } else {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "cannot locate the executable (" + ec.message() + "); set BAYESCIM_PLOTS_SCRIPT";
    script = (exe.parent_path() / ".." / "sim" / "plots.py").lexically_normal().string();
  }
  if (!std::filesystem::exists(script)) return "plot script " + script + " does not exist (set BAYESCIM_PLOTS_SCRIPT)";
  std::fflush(stdout);
  std::string py = "/usr/bin/python3";
  std::vector<char*> argv = {py.data(), script.data(), const_cast<char*>(out_dir.c_str()), nullptr};
  pid_t pid = 0;
  if (const int e = posix_spawn(&pid, py.c_str(), nullptr, nullptr, argv.data(), environ))
    return "cannot start " + py + ": " + std::strerror(e);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return "waitpid failed: " + std::string(std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return py + " " + script + " " + out_dir + " failed (" +
         (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                            : "signal " + std::to_string(WTERMSIG(status))) + ")";
}

// The output folder and the VCD file must be usable before hours of simulation: a folder that
// is a file, or a VCD path that is a folder, is an input error now, not an internal one later.
void check_output_paths(const bayescim::sim::ExperimentConfig& cfg) {
  namespace fs = std::filesystem;
  using bayescim::sim::InputError;
  std::error_code ec;
  const fs::path out(cfg.out_dir);
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw InputError("output folder '" + cfg.out_dir + "' (--out or output.dir) exists and is not a folder");
  if (!cfg.trace.vcd.empty() && fs::is_directory(cfg.trace.vcd, ec))
    throw InputError("VCD file '" + cfg.trace.vcd + "' (--vcd or trace.vcd) is a folder, expected a file name");
  for (const fs::path& dir : {out, fs::path(cfg.trace.vcd).parent_path()}) {
    if (dir.empty()) continue;
    fs::create_directories(dir, ec);
    if (ec)
      throw InputError("cannot create the folder '" + dir.string() + "' for the outputs: " + ec.message() +
                       " (--out, output.dir, --vcd or trace.vcd)");
    if (::access(dir.c_str(), W_OK) != 0)
      throw InputError("folder '" + dir.string() + "' is not writable (--out, output.dir, --vcd or trace.vcd)");
  }
}

// `bayescim validate`: the config, its includes, the model file and the dropout layers it is asked
// for, and the memory the run would need.
int validate_command(const bayescim::sim::Cli& cli) {
  using namespace bayescim::sim;
  const ExperimentConfig cfg = load_experiment(cli.config, cli.overrides);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  for (const auto& w : cfg.warnings) spdlog::warn("{}: {}", cli.config, w);
  const auto net = load_model(cfg);
  check_dropout_p(cfg, net);
  check_memory(cfg, net, cli.jobs, cli.max_memory);
  std::printf("%s: valid\n", cli.config.c_str());
  return kOk;
}

// `bayescim run`: validates as above, runs, and writes the outputs.
int run_command(const bayescim::sim::Cli& cli) {
  using namespace bayescim::sim;
  const ExperimentConfig cfg = load_experiment(cli.config, cli.overrides);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  for (const auto& w : cfg.warnings) spdlog::warn("{}: {}", cli.config, w);
  check_memory(cfg, load_model(cfg), cli.jobs, cli.max_memory);
  check_output_paths(cfg);
  install_stop_handlers();
  const RunResult r = run_experiment(cfg, cli.jobs);
  if (r.interrupted || stop_requested()) {  // also when the signal came after the last image
    if (isatty(STDERR_FILENO)) std::fputc('\n', stderr);  // end the progress line
    if (!r.interrupted && !cfg.trace.vcd.empty()) {  // the run completed and published its VCD
      std::error_code ec;
      std::filesystem::remove(cfg.trace.vcd, ec);
      std::filesystem::remove(std::filesystem::path(cfg.trace.vcd).replace_extension(".gtkw"), ec);
    }
    const std::size_t done = r.interrupted ? r.images_done : r.images_total;
    std::fprintf(stderr, "bayescim: run interrupted by %s after %zu of %zu images; no report written\n",
                 signal_name(stop_signal()).c_str(), done, r.images_total);
    return 128 + stop_signal();
  }
  const auto report = build_report(cfg, r);
  write_outputs(cfg, r, report);
  std::fputs(summary_text(report).c_str(), stdout);
  std::printf("\n  reports written to %s/ (report.json, predictions.csv, layers.csv)\n", cfg.out_dir.c_str());
  if (cli.plots) {
    if (const std::string err = run_plots(cfg.out_dir); !err.empty()) {
      std::fprintf(stderr, "bayescim: error: --plots: plotting failed: %s\n", err.c_str());
      return kInternalError;
    }
  }
  return kOk;
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  using namespace bayescim::sim;
  spdlog::set_default_logger(spdlog::stderr_color_mt("bayescim"));
  spdlog::set_pattern("[%H:%M:%S] [%^%l%$] %v");
  Cli cli;
  try {
    cli = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    // One line: the problem and the short usage (--help prints the options).
    const std::string see = e.command.empty() ? "bayescim --help" : "bayescim " + e.command + " --help";
    std::fprintf(stderr, "bayescim: error: %s (usage: %s; see %s)\n", e.what(), usage_line(e.command).c_str(),
                 see.c_str());
    return kUsageError;
  }
  if (cli.print_only) {
    std::fputs(cli.text.c_str(), stdout);
    return kOk;
  }
  try {
    switch (cli.command) {
      case Command::Run: return run_command(cli);
      case Command::Validate: return validate_command(cli);
      case Command::Device: return device_command(cli.config, cli.device, cli.jobs);
      case Command::Completion: break;  // print_only
    }
    throw std::logic_error("command without an action");
  } catch (const InputError& e) {
    std::fprintf(stderr, "bayescim: error: %s\n", e.what());
    return kInputError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bayescim: internal error: %s\n", e.what());
    return kInternalError;
  } catch (...) {
    std::fprintf(stderr, "bayescim: internal error: unknown exception\n");
    return kInternalError;
  }
}

// Our own main, so the SystemC banner can be switched off before the kernel prints it.
int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
