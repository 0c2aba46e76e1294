// VCD waveforms: the trace file is written under a temporary name and renamed into place when
// the simulation ends, with a GTKWave save file (.gtkw) beside it that groups the signals.
#pragma once
#include <string>
#include <systemc>

#include "sim/config.h"

namespace bayescim::sim {

class VcdWriter {
 public:
  explicit VcdWriter(const TraceConfig& cfg);  // opens nothing when cfg.vcd is empty
  ~VcdWriter();                                // an uncommitted trace is removed
  VcdWriter(const VcdWriter&) = delete;
  VcdWriter& operator=(const VcdWriter&) = delete;
  sc_core::sc_trace_file* file() const { return tf_; }
  // Closes the trace, renames it to cfg.vcd and writes cfg.vcd's .gtkw save file.
  void commit();

 private:
  TraceConfig cfg_;
  std::string tmp_base_;
  sc_core::sc_trace_file* tf_ = nullptr;
};

// The GTKWave save file for a VCD of the given accelerator signals (names as in the VCD).
std::string gtkw_text(const std::string& vcd_path, const std::string& vcd_text);

}  // namespace bayescim::sim
