// The controller: schedules the layers of one MC sample over the tiles. Layers run in sequence;
// the arrays of one layer (all row and column tiles and copies) run in parallel (the layer takes
// as long as its slowest array), then the digital periphery adds partial sums and applies
// thresholds or BatchNorm, for its cycles times the clock period. A dropout layer first draws its
// bits (they gate its wordlines or select its references); a pipelined dropout module's rounds
// after the first overlap the array reads, and the layer cannot end before they do. With
// pipeline_samples, the layers of successive MC samples of one image overlap
// (hw/engine/sample_pipeline.h).
//
// This module is the shell: sockets, the timing of each step, the traced signals and statistics.
// What each step computes lives in plain-C++ engines (hw/engine/), the simulation shortcuts in
// hw/reuse/ (switched off together by Config::accelerate).
#pragma once
#include <cstdint>
#include <memory>
#include <spdlog/spdlog.h>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

#include "hw/engine/digital_periphery.h"
#include "hw/engine/sample_pipeline.h"
#include "hw/engine/wordline_drive.h"
#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/physics/energy_table.h"
#include "hw/protocol.h"
#include "hw/reuse/gather_cache.h"
#include "hw/reuse/prefix_cache.h"
#include "hw/stats.h"
#include "hw/trace_recorder.h"
#include "models/compiled.h"

namespace bayescim::hw {

class Controller : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    const models::CompiledNetwork* net = nullptr;
    const Mapping* mapping = nullptr;
    ArchParams arch;
    // Simulation shortcuts that leave results unchanged (hw/reuse/): replay the layers before the
    // first dropout layer in later MC samples of an image, and gather the first dropout layer's
    // drive once per image. Only valid when those layers are deterministic (ideal devices, no
    // SA offset); not used inside the VCD window, whose signals show every layer's real drive.
    bool accelerate = false;
  };
  tlm_utils::simple_target_socket<Controller> host_socket;
  tlm_utils::multi_passthrough_initiator_socket<Controller> tile_socket;  // bound in Mapping::arrays order
  tlm_utils::simple_initiator_socket<Controller> dropout_socket;

  Controller(sc_core::sc_module_name name, const Config& cfg);
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void report_stats(StatsSink& sink) const override;
  // Declares this module's signals (state, wordline enables, dropout mask) in the VCD recorder.
  void trace(TraceRecorder& rec);

 private:
  // One MC sample on its way through the layers.
  struct Sample {
    InferenceRequest& req;
    sc_core::sc_time base;      // the sample's absolute time is base + delay
    bool overlap = false;       // pipelined with its neighbours
    int scale_bit = 0;          // next entry of req.drop_bits
    sc_core::sc_time next_issue = sc_core::SC_ZERO_TIME;  // when layer 0 can take the next sample
  };

  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);
  void program_all(sc_core::sc_time& delay);
  void infer(InferenceRequest& req, sc_core::sc_time& delay);
  // The per-layer steps of infer; each advances `delay` by the time it takes.
  void compute_layer(std::size_t li, Sample& s, sc_core::sc_time& delay);
  void replay_layer(std::size_t li, Sample& s, sc_core::sc_time& delay);
  const std::uint64_t* draw_dropout(std::size_t li, Sample& s, bool& drop, sc_core::sc_time& pending,
                                    sc_core::sc_time& delay);
  void drive_wordlines(std::size_t li, const std::uint64_t* mask, const Sample& s);
  // Issues layer li's tile operations on `drive`, all at `issue`; returns when the slowest ends.
  sc_core::sc_time read_arrays(std::size_t li, const std::uint64_t* rows, const std::uint64_t* active, bool drop,
                               const Sample& s, sc_core::sc_time issue);
  void leave_layer(std::size_t li, Sample& s, sc_core::sc_time start, sc_core::sc_time& delay);
  void end_sample(Sample& s, sc_core::sc_time& delay);
  // Inside the VCD window: records the sample entering `phase` at its own time (base + delay).
  void enter_phase(const Sample& s, int phase, const sc_core::sc_time& delay);
  void record(const Sample& s, int id, const sc_core::sc_time& delay, std::uint64_t value);
  // Moves the sample's time to the absolute time `ps` if that is later.
  static void not_before(const Sample& s, std::uint64_t ps, sc_core::sc_time& delay);
  static std::uint64_t now_ps(const Sample& s, const sc_core::sc_time& delay) { return (s.base + delay).value(); }

  Config cfg_;
  ActionTable actions_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<sc_core::sc_time> digital_time_;  // per layer: the periphery's cycles x clock period
  DigitalPeriphery periphery_;
  WordlineDrive drive_;
  std::vector<std::uint64_t> mask_;  // one layer's dropout draws
  SamplePipeline pipeline_;
  PrefixCache prefix_;
  GatherCache gather_;

  // Traced signals (recorded only inside the VCD window): image, sample, layer (-1 idle), phase
  // (0 idle, 1 dropout draw, 2 array read, 3 digital), wordlines (rows 0..63 enabled at the first
  // position), dropout_mask (first 64 draws of the layer, 1 = drop), scale_select (Scale-Dropout
  // reference select).
  TraceRecorder* rec_ = nullptr;
  struct {
    int image = -1, sample = -1, layer = -1, phase = -1, wordlines = -1, mask = -1, scale_select = -1;
  } tr_;

  // statistics (the digital periphery's counts are in periphery_)
  std::uint64_t samples_ = 0;
  std::vector<std::uint64_t> layer_ps_;
};

}  // namespace bayescim::hw
