#include "sim/device_command.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include "hw/physics/macrospin.h"
#include "hw/physics/stochastic_mtj.h"
#include "sim/atomic_file.h"
#include "sim/config.h"
#include "sim/progress.h"
#include "sim/stats_ci.h"
#include "sim/switching_table_io.h"

namespace bayescim::sim {

const char* const kSwitchingCsvHeader =
    "current_A,current_density_A_per_m2,pulse_s,temperature_K,p_switch,p_ci_low,p_ci_high,samples,"
    "energy_per_bit_J,latency_per_bit_s";

namespace {

namespace fs = std::filesystem;

// (M12) the relax ends once |m_z| >= 0.9 (see hw/physics/macrospin.h).
constexpr double kSettleMz = 0.9;

struct Job {
  double current_A, pulse_s, temperature_K;
};

// Runs the points on `jobs` threads; each point's trials depend only on (seed, trial), so the
// counts are the same for any number of threads.
std::vector<int> run_points(const hw::LlgParams& base, double relax_s, const std::vector<Job>& points, int samples,
                            std::uint64_t seed, int jobs, const std::string& what, bool progress_on) {
  std::vector<int> switched(points.size(), 0);
  std::atomic<std::size_t> next{0}, done{0};
  Progress progress(what, points.size(), progress_on, "points", "pt");
  std::mutex mu;
  hw::LlgRunOptions opt;
  opt.settle_mz = kSettleMz;
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < points.size();) {
      hw::LlgParams p = base;
      p.temperature_K = points[i].temperature_K;
      int k = 0;
      hw::switching_probability_llg(p, points[i].current_A, points[i].pulse_s, relax_s, samples, seed, &k, opt);
      switched[i] = k;
      const std::size_t d = ++done;
      std::lock_guard<std::mutex> lock(mu);
      progress.update(d);
    }
  };
  const int n = std::max(1, std::min<int>(jobs, static_cast<int>(points.size())));
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  progress.finish();
  return switched;
}

std::string fmt(double v, const char* f = "%.4g") {
  char b[48];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// scripts/plot_switching.py beside the build ($BAYESCIM_DEVICE_PLOT_SCRIPT overrides). Returns ""
// on success, else what went wrong.
std::string run_plot(const std::string& csv, const std::string& png) {
  std::string script;
  if (const char* env = std::getenv("BAYESCIM_DEVICE_PLOT_SCRIPT"); env && *env) {
    script = env;
  } else {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "cannot locate the executable (" + ec.message() + "); set BAYESCIM_DEVICE_PLOT_SCRIPT";
    script = (exe.parent_path() / ".." / "scripts" / "plot_switching.py").lexically_normal().string();
  }
  if (!fs::exists(script)) return "plot script " + script + " does not exist (set BAYESCIM_DEVICE_PLOT_SCRIPT)";
  std::string py = "/usr/bin/python3";
  if (::access(py.c_str(), X_OK) != 0) return py + " is missing (install python3 and python3-matplotlib)";
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<char*> argv = {py.data(), script.data(), const_cast<char*>(csv.c_str()), const_cast<char*>(png.c_str()),
                             nullptr};
  pid_t pid = 0;
  if (const int e = posix_spawn(&pid, py.c_str(), nullptr, nullptr, argv.data(), environ))
    return "cannot start " + py + ": " + std::strerror(e);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return "waitpid failed: " + std::string(std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return py + " " + script + " failed (" +
         (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                            : "signal " + std::to_string(WTERMSIG(status))) +
         ")";
}

void check_limit(double current_A, double limit_A, bool beyond, const std::string& option, bool* warned) {
  if (current_A <= limit_A * (1 + 1e-9)) return;
  if (!beyond)
    throw InputError(option + " reaches " + fmt(current_A * 1e6) + " uA, above the junction-voltage limit " +
                     fmt(limit_A * 1e6) + " uA (max_junction_voltage_V / R_AP, eq. V1); add --beyond-voltage-limit " +
                     "to characterise there anyway");
  if (!*warned)
    std::fprintf(stderr,
                 "bayescim: warning: %s goes to %s uA, above the junction-voltage limit %s uA "
                 "(max_junction_voltage_V / R_AP): such writes would break the MgO barrier\n",
                 option.c_str(), fmt(current_A * 1e6).c_str(), fmt(limit_A * 1e6).c_str());
  *warned = true;
}

// The pulse at which p reaches ~1 at current_A: doubling from t0 with a quick 200-trial probe
// (capped at 1 us).
double pulse_for_certain_switch(const hw::LlgParams& g, double current_A, double t0, double relax_s,
                                std::uint64_t seed) {
  hw::LlgRunOptions opt;
  opt.settle_mz = kSettleMz;
  double t = t0;
  for (int k = 0; k < 10 && t < 1e-6; ++k) {
    t *= 2.0;
    if (hw::switching_probability_llg(g, current_A, t, relax_s, 200, seed ^ 0x5eedULL, nullptr, opt) >= 0.995) break;
  }
  return std::min(t, 1e-6);
}

int write_table(const std::string& file, const DropoutDevice& dev, const DeviceOptions& opt, int jobs) {
  const hw::LlgParams& g = *dev.info.llg;
  const auto& m = dev.unit.mtj;
  const double ilim = hw::max_drive_current(m);
  const std::vector<double> temps =
      opt.temperatures_K.empty() ? std::vector<double>{m.temperature_K} : opt.temperatures_K;
  // Currents 0 .. the limit (at least the reset current) in 14 steps, then 7 more steps to 1.5x it:
  // no drive goes beyond the limit (choose_drive caps at it), but a module whose I_c0 is below
  // nominal sees the drive as a larger current, drive * I_c0 / I_c0,i, and the I_c0 spread
  // needs the table there (1.5x covers I_c0 down to 2/3 of nominal, > 3 sigma at sigma 0.1).
  // Pulses geometric (ratio ~1.1) from the write pulse to beyond both p ~ 1 at the limit and the
  // reset pulse.
  const double imax = std::max(m.reset_current_A, std::isfinite(ilim) ? ilim : 4.0 * hw::llg_ic0(g));
  hw::LlgParams cold = g;
  cold.temperature_K = temps.front();  // the coldest starts nearest +z and switches slowest
  const double t_hi =
      std::max(m.reset_pulse_s, pulse_for_certain_switch(cold, imax, m.write_pulse_s, m.relax_s, opt.seed));
  hw::SwitchingTable t;
  t.temperatures_K = temps;
  for (int i = 0; i <= 21; ++i) t.currents_A.push_back(imax * i / 14.0);
  const int np = std::max(2, static_cast<int>(std::ceil(std::log(t_hi / m.write_pulse_s) / std::log(1.1))) + 1);
  for (int i = 0; i < np; ++i)
    t.pulses_s.push_back(m.write_pulse_s * std::pow(t_hi / m.write_pulse_s, i / double(np - 1)));
  std::vector<Job> points;
  for (double T : t.temperatures_K)
    for (double tp : t.pulses_s)
      for (double i : t.currents_A) points.push_back({i, tp, T});
  t.samples = opt.samples;
  // Provenance: everything a point's trials depend on (device file, free layer, solver, relax,
  // samples, seed), then the command.
  std::ostringstream prov;
  prov << "bayescim switching table: p(I, t_p, T) of a stochastic MTJ (P -> AP write; the AP -> P reset by symmetry)\n"
       << "device: " << file << "\n"
       << "llg: a " << fmt(g.a_m * 1e9, "%.10g") << " nm, b " << fmt(g.b_m * 1e9, "%.10g") << " nm, t_f "
       << fmt(g.t_f_m * 1e9, "%.10g") << " nm, Ms " << fmt(g.ms_A_per_m, "%.10g") << " A/m, Ki "
       << fmt(g.ki_J_per_m2, "%.10g") << " J/m2, alpha " << fmt(g.alpha, "%.10g") << ", P "
       << fmt(g.polarisation, "%.10g") << ", demag " << fmt(g.nx, "%.10g") << " " << fmt(g.ny, "%.10g") << " "
       << fmt(g.nz, "%.10g") << "\n"
       << "solver: " << hw::kLlgSolverVersion << ", relax " << fmt(m.relax_s * 1e9)
       << " ns (early end at |m_z| >= " << kSettleMz << ")\n"
       << "samples: " << opt.samples << " per point, seed " << opt.seed << "\n";
  const std::string inputs = prov.str();
  // A point's trials depend only on its (I, t_p, T) and the lines above, so the points an existing
  // FILE holds for the same lines are kept, not rerun (extending a table's grid reruns only the
  // new points; the file is the one a full run writes).
  std::vector<int> switched(points.size(), -1);
  std::vector<Job> todo;
  std::size_t kept = 0;
  if (fs::exists(opt.table)) {
    try {
      const hw::SwitchingTable old = read_switching_table(opt.table, opt.table);
      if (old.provenance.compare(0, inputs.size(), inputs) == 0 && old.samples == opt.samples) {
        std::map<std::tuple<double, double, double>, int> held;
        const std::size_t onp = old.pulses_s.size(), oni = old.currents_A.size();
        for (std::size_t it = 0; it < old.temperatures_K.size(); ++it)
          for (std::size_t ip = 0; ip < onp; ++ip)
            for (std::size_t ii = 0; ii < oni; ++ii)
              held[{old.temperatures_K[it], old.pulses_s[ip], old.currents_A[ii]}] = static_cast<int>(
                  std::llround(old.p_raw[(it * onp + ip) * oni + ii] * old.samples));
        for (std::size_t i = 0; i < points.size(); ++i) {
          const auto h = held.find({points[i].temperature_K, points[i].pulse_s, points[i].current_A});
          if (h != held.end()) switched[i] = h->second, ++kept;
        }
      }
    } catch (const std::exception&) {  // not a readable table: every point is run
    }
  }
  for (std::size_t i = 0; i < points.size(); ++i)
    if (switched[i] < 0) todo.push_back(points[i]);
  std::fprintf(stderr,
               "bayescim: switching table: %zu temperature(s) x %zu pulses (%s to %s ns) x %zu currents "
               "(0 to %s uA), %d trials each; %zu point(s) kept from %s, %zu to run\n",
               t.temperatures_K.size(), t.pulses_s.size(), fmt(t.pulses_s.front() * 1e9).c_str(),
               fmt(t.pulses_s.back() * 1e9).c_str(), t.currents_A.size(), fmt(t.currents_A.back() * 1e6).c_str(),
               opt.samples, kept, opt.table.c_str(), todo.size());
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int> ran = run_points(g, m.relax_s, todo, opt.samples, opt.seed, jobs, "table points", !opt.quiet);
  for (std::size_t i = 0, k = 0; i < points.size(); ++i)
    if (switched[i] < 0) switched[i] = ran[k++];
  for (std::size_t i = 0; i < points.size(); ++i) t.p_raw.push_back(static_cast<double>(switched[i]) / opt.samples);
  prov << "command: bayescim device " << file << " --table " << opt.table << " --samples " << opt.samples << " --seed "
       << opt.seed;
  if (!opt.temperatures_K.empty()) {
    prov << " --temperature-K ";
    for (std::size_t i = 0; i < opt.temperatures_K.size(); ++i) prov << (i ? "," : "") << opt.temperatures_K[i];
  }
  prov << "\n";
  t.provenance = prov.str();
  t.finalise();
  fs::path out(opt.table);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  write_file_atomic(opt.table, switching_table_csv(t, switched));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("switching table written to %s (%zu points, %zu run, %.1f s)\n", opt.table.c_str(), points.size(),
              todo.size(), secs);
  return 0;
}

}  // namespace

int device_command(const std::string& file, const DeviceOptions& opt, int jobs) {
  DropoutDevice dev = load_dropout_device(file, false);
  if (!dev.info.llg)
    throw InputError(file +
                     ": no llg section: `bayescim device` characterises the free layer's macrospin (keys a_nm, "
                     "b_nm, free_layer_nm, Ms_A_per_m, Ki_J_per_m2, alpha, polarization, demag, RA_ohm_m2)");
  for (const auto& w : dev.info.warnings) std::fprintf(stderr, "bayescim: warning: %s\n", w.c_str());
  const hw::LlgParams& g = *dev.info.llg;
  const auto& m = dev.unit.mtj;
  const double area = hw::llg_area(g), ilim = hw::max_drive_current(m);
  {
    hw::LlgParams at = g;
    std::printf("device %s (macrospin, %s)\n", file.c_str(), hw::kLlgSolverVersion);
    std::printf("  area %s nm^2, H_k,eff %s A/m, Delta(%s K) %s, I_c0 %s uA, R_P %s ohm, R_AP %s ohm\n",
                fmt(area * 1e18).c_str(), fmt(hw::llg_hk_eff(at)).c_str(), fmt(at.temperature_K).c_str(),
                fmt(hw::llg_delta(at)).c_str(), fmt(hw::llg_ic0(at) * 1e6).c_str(), fmt(m.r_p_ohm).c_str(),
                fmt(m.r_p_ohm * (1 + m.tmr)).c_str());
    std::printf("  junction-voltage limit %s V: write and reset currents up to %s uA\n",
                fmt(m.v_junction_max_V).c_str(), fmt(ilim * 1e6).c_str());
  }
  if (!opt.table.empty()) return write_table(file, dev, opt, jobs);

  const std::vector<double> temps =
      opt.temperatures_K.empty() ? std::vector<double>{m.temperature_K} : opt.temperatures_K;
  bool warned = false;
  std::vector<Job> points;
  const auto pulses = [&](std::vector<double> def) {
    if (!opt.pulse_s) return def;
    std::vector<double> v;
    for (int i = 0; i < opt.pulse_s->n; ++i) v.push_back(opt.pulse_s->at(i));
    return v;
  };
  if (opt.current_A || opt.density_A_per_m2) {
    const SweepRange r = opt.current_A ? *opt.current_A
                                       : SweepRange{opt.density_A_per_m2->lo * area, opt.density_A_per_m2->hi * area,
                                                    opt.density_A_per_m2->n};
    check_limit(r.hi, ilim, opt.beyond_limit, opt.current_A ? "--current-uA" : "--current-density", &warned);
    for (double T : temps)
      for (double tp : pulses({m.write_pulse_s}))
        for (int i = 0; i < r.n; ++i) points.push_back({r.at(i), tp, T});
  } else {
    // The default: 0 .. the limit at the write pulse (16 points); then, if p stays below ~1 there,
    // the pulse width at the limit (12 points, geometric up to where p ~ 1).
    const double imax = std::isfinite(ilim) ? ilim : 4.0 * hw::llg_ic0(g);
    for (double T : temps)
      for (double tp : pulses({m.write_pulse_s}))
        for (int i = 0; i < 16; ++i) points.push_back({imax * i / 15.0, tp, T});
    if (!opt.pulse_s) {
      hw::LlgParams cold = g;
      cold.temperature_K = temps.front();
      hw::LlgRunOptions ro;
      ro.settle_mz = kSettleMz;
      if (hw::switching_probability_llg(cold, imax, m.write_pulse_s, m.relax_s, 200, opt.seed ^ 0x5eedULL, nullptr,
                                        ro) < 0.99) {
        const double t_hi = pulse_for_certain_switch(cold, imax, m.write_pulse_s, m.relax_s, opt.seed);
        std::printf("  p stays below ~1 at the limit current with %s ns: also sweeping the pulse to %s ns at %s uA\n",
                    fmt(m.write_pulse_s * 1e9).c_str(), fmt(t_hi * 1e9).c_str(), fmt(imax * 1e6).c_str());
        for (double T : temps)
          for (int i = 1; i <= 12; ++i)
            points.push_back({imax, m.write_pulse_s * std::pow(t_hi / m.write_pulse_s, i / 12.0), T});
      }
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int> switched =
      run_points(g, m.relax_s, points, opt.samples, opt.seed, jobs, "device points", !opt.quiet);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ostringstream csv;
  csv << kSwitchingCsvHeader << "\n";
  double pmin = 1, pmax = 0, emin = 1e300, emax = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    DevicePoint d;
    d.current_A = points[i].current_A;
    d.density_A_per_m2 = d.current_A / area;
    d.pulse_s = points[i].pulse_s;
    d.temperature_K = points[i].temperature_K;
    d.switched = switched[i];
    d.samples = opt.samples;
    d.p = static_cast<double>(d.switched) / d.samples;
    const Interval ci = clopper_pearson(static_cast<std::uint64_t>(d.switched), static_cast<std::uint64_t>(d.samples));
    d.ci_low = ci.lower;
    d.ci_high = ci.upper;
    hw::DriveChoice drive;
    drive.current_A = d.current_A;
    drive.pulse_s = d.pulse_s;
    d.energy_J = (1 - d.p) * hw::bit_energy(m, drive, false).total() + d.p * hw::bit_energy(m, drive, true).total();
    d.latency_s = hw::bit_latency(m, d.pulse_s);
    char row[400];
    std::snprintf(row, sizeof row, "%.9g,%.9g,%.9g,%.6g,%.9g,%.9g,%.9g,%d,%.9g,%.9g\n", d.current_A, d.density_A_per_m2,
                  d.pulse_s, d.temperature_K, d.p, d.ci_low, d.ci_high, d.samples, d.energy_J, d.latency_s);
    csv << row;
    pmin = std::min(pmin, d.p);
    pmax = std::max(pmax, d.p);
    emin = std::min(emin, d.energy_J);
    emax = std::max(emax, d.energy_J);
  }
  const std::string out_dir =
      opt.out_dir.empty() ? (fs::path("out") / "device" / fs::path(file).stem()).string() : opt.out_dir;
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw InputError("output folder '" + out_dir + "' (--out) exists and is not a folder");
  fs::create_directories(out_dir, ec);
  if (ec) throw InputError("cannot create the output folder '" + out_dir + "' (--out): " + ec.message());
  const std::string csv_path = (fs::path(out_dir) / "switching.csv").string();
  const std::string png_path = (fs::path(out_dir) / "switching.png").string();
  write_file_atomic(csv_path, csv.str());
  std::printf("  %zu points x %d trials in %.1f s (%d job%s): p from %s to %s, energy per bit %s to %s pJ\n",
              points.size(), opt.samples, secs, jobs, jobs == 1 ? "" : "s", fmt(pmin).c_str(), fmt(pmax).c_str(),
              fmt(emin * 1e12).c_str(), fmt(emax * 1e12).c_str());
  std::printf("  written: %s\n", csv_path.c_str());
  if (const std::string err = run_plot(csv_path, png_path); !err.empty()) {
    std::fprintf(stderr, "bayescim: error: %s not written: %s\n", png_path.c_str(), err.c_str());
    return 1;
  }
  std::printf("  written: %s\n", png_path.c_str());
  return 0;
}

}  // namespace bayescim::sim
