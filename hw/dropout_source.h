// The dropout hardware: stochastic-MTJ modules that draw the dropout decisions of each layer.
// Three organisations (BRIEF §2), one module class:
//   shared     (MC-Scale-Dropout): one unit for the whole model, one bit per dropped layer per
//              pass; the bit drives the column reference select (theta/alpha vs theta).
//   spatial    (MC-SpatialDropout): one module per input channel of each dropped conv layer; the
//              C_in bits of a pass sit in a mask register that gates the K*K wordlines of each
//              dropped channel at every window position.
//   per_neuron (MC-Dropout, SpinDrop): one module per crossbar input row of each dropped layer,
//              drawing a fresh bit for every read (every output position).
// Modules of one request work in parallel; a module draws its bits one after another.
#pragma once
#include <cstdint>
#include <memory>
#include <spdlog/spdlog.h>
#include <string>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

#include "hw/dropout_circuits.h"
#include "hw/params.h"
#include "hw/physics/stochastic_mtj.h"
#include "hw/protocol.h"
#include "hw/stats.h"
#include "hw/trace_recorder.h"
#include "models/compiled.h"

namespace bayescim::hw {

// The realised switching probability for a target p (0 and 1 are driven deterministically).
double realised_probability(const StochasticMtjParams& mtj, double target_p, double* drive_A = nullptr);
// The realised p of every module of a layout (variation included), shared by both engines.
std::vector<double> module_probabilities(const DropoutUnitParams& params, double target_p, const ModuleMap& modules,
                                         std::uint64_t seed);

class DropoutSource : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    DropoutUnitParams params;
    double target_p = 0.0;
    std::uint64_t seed = 0;
    ModuleMap modules;
    DropoutCircuits circuits;  // the circuits beyond the MTJs (hw/dropout_circuits.h), per layer
    ArchParams::DropoutCircuitParams circuit_energy;
    double buffer_bit_J = 0;   // element-wise masks read through the activation gather (eq. DC4)
  };
  tlm_utils::simple_target_socket<DropoutSource> socket;

  DropoutSource(sc_core::sc_module_name name, const Config& cfg);
  DropoutSource(const DropoutSource&) = delete;
  DropoutSource& operator=(const DropoutSource&) = delete;

  double realised_p() const { return realised_p_; }
  const std::vector<double>& module_p() const { return module_p_; }
  void report_stats(StatsSink& sink) const override;
  // Declares this module's signals (the bits of the last request, draws, energy) in the VCD recorder.
  void trace(TraceRecorder& rec);

 private:
  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);

  Config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  double drive_A_ = 0, drive_pulse_s_ = 0, realised_p_ = 0;
  std::vector<double> module_p_;  // realised p of each module
  sc_core::sc_time bit_time_;
  std::uint64_t bits_ = 0, ones_ = 0, busy_ps_ = 0;
  std::vector<std::uint64_t> passes_;  // requests served per layer
  BitPhaseEnergy e0_, e1_;  // energy of a draw that gave 0 and 1 (nominal drive current)
  // Traced: bits (first 64 draws of the last request, 1 = drop), draws, energy_J.
  TraceRecorder* rec_ = nullptr;
  int tr_bits_ = -1, tr_draws_ = -1, tr_energy_ = -1;
};

}  // namespace bayescim::hw
