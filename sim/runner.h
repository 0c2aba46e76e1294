// The Monte Carlo runner: T stochastic forward passes per image on the simulated hardware (or on
// the software reference), reduced to MC-mean probabilities and uncertainty per image.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hw/dropout_source.h"
#include "hw/mapper.h"
#include "hw/stats.h"
#include "models/network.h"
#include "sim/config.h"
#include "sim/datasets.h"
#include "sim/metrics.h"

namespace bayescim::sim {

struct RunResult {
  models::Network net;
  std::vector<Dataset> datasets;            // id first, then ood if configured
  std::vector<MetricsAccumulator> metrics;  // one per dataset
  std::optional<hw::Mapping> mapping;       // hw engine only
  std::optional<hw::DropoutCircuits> dropout_circuits;  // hw engine only: circuits beyond the MTJs
  std::optional<hw::StatsSink> stats;       // hw engine only
  hw::ModuleMap dropout_modules;            // the dropout hardware's module layout
  std::size_t draws_per_sample = 0;
  std::vector<std::size_t> draws_per_layer;
  double realised_p = 0;                    // of the nominal dropout device
  std::vector<double> module_p;             // realised p of every dropout module
  std::uint64_t random_bits = 0;
  std::uint64_t random_ones = 0;            // of them, the 1s: dropped rows, channels or scales
  double wall_s = 0;
  int workers = 1;
  // Stopped between images by SIGINT/SIGTERM: only images_done of images_total were simulated,
  // and nothing else in this result is filled in (sim/stop.h).
  bool interrupted = false;
  std::size_t images_done = 0, images_total = 0;
};

// Loads the model and applies the config's dropout overrides; throws InputError naming the key.
models::Network load_model(const ExperimentConfig& cfg);
// The realised dropout p of the device for the model's target p; InputError naming the range the
// device can reach when it cannot give it (eq. D1).
double check_dropout_p(const ExperimentConfig& cfg, const models::Network& net);

// The first job of worker w when `total` jobs in windows of `window` consecutive jobs (the timing
// model's windows, hardware.architecture.mapping.pipeline_images; the last may be shorter) are
// split over `workers`: whole windows only, as evenly as whole windows allow, in order. Worker w
// runs [chunk_begin(.., w), chunk_begin(.., w + 1)); chunk_begin(.., workers) = total.
std::size_t chunk_begin(std::size_t total, std::size_t window, int workers, int w);
// The number of such windows: ceil(total / window) (window 0 counts as 1).
std::size_t window_count(std::size_t total, std::size_t window);

// Must be called from sc_main. With workers > 1 the images are split into contiguous chunks run
// by forked processes, each with its own SystemC kernel (cut only between timing windows, so the
// windows are the same in any split); results are identical to one worker.
RunResult run_experiment(const ExperimentConfig& cfg, int workers = 1);

}  // namespace bayescim::sim
