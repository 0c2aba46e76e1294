#include "hw/accelerator.h"

#include <algorithm>
#include <string>

#include "hw/physics/energy_table.h"

namespace bayescim::hw {

Accelerator::Accelerator(sc_core::sc_module_name name, const AcceleratorConfig& cfg,
                         const models::CompiledNetwork& net, const std::vector<Job>& jobs, SampleSink sink)
    : sc_module(name), cfg_(cfg), mapping_(map_network(net, cfg.arch)) {
  // Times are counted in integer picoseconds (sc_time::value()), so the resolution must be 1 ps.
  if (sc_core::sc_get_time_resolution() != sc_core::sc_time(1, sc_core::SC_PS))
    throw std::logic_error("bayescim needs the SystemC time resolution of 1 ps");
  Host::Config hc;
  hc.jobs = &jobs;
  hc.samples = cfg.samples;
  hc.classes = net.net->classes;
  hc.dropout_bits = net.net->dropout_layers();
  hc.quantum_s = cfg.arch.quantum_s;
  hc.trace_images = cfg.trace_images;
  hc.window_images = static_cast<std::size_t>(std::max(1, cfg.arch.pipeline_images));
  hc.sink = std::move(sink);
  host_ = std::make_unique<Host>("host", hc);

  Controller::Config cc;
  cc.net = &net;
  cc.mapping = &mapping_;
  cc.arch = cfg.arch;
  // Deterministic layers only: every tile on its integer path, no per-decision noise.
  cc.accelerate = !cfg.device.variation.any() && !cfg.device.variation.write_errors() &&
                  cfg.arch.sa_offset_sigma_A == 0 && cfg.accelerate;
  controller_ = std::make_unique<Controller>("controller", cc);

  DropoutSource::Config dc;
  dc.params = cfg.dropout_unit;
  dc.target_p = net.net->dropout.kind == models::DropoutKind::None ? 0.0 : cfg.dropout_p;
  dc.seed = cfg.seed;
  dc.modules = map_modules(net);
  dc.circuits = dropout_circuits(net, mapping_, dc.modules);
  dc.circuit_energy = cfg.arch.dropout_circuits;
  dc.buffer_bit_J = cfg.arch.buffer_energy_per_bit_J;
  dropout_ = std::make_unique<DropoutSource>("dropout", dc);

  host_->socket.bind(controller_->host_socket);
  controller_->dropout_socket.bind(dropout_->socket);
  for (std::size_t a = 0; a < mapping_.arrays.size(); ++a) {
    Tile::Config tc;
    tc.arch = cfg.arch;
    tc.device = cfg.device;
    tc.slice = mapping_.arrays[a];
    tc.sa_path = mapping_.layers[mapping_.arrays[a].layer].sa_path;
    tc.index = static_cast<int>(a);
    tc.seed = cfg.seed;
    tc.accelerate = cfg.accelerate;
    const std::string tname = "tile_" + std::to_string(a);
    tiles_.push_back(std::make_unique<Tile>(tname.c_str(), tc));
    controller_->tile_socket.bind(tiles_.back()->socket);
  }
}

void Accelerator::trace(TraceRecorder& rec, const TraceSelection& which) {
  controller_->attach_recorder(rec);  // the resources' busy and stall lines; resolves the others' times
  if (which.controller) controller_->trace(rec);
  if (which.tiles)
    for (const auto& t : tiles_) t->trace(rec);
  if (which.dropout) dropout_->trace(rec);
}

void Accelerator::report_stats(StatsSink& sink) const {
  const std::string m = name();
  const double arrays = static_cast<double>(mapping_.arrays.size());
  sink.param(m, "arrays", arrays, "1");
  // Periphery leakage: one action per array per picosecond of inference time.
  sink.action(m, "leakage", "array_ps", arrays * static_cast<double>(host_->inference_time_ps()),
              derive_action_table(cfg_.arch).leakage_array_W * 1e-12);
}

}  // namespace bayescim::hw
