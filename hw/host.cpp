#include "hw/host.h"

#include <stdexcept>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "hw/protocol.h"

namespace bayescim::hw {

using sc_core::sc_time;

Host::Host(sc_core::sc_module_name name, const Config& cfg) : sc_module(name), socket("socket"), cfg_(cfg) {
  SC_HAS_PROCESS(Host);
  SC_THREAD(run);
}

void Host::run() {
  tlm_utils::tlm_quantumkeeper qk;
  qk.set_global_quantum(sc_time(cfg_.quantum_s, sc_core::SC_SEC));
  qk.reset();

  ProgramRequest prog;
  sc_time d = sc_core::SC_ZERO_TIME;
  send(socket, prog, d, name());
  wait(d);  // programming finishes before inference starts
  program_ps_ = d.value();
  qk.reset();

  const sc_time t0 = sc_core::sc_time_stamp();
  std::vector<float> logits(static_cast<std::size_t>(cfg_.classes));
  std::vector<std::uint8_t> bits(static_cast<std::size_t>(std::max(cfg_.dropout_bits, 1)));
  const auto& jobs = *cfg_.jobs;
  for (std::size_t j = 0; j < jobs.size() && !stop_; ++j) {
    for (int t = 0; t < cfg_.samples; ++t) {
      InferenceRequest req;
      req.pixels = jobs[j].pixels;
      req.image_key = jobs[j].image_key;
      req.sample = t;
      req.logits = logits.data();
      req.drop_bits = bits.data();
      req.image = static_cast<int>(j);
      req.trace = j < cfg_.trace_images;
      req.last_of_image = t + 1 == cfg_.samples;
      req.last_of_window = req.last_of_image && ((j + 1) % cfg_.window_images == 0 || j + 1 == jobs.size());
      sc_time delay = qk.get_local_time();
      send(socket, req, delay, name());
      qk.set(delay);
      if (qk.need_sync()) qk.sync();
      cfg_.sink(j, t, logits.data(), bits.data());
      ++samples_;
    }
  }
  qk.sync();
  infer_ps_ = (sc_core::sc_time_stamp() - t0).value();
}

void Host::report_stats(StatsSink& sink) const {
  const std::string m = name();
  sink.time_ps(m, "inference_time", infer_ps_);
  sink.time_ps(m, "programming_time", program_ps_);
  sink.count(m, "samples", static_cast<double>(samples_));
}

}  // namespace bayescim::hw
