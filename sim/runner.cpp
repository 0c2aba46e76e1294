#include "sim/runner.h"

#include <spdlog/spdlog.h>

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
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
#include "sim/stop.h"
#include "sim/vcd.h"

namespace bayescim::sim {

models::Network load_model(const ExperimentConfig& cfg) {
  models::Network net;
  try {
    net = models::load_onnx(cfg.model_path);
  } catch (const models::ModelError& e) {
    throw InputError(cfg.model_where + ": key 'model.path': " + e.what());
  }
  const auto& o = cfg.dropout;
  if (o.kind || o.p || o.layers || o.dropped_value || o.layout) {
    models::DropoutSpec spec = net.dropout;
    if (o.kind) spec.kind = models::parse_dropout_kind(*o.kind);
    if (o.p) spec.p = *o.p;
    if (o.dropped_value) spec.scale_dropped_value = *o.dropped_value;
    if (o.layout) spec.layout = models::parse_mc_layout(*o.layout);
    if (o.layers) spec.layers = *o.layers;
    else if (o.kind && spec.kind != net.dropout.kind) spec.layers = net.default_dropout_layers(spec.kind);
    if (spec.kind == models::DropoutKind::None) spec.layers.clear();
    if (spec.kind != models::DropoutKind::None && net.dropout.kind == models::DropoutKind::None && !o.p)
      throw InputError(o.where + ": key 'model.dropout.p': required when adding dropout to a model without it "
                                 "(expected a probability in [0, 1])");
    try {
      net.apply_dropout(spec);
    } catch (const models::ModelError& e) {
      throw InputError(o.where + ": key 'model.dropout': " + e.what());
    }
  }
  return net;
}

namespace {

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


// What one worker (or the whole run, with one job) produces.
struct ChunkResult {
  struct Image {
    int dataset = 0;
    std::size_t index = 0;
    std::vector<double> p;  // p_bar
    double mean_entropy = 0;
  };
  std::vector<Image> images;
  std::string samples_csv;  // rows of samples.csv, without the header
  std::string stats;        // serialised hw::StatsSink (hw engine)
  std::uint64_t random_bits = 0;
  std::uint64_t random_ones = 0;  // of them, the 1s (dropped)
  bool interrupted = false;  // stopped between images by SIGINT/SIGTERM (sim/stop.h)
};

struct RunContext {
  const ExperimentConfig& cfg;
  const models::Network& net;
  const models::CompiledNetwork& compiled;
  const std::vector<Dataset>& datasets;
  const std::vector<hw::Job>& jobs;
  const std::vector<std::pair<int, std::size_t>>& where;  // job -> (dataset, index)
  double realised_p;
  const std::vector<double>& draw_p;  // realised p of the module behind each draw of a sample
};

// Runs jobs [begin, end) on the configured engine; `done` counts finished images.
ChunkResult run_chunk(const RunContext& ctx, std::size_t begin, std::size_t end, bool trace,
                      const std::function<void(std::size_t)>& done) {
  const auto& cfg = ctx.cfg;
  const auto& net = ctx.net;
  const int dbits = net.dropout_layers();
  const bool scale = net.dropout.kind == models::DropoutKind::Scale;
  ChunkResult out;
  std::ostringstream rows;
  McReducer reducer(net.classes, cfg.samples);
  const std::vector<hw::Job> jobs(ctx.jobs.begin() + static_cast<std::ptrdiff_t>(begin),
                                  ctx.jobs.begin() + static_cast<std::ptrdiff_t>(end));
  hw::Accelerator* accelerator = nullptr;  // the hw engine's, once built
  auto sink = [&](std::size_t j, int t, const float* logits, const std::uint8_t* bits) {
    const auto [d, idx] = ctx.where[begin + j];
    if (cfg.samples_csv) {
      rows << ctx.datasets[d].role << ',' << idx << ',' << t << ',';
      if (!scale || dbits == 0) rows << '-';  // masks are not listed; see README
      else
        for (int b = 0; b < dbits; ++b) rows << (bits[b] ? '1' : '0');
      char buf[32];
      for (int c = 0; c < net.classes; ++c) {
        std::snprintf(buf, sizeof buf, ",%.9g", static_cast<double>(logits[c]));
        rows << buf;
      }
      rows << '\n';
    }
    if (reducer.add(logits)) {
      ChunkResult::Image im;
      im.dataset = d;
      im.index = idx;
      im.p = reducer.take_mean(im.mean_entropy);
      out.images.push_back(std::move(im));
      done(out.images.size());
      // Stop between images (sim/stop.h): the host issues no further image and the simulation
      // ends normally. (sc_stop would leave the host thread suspended forever, its locals never
      // freed: LeakSanitizer reports them.)
      if (stop_requested() && accelerator) accelerator->request_stop();
    }
  };

  if (cfg.engine == Engine::Hw) {
    hw::AcceleratorConfig ac;
    ac.arch = cfg.arch;
    ac.device = cfg.device;
    ac.dropout_unit = cfg.dropout_unit;
    ac.dropout_p = net.dropout.kind == models::DropoutKind::None ? 0.0 : net.dropout.p;
    ac.seed = cfg.seed;
    ac.samples = cfg.samples;
    ac.accelerate = cfg.accelerate;
    TraceConfig tc = cfg.trace;
    if (!trace) tc.vcd.clear();
    ac.trace_images = tc.vcd.empty() ? 0 : tc.images;
    hw::Accelerator acc("accelerator", ac, ctx.compiled, jobs, sink);
    accelerator = &acc;
    for (const auto& [mod, level] : cfg.log_modules) {
      auto log = spdlog::get("accelerator." + mod);
      if (!log)
        throw InputError(cfg.config_path + ": key 'log.modules." + mod +
                         "': no such module (expected e.g. controller, dropout, host, tile_0)");
      log->set_level(spdlog::level::from_str(level));
    }
    VcdWriter vcd(tc);
    if (auto* rec = vcd.recorder()) acc.trace(*rec, {tc.controller, tc.tiles, tc.dropout});
    sc_core::sc_start();
    // Interrupted: return, do not throw. An exception after SystemC ran its coroutines trips
    // ASan's stack bookkeeping (docs/reliability.md); the VCD temporary is removed on return.
    if (stop_requested()) {
      out.interrupted = true;
      return out;
    }
    vcd.commit();
    auto st = hw::collect_stats();
    st.override_energy(cfg.arch.energy_overrides_J);
    out.stats = st.serialise();
    out.random_bits = static_cast<std::uint64_t>(st.sum("random_bits"));
    out.random_ones = static_cast<std::uint64_t>(st.sum("random_ones"));
  } else {
    models::ReferenceExecutor exec(ctx.compiled);
    std::vector<float> logits(net.classes);
    std::vector<std::uint8_t> bits(std::max(dbits, 1));
    models::SampleMasks masks;
    for (std::size_t j = 0; j < jobs.size(); ++j)
      for (int t = 0; t < cfg.samples; ++t) {
        if (t == 0 && stop_requested()) throw Interrupted(j, jobs.size());
        ctx.compiled.fill_masks(masks, [&](std::size_t d) {
          const bool bit = hw::dropout_draw(cfg.seed, jobs[j].image_key, static_cast<std::uint64_t>(t), d, ctx.draw_p[d]);
          out.random_ones += bit ? 1 : 0;
          return bit;
        });
        out.random_bits += ctx.compiled.draws_per_sample;
        if (scale) {
          int b = 0;
          for (std::size_t l = 0; l < ctx.compiled.layers.size(); ++l)
            if (ctx.compiled.layers[l].dropout) bits[b++] = masks.bit(l, 0) ? 1 : 0;
        }
        exec.forward(jobs[j].pixels, masks, logits.data());
        sink(j, t, logits.data(), bits.data());
      }
  }
  out.samples_csv = rows.str();
  return out;
}

// Binary hand-over from a worker process to the parent (same machine, same build).
void write_chunk(const std::string& path, const ChunkResult& c, int classes) {
  std::ostringstream os;
  auto put = [&](const void* p, std::size_t n) { os.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); };
  const std::uint64_t n = c.images.size();
  put(&n, sizeof n);
  for (const auto& im : c.images) {
    put(&im.dataset, sizeof im.dataset);
    put(&im.index, sizeof im.index);
    put(im.p.data(), sizeof(double) * static_cast<std::size_t>(classes));
    put(&im.mean_entropy, sizeof im.mean_entropy);
  }
  put(&c.random_bits, sizeof c.random_bits);
  put(&c.random_ones, sizeof c.random_ones);
  for (const std::string* s : {&c.stats, &c.samples_csv}) {
    const std::uint64_t len = s->size();
    put(&len, sizeof len);
    put(s->data(), s->size());
  }
  write_file_atomic(path, os.str());
}

ChunkResult read_chunk(const std::string& path, int classes) {
  std::ifstream in(path, std::ios::binary);
  auto get = [&](void* p, std::size_t n) {
    if (!in.read(static_cast<char*>(p), static_cast<std::streamsize>(n)))
      throw std::runtime_error("worker result " + path + " is truncated");
  };
  ChunkResult c;
  std::uint64_t n = 0;
  get(&n, sizeof n);
  c.images.resize(n);
  for (auto& im : c.images) {
    get(&im.dataset, sizeof im.dataset);
    get(&im.index, sizeof im.index);
    im.p.resize(static_cast<std::size_t>(classes));
    get(im.p.data(), sizeof(double) * static_cast<std::size_t>(classes));
    get(&im.mean_entropy, sizeof im.mean_entropy);
  }
  get(&c.random_bits, sizeof c.random_bits);
  get(&c.random_ones, sizeof c.random_ones);
  for (std::string* s : {&c.stats, &c.samples_csv}) {
    std::uint64_t len = 0;
    get(&len, sizeof len);
    s->resize(len);
    get(s->data(), len);
  }
  return c;
}

// Runs the jobs in `workers` forked processes, each with its own SystemC kernel, and returns
// their results in job order. The parent never elaborates SystemC itself.
std::vector<ChunkResult> run_forked(const RunContext& ctx, int workers, Progress& progress) {
  namespace fs = std::filesystem;
  const std::size_t total = ctx.jobs.size();
  fs::create_directories(ctx.cfg.out_dir);
  auto* counters = static_cast<std::uint64_t*>(
      mmap(nullptr, sizeof(std::uint64_t) * workers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (counters == MAP_FAILED) throw std::runtime_error("cannot share progress counters between workers");
  std::vector<pid_t> pids;
  std::vector<std::string> files, errors;
  const auto window = static_cast<std::size_t>(ctx.cfg.arch.pipeline_images);
  for (int w = 0; w < workers; ++w) {
    const std::size_t begin = chunk_begin(total, window, workers, w);
    const std::size_t end = chunk_begin(total, window, workers, w + 1);
    const std::string base = (fs::path(ctx.cfg.out_dir) / (".worker" + std::to_string(w))).string();
    files.push_back(base + ".bin");
    errors.push_back(base + ".err");
    counters[w] = 0;
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // a worker does not outlive a killed parent
      int rc = 0;
      try {
        auto* mine = &counters[w];
        const auto c = run_chunk(ctx, begin, end, w == 0, [mine](std::size_t n) { *mine = n; });
        if (c.interrupted) _exit(1);  // the parent reports it (it was signalled too)
        write_chunk(files.back(), c, ctx.net.classes);
      } catch (const std::exception& e) {
        std::ofstream(errors.back()) << e.what();
        rc = 1;
      }
      std::fflush(nullptr);
      _exit(rc);
    }
    pids.push_back(pid);
  }
  std::size_t running = pids.size();
  std::vector<bool> ok(pids.size(), false), finished(pids.size(), false);
  bool stop_sent = false;
  while (running > 0) {
    if (stop_requested() && !stop_sent) {  // SIGTERM to the parent alone: pass it on
      stop_sent = true;
      for (std::size_t k = 0; k < pids.size(); ++k)
        if (!finished[k]) kill(pids[k], SIGTERM);
    }
    for (std::size_t w = 0; w < pids.size(); ++w) {
      if (finished[w]) continue;
      int status = 0;
      if (waitpid(pids[w], &status, WNOHANG) == pids[w]) {
        finished[w] = true;
        --running;
        ok[w] = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok[w])
          for (std::size_t k = 0; k < pids.size(); ++k)
            if (!finished[k]) kill(pids[k], SIGTERM);
      }
    }
    std::uint64_t done = 0;
    for (int w = 0; w < workers; ++w) done += counters[w];
    progress.update(static_cast<std::size_t>(done));
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::uint64_t done_images = 0;
  for (int w = 0; w < workers; ++w) done_images += counters[w];
  munmap(counters, sizeof(std::uint64_t) * workers);
  if (stop_requested()) {
    std::error_code ec;
    for (std::size_t w = 0; w < pids.size(); ++w) {
      fs::remove(files[w], ec);
      fs::remove(errors[w], ec);
      // A worker stopped in the middle of writing its VCD may leave the temporary: the parent
      // knows its name (sim/atomic_file.h: path.tmp.<pid>).
      if (!ctx.cfg.trace.vcd.empty()) fs::remove(ctx.cfg.trace.vcd + ".tmp." + std::to_string(pids[w]), ec);
    }
    // Worker 0 traces and, when its chunk completed, published the VCD and .gtkw: outputs of a
    // run that is now interrupted, so they go too.
    if (!ctx.cfg.trace.vcd.empty() && ok[0]) {
      fs::remove(ctx.cfg.trace.vcd, ec);
      fs::remove(fs::path(ctx.cfg.trace.vcd).replace_extension(".gtkw"), ec);
    }
    throw Interrupted(static_cast<std::size_t>(done_images), total);
  }
  std::vector<ChunkResult> out;
  std::string failure;
  for (std::size_t w = 0; w < pids.size(); ++w) {
    if (!ok[w] && failure.empty()) {
      std::ifstream e(errors[w]);
      std::stringstream ss;
      ss << e.rdbuf();
      failure = ss.str().empty() ? "worker " + std::to_string(w) + " was killed" : ss.str();
    }
    if (ok[w]) out.push_back(read_chunk(files[w], ctx.net.classes));
    std::error_code ec;
    fs::remove(files[w], ec);
    fs::remove(errors[w], ec);
  }
  if (!failure.empty()) throw InputError(failure);
  return out;
}

}  // namespace

std::size_t window_count(std::size_t total, std::size_t window) {
  window = std::max<std::size_t>(window, 1);
  return (total + window - 1) / window;
}

std::size_t chunk_begin(std::size_t total, std::size_t window, int workers, int w) {
  window = std::max<std::size_t>(window, 1);
  const std::size_t windows = window_count(total, window);
  const auto n = static_cast<std::size_t>(std::max(workers, 1));
  const std::size_t first = windows * static_cast<std::size_t>(std::clamp(w, 0, workers)) / n;
  return std::min(total, first * window);
}

double check_dropout_p(const ExperimentConfig& cfg, const models::Network& net) {
  const double target_p = net.dropout.kind == models::DropoutKind::None ? 0.0 : net.dropout.p;
  try {  // a p the device cannot give is an input error naming the reachable range (eq. D1)
    return hw::realised_probability(cfg.dropout_unit.mtj, target_p);
  } catch (const std::domain_error& e) {
    throw InputError(cfg.dropout.where + ": dropout p of the model on the device " + cfg.dropout_info.file + ": " +
                     e.what());
  }
}

RunResult run_experiment(const ExperimentConfig& cfg, int workers) {
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  r.net = load_model(cfg);
  const models::Network& net = r.net;
  const models::CompiledNetwork compiled(net);
  r.dropout_modules = hw::map_modules(compiled);
  r.draws_per_sample = compiled.draws_per_sample;
  for (const auto& l : compiled.layers) r.draws_per_layer.push_back(l.draws_per_sample());
  spdlog::info("model {}: {} layers, {} inputs, {} classes, dropout {} p={} on {} layer(s)", cfg.model_path,
               net.layers.size(), net.input_size, net.classes, models::to_string(net.dropout.kind), net.dropout.p,
               net.dropout_layers());

  r.datasets.push_back(load_dataset(cfg.id, "id", net.input_size, net.classes, cfg.limit));
  corrupt(r.datasets.back(), cfg.corruption, cfg.seed, net.input_h > 1 ? net.input_c : 1);  // flat MLP input: one plane
  if (cfg.ood) r.datasets.push_back(load_dataset(*cfg.ood, "ood", net.input_size, net.classes, cfg.limit));

  std::vector<hw::Job> jobs;
  std::vector<std::pair<int, std::size_t>> where;
  for (std::size_t d = 0; d < r.datasets.size(); ++d)
    for (std::size_t i = 0; i < r.datasets[d].count; ++i) {
      jobs.push_back({r.datasets[d].images.image(i), hw::image_key(static_cast<int>(d), i)});
      where.emplace_back(static_cast<int>(d), i);
    }
  r.metrics.resize(r.datasets.size());
  const double target_p = net.dropout.kind == models::DropoutKind::None ? 0.0 : net.dropout.p;
  r.realised_p = check_dropout_p(cfg, net);
  // No more workers than timing windows (each worker runs whole windows).
  const std::size_t windows = window_count(jobs.size(), static_cast<std::size_t>(cfg.arch.pipeline_images));
  r.workers = std::max(1, std::min<int>(workers, static_cast<int>(std::max<std::size_t>(windows, 1))));

  r.module_p = hw::module_probabilities(cfg.dropout_unit, target_p, r.dropout_modules, cfg.seed);
  std::vector<double> draw_p(compiled.draws_per_sample, r.realised_p);
  for (std::size_t l = 0; l < compiled.layers.size(); ++l)
    for (std::size_t i = 0; i < compiled.layers[l].draws_per_sample(); ++i)
      draw_p[compiled.draw_offset[l] + i] = r.module_p[r.dropout_modules.module_of(l, i)];
  const RunContext ctx{cfg, net, compiled, r.datasets, jobs, where, r.realised_p, draw_p};
  Progress progress("simulating", jobs.size(), cfg.progress);
  std::vector<ChunkResult> chunks;
  r.images_total = jobs.size();
  try {
    if (r.workers == 1)
      chunks.push_back(run_chunk(ctx, 0, jobs.size(), true, [&](std::size_t n) { progress.update(n); }));
    else
      chunks = run_forked(ctx, r.workers, progress);
  } catch (const Interrupted& e) {  // the reference engine, or the parent of forked workers
    r.interrupted = true;
    r.images_done = e.done;
  }
  if (!chunks.empty() && chunks.front().interrupted) {
    r.interrupted = true;
    r.images_done = chunks.front().images.size();
  }
  if (r.interrupted) return r;  // nothing merged, nothing written
  progress.finish();

  // Merge in job order: the same images, the same order, whatever the number of workers.
  std::unique_ptr<AtomicWriter> samples_out;
  if (cfg.samples_csv) {
    std::filesystem::create_directories(cfg.out_dir);
    samples_out = std::make_unique<AtomicWriter>((std::filesystem::path(cfg.out_dir) / "samples.csv").string());
    auto& os = samples_out->stream();
    os << "split,index,sample,bits";
    for (int c = 0; c < net.classes; ++c) os << ",logit" << c;
    os << '\n';
  }
  for (const auto& c : chunks) {
    for (const auto& im : c.images) {
      const int label = r.datasets[im.dataset].role == "id" ? r.datasets[im.dataset].labels[im.index] : -1;
      r.metrics[im.dataset].add(im.p, im.mean_entropy, label);
    }
    r.random_bits += c.random_bits;
    r.random_ones += c.random_ones;
    if (samples_out) samples_out->stream() << c.samples_csv;
    if (cfg.engine == Engine::Hw) {
      auto st = hw::StatsSink::deserialise(c.stats);
      if (!r.stats) r.stats = std::move(st);
      else r.stats->merge(st);
    }
  }
  if (cfg.engine == Engine::Hw) {
    r.mapping = hw::map_network(compiled, cfg.arch);
    r.dropout_circuits = hw::dropout_circuits(compiled, *r.mapping, r.dropout_modules);
  }
  if (samples_out) samples_out->commit();
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace bayescim::sim
