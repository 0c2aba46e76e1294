// The whole accelerator: host, controller, the tiles the mapper asks for, and the dropout
// hardware of the network's dropout kind, wired together. Built from validated parameters and a compiled network.
#pragma once
#include <memory>
#include <systemc>
#include <vector>

#include "hw/controller.h"
#include "hw/dropout_source.h"
#include "hw/host.h"
#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/stats.h"
#include "hw/tile.h"

namespace bayescim::hw {

struct AcceleratorConfig {
  ArchParams arch;
  DeviceParams device;
  DropoutUnitParams dropout_unit;
  double dropout_p = 0;
  std::uint64_t seed = 0;
  int samples = 1;
  std::size_t trace_images = 0;  // VCD window: the first N images (all their samples)
  // Simulation shortcuts that leave results unchanged (off to check that claim): the controller
  // replays the layers before the first dropout layer and gathers the first dropout layer's drive
  // once per image, and each ideal tile answers an operation that repeats its previous one from it.
  bool accelerate = true;
};

// Which modules register their signals in the VCD.
struct TraceSelection {
  bool controller = true, tiles = true, dropout = true;
};

class Accelerator : public sc_core::sc_module, public StatsProvider {
 public:
  Accelerator(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const models::CompiledNetwork& net,
              const std::vector<Job>& jobs, SampleSink sink);
  Accelerator(const Accelerator&) = delete;
  Accelerator& operator=(const Accelerator&) = delete;

  const Mapping& mapping() const { return mapping_; }
  const Host& host() const { return *host_; }
  void request_stop() { host_->request_stop(); }
  const DropoutSource& dropout_source() const { return *dropout_; }
  // Leakage of all arrays over the inference time (known after the simulation ends).
  void report_stats(StatsSink& sink) const override;
  // Declares the selected modules' signals in the VCD window's recorder.
  void trace(TraceRecorder& rec, const TraceSelection& which);

 private:
  AcceleratorConfig cfg_;
  Mapping mapping_;
  std::unique_ptr<Host> host_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<DropoutSource> dropout_;
  std::vector<std::unique_ptr<Tile>> tiles_;
};

}  // namespace bayescim::hw
