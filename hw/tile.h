// A crossbar tile: the SystemC shell of one STT-MRAM XNOR array with its sense amplifiers and
// shared ADCs. It owns the socket, the timing of its operations, its busy line and statistics;
// the reads themselves are done by its engine (hw/engine/array_engine.h), and repeated
// operations may be answered by its memo (hw/reuse/tile_memo.h).
#pragma once
#include <cstdint>
#include <memory>
#include <spdlog/spdlog.h>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/engine/array_engine.h"
#include "hw/engine/read_counts.h"
#include "hw/physics/energy_table.h"
#include "hw/protocol.h"
#include "hw/reuse/tile_memo.h"
#include "hw/stats.h"
#include "hw/trace_recorder.h"

namespace bayescim::hw {

class Tile : public sc_core::sc_module, public StatsProvider {
 public:
  using Config = ArrayEngine::Config;  // accelerate: also the memo
  tlm_utils::simple_target_socket<Tile> socket;

  Tile(sc_core::sc_module_name name, const Config& cfg);
  Tile(const Tile&) = delete;
  Tile& operator=(const Tile&) = delete;

  void report_stats(StatsSink& sink) const override;
  // Declares this tile's signals (busy, SA outputs, running energy) in the VCD window's recorder.
  void trace(TraceRecorder& rec);

 private:
  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);
  void program(const TileProgram& p, sc_core::sc_time& delay);
  void compute(TileOp& op, sc_core::sc_time& delay);
  void trace_outputs(const TileOp& op, std::uint64_t busy_ps);
  Config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  ArrayEngine engine_;
  TileMemo memo_;
  ActionTable actions_;
  sc_core::sc_time sa_op_time_, adc_op_time_;

  // Traced signals: busy (up while a traced operation runs; up again if another starts as it
  // ends), sa_out (outputs of columns 0..63 at the first position), energy_J (running energy).
  TraceRecorder* rec_ = nullptr;
  int tr_busy_ = -1, tr_sa_out_ = -1, tr_energy_ = -1;

  // statistics
  ReadCounts reads_;
  std::uint64_t busy_ps_ = 0, program_ps_ = 0;
};

}  // namespace bayescim::hw
