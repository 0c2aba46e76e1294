// The host: a TLM initiator that programs the weights, then streams images through the
// accelerator, T MC samples per image, and hands every sample's logits to a sink.
#pragma once
#include <cstdint>
#include <functional>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <vector>

#include "hw/stats.h"

namespace bayescim::hw {

struct Job {
  const std::uint8_t* pixels = nullptr;
  std::uint64_t image_key = 0;
};

// Called once per MC sample: (job index, sample, logits[classes], drop bits[dropout layers]).
using SampleSink = std::function<void(std::size_t, int, const float*, const std::uint8_t*)>;

class Host : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    const std::vector<Job>* jobs = nullptr;
    int samples = 1;
    int classes = 0;
    int dropout_bits = 0;
    double quantum_s = 1e-6;
    std::size_t trace_images = 0;  // the first N jobs run synchronised, for the VCD
    // Images per timing window (pipeline_images): the jobs are grouped from the first, the last
    // group may be shorter.
    std::size_t window_images = 1;
    SampleSink sink;
  };
  tlm_utils::simple_initiator_socket<Host> socket;

  Host(sc_core::sc_module_name name, const Config& cfg);
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  void report_stats(StatsSink& sink) const override;
  std::uint64_t inference_time_ps() const { return infer_ps_; }
  // Ends the run after the image in progress: no further image is issued and the simulation ends
  // normally (safe to call from the sample sink). With pipeline_images > 1 the unfinished window
  // is not timed: an interrupted run reports nothing.
  void request_stop() { stop_ = true; }

 private:
  void run();

  Config cfg_;
  std::uint64_t program_ps_ = 0, infer_ps_ = 0;
  std::uint64_t samples_ = 0;
  bool stop_ = false;
};

}  // namespace bayescim::hw
