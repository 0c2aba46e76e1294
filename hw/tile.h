// A crossbar tile: one STT-MRAM XNOR array with its sense amplifiers and shared ADCs.
#pragma once
#include <cstdint>
#include <memory>
#include <spdlog/spdlog.h>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/protocol.h"
#include "hw/physics/crossbar_physics.h"
#include "hw/physics/energy_table.h"
#include "hw/stats.h"

namespace bayescim::hw {

class Tile : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    ArchParams arch;
    DeviceParams device;
    ArrayAssignment slice;
    bool sa_path = false;
    int index = 0;            // the array's index in the mapping (identifies its devices)
    std::uint64_t seed = 0;   // variation, faults and SA offset noise
  };
  tlm_utils::simple_target_socket<Tile> socket;

  Tile(sc_core::sc_module_name name, const Config& cfg);
  Tile(const Tile&) = delete;
  Tile& operator=(const Tile&) = delete;

  void report_stats(StatsSink& sink) const override;
  // Registers this tile's signals (busy, SA outputs, running energy) in a VCD.
  void trace(sc_core::sc_trace_file* tf) const;
  void set_busy(bool b) { sig_busy_.write(b); }

 private:
  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);
  void program(const TileProgram& p, sc_core::sc_time& delay);
  void compute(TileOp& op, sc_core::sc_time& delay);

  Config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  CrossbarPhysics phys_;
  ActionTable actions_;
  const models::CompiledLayer* layer_ = nullptr;
  std::vector<std::uint64_t> cells_;  // [cols][words] packed weights as stored in the array
  std::size_t words_ = 0;
  bool aligned_ = false;              // slice starts on a 64-bit word boundary
  sc_core::sc_time sa_op_time_, adc_op_time_;

  sc_core::sc_signal<bool> sig_busy_{"busy"};
  sc_core::sc_signal<std::uint64_t> sig_sa_out_{"sa_out"};  // outputs of columns 0..63 at the first position
  sc_core::sc_signal<double> sig_energy_{"energy_J"};        // running read + sense energy

  // statistics
  std::uint64_t reads_ = 0, sa_decisions_ = 0, adc_conversions_ = 0;
  std::uint64_t cell_match_ = 0, cell_mismatch_ = 0;  // conducting MTJs in P and in AP, over all reads
  std::uint64_t ref_p_half_ = 0, ref_ap_half_ = 0;    // reference branch, in half-cell units
  std::uint64_t p_writes_ = 0, ap_writes_ = 0;
  std::uint64_t busy_ps_ = 0, program_ps_ = 0;
  // Non-ideal devices: per-MTJ conductances [col][row] of the MTJ driven by x = +1 (A) and by
  // x = -1 (B), and the read energy summed from them (in attojoules).
  bool analog_ = false;
  std::vector<double> g_a_, g_b_;
  double analog_aJ_ = 0;
  int adc_levels_ = 0, adc_step_ = 1;
};

}  // namespace bayescim::hw
