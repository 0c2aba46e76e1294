// The controller: schedules the layers of one MC sample over the tiles. Layers run in sequence;
// the arrays of one layer (all row and column tiles and copies) run in parallel (the layer takes
// as long as its slowest array), then the digital periphery adds partial sums and applies
// thresholds or BatchNorm. With pipeline_samples, the layers of successive MC samples of one
// image overlap: sample t+1 enters layer l when sample t has left it (each layer holds its own
// arrays), and the dropout unit serves one layer at a time; an image starts when the previous
// one has left the pipeline, so per-image times add up the same way in any split of the images.
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

#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/protocol.h"
#include "hw/physics/energy_table.h"
#include "hw/stats.h"
#include "models/compiled.h"

namespace bayescim::hw {

class Controller : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    const models::CompiledNetwork* net = nullptr;
    const Mapping* mapping = nullptr;
    ArchParams arch;
    // Replay the layers before the first dropout layer in later MC samples of an image (only
    // valid when they are deterministic: ideal devices, no SA offset).
    bool prefix_reuse = false;
  };
  tlm_utils::simple_target_socket<Controller> host_socket;
  tlm_utils::multi_passthrough_initiator_socket<Controller> tile_socket;  // bound in Mapping::arrays order
  tlm_utils::simple_initiator_socket<Controller> dropout_socket;

  Controller(sc_core::sc_module_name name, const Config& cfg);
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void report_stats(StatsSink& sink) const override;
  // Registers this module's signals (state, wordline enables, dropout mask) in a VCD.
  void trace(sc_core::sc_trace_file* tf) const;

 private:
  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);
  void program_all(sc_core::sc_time& delay);
  void infer(InferenceRequest& req, sc_core::sc_time& delay);
  TileOp tile_op(const models::CompiledLayer& l, int a, const std::uint64_t* rows, const std::uint64_t* active,
                 bool drop, std::uint64_t* dst, const InferenceRequest& req);

  Config cfg_;
  ActionTable actions_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::uint64_t> buf_a_, buf_b_;  // activation buffers (ping-pong)
  std::vector<std::uint64_t> buf_pre_;        // conv outputs before max-pooling
  std::vector<std::uint64_t> rows_, active_;  // [positions][words] wordline drive of one layer
  std::vector<std::uint64_t> mask_;           // one layer's dropout draws
  std::vector<int> partial_;                  // [row_tile][position][col] ADC outputs of one column tile
  std::vector<int> active_rows_;              // [row_tile][position]
  std::vector<int> pre_;                      // one position's pre-activations, summed over row tiles
  std::vector<sc_core::sc_time> digital_time_;  // per layer


  // traced signals (written only inside the VCD window)
  sc_core::sc_signal<int> sig_image_{"image", -1}, sig_sample_{"sample", -1}, sig_layer_{"layer", -1};
  sc_core::sc_signal<int> sig_phase_{"phase", 0};  // 0 idle, 1 dropout draw, 2 array read, 3 digital
  sc_core::sc_signal<std::uint64_t> sig_wordlines_{"wordlines"};  // rows 0..63 enabled at the first position
  sc_core::sc_signal<std::uint64_t> sig_mask_{"dropout_mask"};    // first 64 draws of the layer (1 = drop)
  sc_core::sc_signal<bool> sig_scale_select_{"scale_select"};     // Scale-Dropout reference select

  // statistics
  std::uint64_t samples_ = 0, digital_adds_ = 0, digital_neurons_ = 0, buffer_bits_ = 0, pool_ops_ = 0;
  std::vector<std::uint64_t> layer_ps_;
  // pipeline_samples: absolute times at which each layer's arrays, and the dropout unit, are free,
  // and the time the last issued sample completes.
  std::vector<sc_core::sc_time> layer_free_;
  sc_core::sc_time dropout_free_, drain_;
  // Prefix reuse: the activations (or logits) after the layers before the first dropout layer,
  // for the image that computed them, and each of those layers' digital counts.
  struct LayerCounts {
    std::uint64_t digital_adds = 0, digital_neurons = 0, buffer_bits = 0, pool_ops = 0;
  };
  int first_dropout_ = 0;
  bool prefix_valid_ = false;
  std::uint64_t prefix_image_ = 0;
  std::vector<std::uint64_t> prefix_x_;
  std::vector<float> prefix_logits_;
  std::vector<LayerCounts> prefix_counts_;
  struct Drive {
    std::vector<std::uint64_t> rows, active;
  };
  std::vector<Drive> prefix_drive_;  // each prefix layer's wordline drive in the image's first sample
  // The first dropout layer's input is the same in every MC sample of an image: its unmasked
  // wordline drive is gathered once per image and each sample's draws only clear rows of it.
  bool gather_valid_ = false;
  std::uint64_t gather_image_ = 0;
  std::vector<std::uint64_t> rows0_, active0_;
};

}  // namespace bayescim::hw
