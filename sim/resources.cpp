#include "sim/resources.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "hw/timing/layer_op.h"
#include "sim/errors.h"

namespace bayescim::sim {

namespace {

namespace fs = std::filesystem;

double ceil_div(double a, double b) { return std::ceil(a / b); }

// Bytes of the images a split will hold: the file (as far as it exists) or the limited prefix.
double dataset_bytes(const DataSplit& split, std::size_t limit, int input_size) {
  std::error_code ec;
  const auto size = fs::file_size(split.images_path(), ec);
  double bytes = ec ? 0.0 : static_cast<double>(size);
  if (limit > 0) bytes = std::min(bytes, 16.0 + static_cast<double>(limit) * input_size);
  return bytes;
}

// Images the run will see (before reading the files: from their sizes).
double image_count(const DataSplit& split, std::size_t limit, int input_size) {
  std::error_code ec;
  const auto size = fs::file_size(split.images_path(), ec);
  double n = ec || input_size <= 0 ? 0.0 : std::floor(static_cast<double>(size) / input_size);
  if (limit > 0) n = std::min(n, static_cast<double>(limit));
  return n;
}

}  // namespace

double MemoryEstimate::total() const {
  double t = 0;
  for (const auto& p : parts) t += p.bytes;
  return t;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return buf;
}

std::string MemoryEstimate::describe() const {
  std::vector<Part> sorted = parts;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Part& a, const Part& b) { return a.bytes > b.bytes; });
  std::string s = format_bytes(total()) + " (";
  bool first = true;
  for (const auto& p : sorted) {
    if (p.bytes <= 0) continue;
    s += (first ? "" : "; ") + p.what + " " + format_bytes(p.bytes);
    first = false;
  }
  return s + ")";
}

MemoryEstimate estimate_memory(const ExperimentConfig& cfg, const models::Network& net, int workers) {
  MemoryEstimate e;
  const double w = std::max(workers, 1);

  // The network: the IR's int8 weights plus the packed copy the executor and the tiles read.
  double weights = 0;
  for (const auto& l : net.layers) weights += static_cast<double>(l.in) * l.out;
  e.parts.push_back({"network weights", weights * 1.25});

  if (cfg.engine == Engine::Hw) {
    // Every worker elaborates the whole accelerator: one tile per array, each with its packed
    // cells and, with device variation or faults, two conductances (doubles) per cell.
    const double rows = cfg.arch.rows, cols = cfg.arch.cols;
    const bool analog_on = cfg.device.variation.any() || cfg.device.variation.write_errors();
    const double mtjs = cfg.arch.cell == hw::CellScheme::Complementary ? 2.0 : 1.0;
    const double groups = ceil_div(rows, hw::rows_per_read(cfg.arch));
    double arrays = 0, cache = 0;
    for (const auto& l : net.layers) {
      const double positions = l.positions();
      const double copies = std::max(1.0, std::min<double>(cfg.arch.replicate, positions));
      const double n = ceil_div(l.in, rows) * ceil_div(l.out, cols) * copies;
      arrays += n;
      // The analog read cache (hw/tile.cpp): two ways of currents per (position, read group),
      // capped at 2^17 currents per array.
      if (analog_on)
        cache += n * 8.0 * std::min(131072.0, std::ceil(positions / copies) * groups * 2.0 * cols * (3.0 - mtjs));
    }
    const double cells = cols * ceil_div(rows, 64) * 8;
    // With IR drop on, a second [row][col] copy of the conductances (hw/engine/cell_array.h).
    const bool ir_on = cfg.arch.wire_ohm_per_cell > 0 || cfg.arch.source_line_ohm_per_cell > 0 || cfg.arch.sense_node_ohm > 0;
    const double analog = analog_on ? mtjs * 8.0 * rows * cols * (ir_on ? 2.0 : 1.0) : 0.0;
    const double per_array = kTileOverheadBytes + cells + analog;
    e.parts.push_back({"crossbar tiles (" + std::to_string(static_cast<long long>(arrays)) + " arrays of " +
                           std::to_string(cfg.arch.rows) + " x " + std::to_string(cfg.arch.cols) +
                           (analog > 0 ? ", analog conductances and read cache" : "") +
                           (w > 1 ? ", x " + std::to_string(workers) + " workers" : "") + ")",
                       (arrays * per_array + cache) * w});
  }

  // Datasets (shared by forked workers) and the per-image results.
  double images = image_count(cfg.id, cfg.limit, net.input_size);
  double data = dataset_bytes(cfg.id, cfg.limit, net.input_size);
  if (cfg.ood) {
    images += image_count(*cfg.ood, cfg.limit, net.input_size);
    data += dataset_bytes(*cfg.ood, cfg.limit, net.input_size);
  }
  e.parts.push_back({"datasets", data});
  // Activation buffers of one forward pass: every layer's output, as floats, per worker.
  double acts = net.input_size;
  for (const auto& l : net.layers) acts += static_cast<double>(l.out) * l.positions();
  e.parts.push_back({"activation buffers", acts * 4.0 * w});
  e.parts.push_back({"per-image results", images * (net.classes * 8.0 + 96.0) * 2.0});
  if (cfg.engine == Engine::Hw) {
    // The timing window being simulated (hw/timing/timing_model.h): pipeline_images x T samples,
    // one LayerOp per layer and two times each, held by the controller and, as the memo's entry,
    // by the timing model; per worker. Plus one latency per image.
    const double samples = static_cast<double>(cfg.arch.pipeline_images) * cfg.samples;
    const double per_window = samples * (static_cast<double>(net.layers.size()) * sizeof(hw::LayerOp) + 16.0) * 2.0;
    e.parts.push_back({"timing windows (" + std::to_string(cfg.arch.pipeline_images) + " images x " +
                           std::to_string(cfg.samples) + " samples)",
                       per_window * w + images * 8.0});
  }
  if (cfg.samples_csv) {
    // samples.csv is held in memory until the run ends: one row per image and sample, twice
    // (the worker's buffer and the merged stream).
    e.parts.push_back({"samples.csv rows (" + std::to_string(cfg.samples) + " samples per image)",
                       images * cfg.samples * (net.classes * 16.0 + 32.0) * 2.0});
  }
  return e;
}

std::uint64_t default_memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  const double phys = pages > 0 && page > 0 ? static_cast<double>(pages) * page : 4.0 * (1ull << 30);
  return static_cast<std::uint64_t>(std::min(phys * 0.75, 4.0 * (1ull << 30)));
}

std::uint64_t parse_memory_size(const std::string& text) {
  const auto bad = [&]() {
    return std::invalid_argument("expected a size such as 4G, 512M or 1073741824 (bytes; 0 = no limit), got '" +
                                 text + "'");
  };
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) throw bad();
  const std::string num = text.substr(0, i);
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) throw bad();
  std::string unit = text.substr(i);
  for (auto& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  double mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb" || unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else throw bad();
  const double bytes = v * mult;
  if (bytes >= 1.8e19) throw bad();
  return static_cast<std::uint64_t>(bytes);
}

void check_memory(const ExperimentConfig& cfg, const models::Network& net, int workers, std::uint64_t limit) {
  if (limit == 0) return;
  const MemoryEstimate e = estimate_memory(cfg, net, workers);
  if (e.total() <= static_cast<double>(limit)) return;
  throw InputError(cfg.config_path + ": the run would need about " + e.describe() + ", above the memory limit of " +
                   format_bytes(static_cast<double>(limit)) +
                   " (check hardware.architecture.array.rows/cols, data.limit, mc.samples, --jobs; "
                   "or raise the limit with --max-memory SIZE, 0 = none)");
}

}  // namespace bayescim::sim
