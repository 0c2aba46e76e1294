// The controller: runs the layers of one MC sample over the tiles. A dropout layer first draws
// its bits (they gate its wordlines or select its references); the arrays of one layer (all row
// and column tiles and copies) are read, then the digital periphery adds partial sums and applies
// thresholds or BatchNorm. These calls compute *what* (untimed); what each takes (the tiles' and
// dropout hardware's annotated delays, the periphery's cycles) goes into one LayerOp per layer,
// and when a window of samples is complete (every sample, or with pipeline_samples the T samples
// of pipeline_images consecutive images, up to the request marked last_of_window) its child `timing` (hw/timing/timing_model.h) simulates *when*: the layers
// as concurrent stages, the shared dropout unit's arbitration, the double buffers between layers.
//
// This module is the shell: sockets, the op streams, the traced signals and statistics.
// What each step computes lives in plain-C++ engines (hw/engine/), the simulation shortcuts in
// hw/reuse/ (switched off together by Config::accelerate, which also switches off the timing
// model's memo).
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
#include "hw/engine/wordline_drive.h"
#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/physics/energy_table.h"
#include "hw/protocol.h"
#include "hw/reuse/gather_cache.h"
#include "hw/reuse/prefix_cache.h"
#include "hw/stats.h"
#include "hw/timing/timing_model.h"
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
  // The timing model needs the recorder to resolve traced changes even when this module's own
  // signals are not traced.
  void attach_recorder(TraceRecorder& rec) { timing.trace(rec); rec_any_ = &rec; }

  TimingModel timing;

 private:
  // One MC sample on its way through the layers.
  struct Sample {
    InferenceRequest& req;
    int slot = 0;               // its place in the window
    int scale_bit = 0;          // next entry of req.drop_bits
  };

  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);
  void program_all(sc_core::sc_time& delay);
  void infer(InferenceRequest& req, sc_core::sc_time& delay);
  // The per-layer steps of infer; each fills the layer's LayerOp.
  void compute_layer(std::size_t li, Sample& s, LayerOp& op);
  void replay_layer(std::size_t li, Sample& s, LayerOp& op);
  const std::uint64_t* draw_dropout(std::size_t li, Sample& s, bool& drop, LayerOp& op);
  void drive_wordlines(std::size_t li, const std::uint64_t* mask, const Sample& s);
  // Issues layer li's tile operations; the op's read and conversion times are the slowest array's.
  void read_arrays(std::size_t li, const std::uint64_t* rows, const std::uint64_t* active, bool drop,
                   const Sample& s, LayerOp& op);
  void end_sample(Sample& s, sc_core::sc_time& delay);
  // Inside the VCD window: records a change at `point` of layer li of the sample (its time comes
  // from the timing model).
  void record(const Sample& s, int id, std::size_t li, TraceRecorder::Point point, std::uint64_t value);

  Config cfg_;
  ActionTable actions_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<sc_core::sc_time> digital_time_;  // per layer: the periphery's cycles x clock period
  std::vector<std::uint64_t> output_bits_;       // per layer: bits it sends over the interconnect per sample
  std::uint64_t output_bits(std::size_t li) const;
  DigitalPeriphery periphery_;
  WordlineDrive drive_;
  std::vector<std::uint64_t> mask_;  // one layer's dropout draws
  WindowOps window_;                 // the samples of the current window
  std::vector<bool> window_ends_;    // per sample of the window: the last of its image
  bool window_traced_ = false;
  PrefixCache prefix_;
  GatherCache gather_;

  // Traced signals (recorded only inside the VCD window): image, sample, layer (-1 idle), phase
  // (0 idle, 1 dropout draw, 2 array read, 3 digital), wordlines (rows 0..63 enabled at the first
  // position), dropout_mask (first 64 draws of the layer, 1 = drop), scale_select (Scale-Dropout
  // reference select).
  TraceRecorder* rec_ = nullptr;      // this module's signals are traced
  TraceRecorder* rec_any_ = nullptr;  // some module's are
  struct {
    int image = -1, sample = -1, layer = -1, phase = -1, wordlines = -1, mask = -1, scale_select = -1;
  } tr_;

  // statistics (the digital periphery's counts are in periphery_)
  std::uint64_t samples_ = 0;
};

}  // namespace bayescim::hw
