// The validated, const runtime configuration of one experiment (layer 2 of the config).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hw/params.h"
#include "hw/physics/macrospin.h"
#include "sim/errors.h"

namespace bayescim::sim {

enum class Engine { Hw, Reference };

// An input corruption applied to the in-distribution images (OOD images stay as they are).
struct Corruption {
  enum class Kind { None, GaussianNoise, Rotation } kind = Kind::None;
  double strength = 0;  // noise: sigma as a fraction of full scale (255); rotation: degrees
};

struct DataSplit {
  std::string dataset;  // mnist | fashion-mnist
  std::string dir;
  std::string split;    // test | train
  std::string images_path() const;
  std::string labels_path() const;
};

// Dropout settings that override what the model file says; unset fields keep the model's.
struct DropoutOverride {
  std::optional<std::string> kind;
  std::optional<double> p;
  std::optional<std::vector<std::string>> layers;
  std::optional<double> dropped_value;
  std::optional<std::string> layout;  // mc_dropout: "per-row-per-position" | "element-wise"
  std::string where;  // config location, for errors found when applied to the model
};

// The dropout device file beyond the hw parameters: its macrospin section and run-time table
// (issue 19; docs/hardware.md "The stochastic MTJ from device physics").
struct DropoutDeviceInfo {
  std::string file;                  // the device file
  std::optional<hw::LlgParams> llg;  // the `llg` section, if any
  bool reset_from_density = false;   // reset given as reset_current_density_A_per_m2
  std::string table_path;            // switching_table, resolved against the file ("" if none)
  std::string table_where;           // file:line of switching_table
  std::string table_provenance;      // the table's provenance lines, once loaded
  std::vector<std::string> warnings;  // e.g. compact keys given beside llg (unused)
};

struct DropoutDevice {
  hw::DropoutUnitParams unit;
  DropoutDeviceInfo info;
};

// Loads a dropout device file on its own (`bayescim device`); the switching table is loaded only
// if `load_table`. Throws InputError naming the file, line and key.
DropoutDevice load_dropout_device(const std::string& path, bool load_table);

// VCD waveforms: off unless a file is named.
struct TraceConfig {
  std::string vcd;          // output file ("" = no tracing), relative to the working directory
  std::size_t images = 1;   // window: the first N images of the run, all their MC samples
  bool controller = true, tiles = true, dropout = true;  // modules that register their signals
};

// The crossbar MTJ's rates derived from its free layer (hardware.device.thermal, eq. C6, C7), and
// which of them a hand rate (faults.read_disturb_rate, faults.write_error_rate > 0) overrides.
struct CrossbarMtjInfo {
  // A derived probability below this is used as 0 (it keeps the ideal path when nothing can
  // happen): about 1e-4 expected events in a run of 1e11 reads (the shipped MLP on all test images).
  static constexpr double kNegligible = 1e-15;
  hw::CrossbarRates rates;  // as derived, before the negligible ones are zeroed
  bool read_disturb_override = false, write_error_override = false;
};

struct ExperimentConfig {
  std::string config_path;
  std::string name;
  std::uint64_t seed = 1;
  Engine engine = Engine::Hw;
  bool accelerate = true;  // simulation shortcuts that leave every result unchanged (hw/reuse/)
  std::string model_path;
  std::string model_where;  // config location of model.path, for errors found in the model file
  DropoutOverride dropout;
  int samples = 20;
  DataSplit id;
  std::optional<DataSplit> ood;
  Corruption corruption;
  std::size_t limit = 0;  // 0 = all images
  hw::ArchParams arch;
  hw::DeviceParams device;
  hw::DropoutUnitParams dropout_unit;
  DropoutDeviceInfo dropout_info;
  std::string out_dir;
  bool samples_csv = false;
  TraceConfig trace;
  bool progress = true;
  std::string log_level = "info";
  std::vector<std::pair<std::string, std::string>> log_modules;  // module name below the accelerator, level
  nlohmann::json resolved;  // the resolved tree, for the report
  std::vector<std::string> warnings;  // possible but doubtful settings (the operating point), logged
  std::optional<CrossbarMtjInfo> crossbar_mtj;  // set with hardware.device.thermal
};

struct CliOverrides {
  std::vector<std::string> sets;  // "a.b=value"
  std::optional<std::string> out_dir;
  std::optional<std::size_t> limit;
  std::optional<std::string> vcd;
};

// Loads the experiment file, its included device/architecture files and the overrides, and
// validates everything. Throws InputError naming the file, line, key and what was allowed.
ExperimentConfig load_experiment(const std::string& path, const CliOverrides& cli = {});

}  // namespace bayescim::sim
