#include "sim/runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/dropout_source.h"
#include "hw/physics/rng.h"
#include "models/compiled.h"
#include "models/onnx_import.h"
#include "models/reference_executor.h"
#include "sim/atomic_file.h"
#include "sim/progress.h"
#include "sim/vcd.h"

namespace bayescim::sim {
namespace {

models::Network load_model(const ExperimentConfig& cfg) {
  models::Network net;
  try {
    net = models::load_onnx(cfg.model_path);
  } catch (const models::ModelError& e) {
    throw InputError(e.what());
  }
  const auto& o = cfg.dropout;
  if (o.kind || o.p || o.layers || o.dropped_value) {
    models::DropoutSpec spec = net.dropout;
    if (o.kind) spec.kind = models::parse_dropout_kind(*o.kind);
    if (o.p) spec.p = *o.p;
    if (o.dropped_value) spec.scale_dropped_value = *o.dropped_value;
    if (o.layers) spec.layers = *o.layers;
    else if (o.kind && spec.kind != net.dropout.kind) spec.layers = net.default_dropout_layers(spec.kind);
    if (spec.kind == models::DropoutKind::None) spec.layers.clear();
    try {
      net.apply_dropout(spec);
    } catch (const models::ModelError& e) {
      throw InputError(o.where + ": key 'model.dropout': " + e.what());
    }
  }
  return net;
}

// Accumulates the T samples of one image into p_bar and the mean per-sample entropy.
class McReducer {
 public:
  McReducer(int classes, int samples) : classes_(classes), samples_(samples), p_(classes, 0.0) {}
  // Returns true when the image is complete (then read mean_probs() and mean_entropy()).
  bool add(const float* logits) {
    const auto p = softmax(logits, classes_);
    for (int c = 0; c < classes_; ++c) p_[c] += p[c];
    h_ += entropy(p);
    return ++seen_ == samples_;
  }
  std::vector<double> take_mean(double& mean_entropy) {
    std::vector<double> m(classes_);
    for (int c = 0; c < classes_; ++c) m[c] = p_[c] / samples_;
    mean_entropy = h_ / samples_;
    std::fill(p_.begin(), p_.end(), 0.0);
    h_ = 0;
    seen_ = 0;
    return m;
  }

 private:
  int classes_, samples_, seen_ = 0;
  std::vector<double> p_;
  double h_ = 0;
};

}  // namespace

RunResult run_experiment(const ExperimentConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  r.net = load_model(cfg);
  const models::Network& net = r.net;
  const models::CompiledNetwork compiled(net);
  r.dropout_modules = hw::map_modules(compiled);
  r.draws_per_sample = compiled.draws_per_sample;
  spdlog::info("model {}: {} layers, {} inputs, {} classes, dropout {} p={} on {} layer(s)", cfg.model_path,
               net.layers.size(), net.input_size, net.classes, models::to_string(net.dropout.kind), net.dropout.p,
               net.dropout_layers());

  r.datasets.push_back(load_dataset(cfg.id, "id", net.input_size, net.classes, cfg.limit));
  if (cfg.ood) r.datasets.push_back(load_dataset(*cfg.ood, "ood", net.input_size, net.classes, cfg.limit));

  std::vector<hw::Job> jobs;
  std::vector<std::pair<int, std::size_t>> where;  // job -> (dataset, index)
  for (std::size_t d = 0; d < r.datasets.size(); ++d)
    for (std::size_t i = 0; i < r.datasets[d].count; ++i) {
      jobs.push_back({r.datasets[d].images.image(i), hw::image_key(static_cast<int>(d), i)});
      where.emplace_back(static_cast<int>(d), i);
    }
  r.metrics.resize(r.datasets.size());

  const int dbits = net.dropout_layers();
  const double target_p = net.dropout.kind == models::DropoutKind::None ? 0.0 : net.dropout.p;
  r.realised_p = hw::realised_probability(cfg.dropout_unit.mtj, target_p);

  std::unique_ptr<AtomicWriter> samples_out;
  if (cfg.samples_csv) {
    std::filesystem::create_directories(cfg.out_dir);
    samples_out = std::make_unique<AtomicWriter>((std::filesystem::path(cfg.out_dir) / "samples.csv").string());
    auto& os = samples_out->stream();
    os << "split,index,sample,bits";
    for (int c = 0; c < net.classes; ++c) os << ",logit" << c;
    os << '\n';
  }

  McReducer reducer(net.classes, cfg.samples);
  Progress progress("simulating", jobs.size(), cfg.progress);
  auto sink = [&](std::size_t j, int t, const float* logits, const std::uint8_t* bits) {
    const auto [d, idx] = where[j];
    if (samples_out) {
      auto& os = samples_out->stream();
      os << r.datasets[d].role << ',' << idx << ',' << t << ',';
      if (net.dropout.kind != models::DropoutKind::Scale || dbits == 0) os << '-';  // masks: see README
      else
        for (int b = 0; b < dbits; ++b) os << (bits[b] ? '1' : '0');
      char buf[32];
      for (int c = 0; c < net.classes; ++c) {
        std::snprintf(buf, sizeof buf, ",%.9g", static_cast<double>(logits[c]));
        os << buf;
      }
      os << '\n';
    }
    if (reducer.add(logits)) {
      double h = 0;
      auto p = reducer.take_mean(h);
      const int label = r.datasets[d].role == "id" ? r.datasets[d].labels[idx] : -1;
      r.metrics[d].add(p, h, label);
      progress.update(j + 1);
    }
  };

  if (cfg.engine == Engine::Hw) {
    hw::AcceleratorConfig ac;
    ac.arch = cfg.arch;
    ac.device = cfg.device;
    ac.dropout_unit = cfg.dropout_unit;
    ac.dropout_p = target_p;
    ac.seed = cfg.seed;
    ac.samples = cfg.samples;
    ac.trace_images = cfg.trace.vcd.empty() ? 0 : cfg.trace.images;
    hw::Accelerator acc("accelerator", ac, compiled, jobs, sink);
    VcdWriter vcd(cfg.trace);
    if (vcd.file()) acc.trace(vcd.file(), {cfg.trace.controller, cfg.trace.tiles, cfg.trace.dropout});
    sc_core::sc_start();
    vcd.commit();
    r.mapping = acc.mapping();
    r.stats = hw::collect_stats();
    r.random_bits = static_cast<std::uint64_t>(r.stats->sum("random_bits"));
  } else {
    models::ReferenceExecutor exec(compiled);
    std::vector<float> logits(net.classes);
    std::vector<std::uint8_t> bits(std::max(dbits, 1));
    models::SampleMasks masks;
    const bool scale = net.dropout.kind == models::DropoutKind::Scale;
    for (std::size_t j = 0; j < jobs.size(); ++j)
      for (int t = 0; t < cfg.samples; ++t) {
        compiled.fill_masks(masks, [&](std::size_t d) {
          return hw::dropout_draw(cfg.seed, jobs[j].image_key, static_cast<std::uint64_t>(t), d, r.realised_p);
        });
        r.random_bits += compiled.draws_per_sample;
        if (scale) {
          int b = 0;
          for (std::size_t l = 0; l < compiled.layers.size(); ++l)
            if (compiled.layers[l].dropout) bits[b++] = masks.bit(l, 0) ? 1 : 0;
        }
        exec.forward(jobs[j].pixels, masks, logits.data());
        sink(j, t, logits.data(), bits.data());
      }
  }
  progress.finish();
  if (samples_out) samples_out->commit();
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace bayescim::sim
