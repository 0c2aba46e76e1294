// VCD waveforms: the modules record their traced signals with their own simulated times
// (hw/trace_recorder.h); when the simulation ends the VCD is written atomically, with a GTKWave
// save file (.gtkw) beside it that groups the signals. An interrupted run writes neither.
#pragma once
#include <string>

#include "hw/trace_recorder.h"
#include "sim/config.h"

namespace bayescim::sim {

class VcdWriter {
 public:
  explicit VcdWriter(const TraceConfig& cfg);  // records nothing when cfg.vcd is empty
  VcdWriter(const VcdWriter&) = delete;
  VcdWriter& operator=(const VcdWriter&) = delete;
  // The recorder the traced modules write to; null when no VCD is asked for.
  hw::TraceRecorder* recorder() { return cfg_.vcd.empty() ? nullptr : &rec_; }
  // Writes cfg.vcd and its .gtkw save file, each atomically (the VCD first).
  void commit();

 private:
  TraceConfig cfg_;
  hw::TraceRecorder rec_;
};

// The GTKWave save file for a VCD of the given accelerator signals (names as in the VCD).
std::string gtkw_text(const std::string& vcd_path, const std::string& vcd_text);

}  // namespace bayescim::sim
