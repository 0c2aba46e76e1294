// A crossbar tile: one STT-MRAM XNOR array with its sense amplifiers and shared ADCs.
#pragma once
#include <cstdint>
#include <memory>
#include <utility>
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
    bool memo = true;         // shortcuts that leave results unchanged: answer a repeated operation
                              // from the previous one; SA-path reads of ideal devices column by column
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
  // compute's positions on the SA path with ideal devices and one read per position, column by
  // column: the same decisions and counters as the general loop, bit for bit.
  void compute_sa_ideal(const TileOp& op);
  void replay(sc_core::sc_time& delay);

  // One read of rows [lo, hi) of the slice at one position: per column, the code the ADC (or the
  // match count the SA compares) gives, and the active rows. Returns the rows enabled.
  void read_group(const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, int p, int g, const TileOp& op,
                  int* codes, int* active_out);
  void disturb(int col, const std::uint64_t* x, const std::uint64_t* eligible, int lo, int hi, std::uint64_t key);
  void restore_disturbed();
  void make_analog();

  Config cfg_;
  std::shared_ptr<spdlog::logger> log_;
  CrossbarPhysics phys_;
  ActionTable actions_;
  const models::CompiledLayer* layer_ = nullptr;
  std::vector<std::uint64_t> cells_;  // [cols][words] packed weights as stored in the array
  std::vector<std::uint64_t> cells_t_;  // the same, [words][cols] (columns in SIMD lanes)
  std::vector<std::uint64_t> range_a_;  // read_group: the enables of rows [lo, hi)
  std::vector<std::int32_t> col_m_;     // read_group: every column's matches
  std::size_t words_ = 0;
  bool aligned_ = false;              // slice starts on a 64-bit word boundary
  bool two_phase_ = false;            // 1T-1MTJ cells: x = +1 and x = -1 rows in two reads
  int group_rows_ = 0;                // rows enabled by one read
  int groups_ = 1;                    // reads of one position (per phase)
  int reads_per_position_ = 1;
  sc_core::sc_time sa_op_time_, adc_op_time_;

  sc_core::sc_signal<bool> sig_busy_{"busy"};
  sc_core::sc_signal<std::uint64_t> sig_sa_out_{"sa_out"};  // outputs of columns 0..63 at the first position
  sc_core::sc_signal<double> sig_energy_{"energy_J"};        // running read + sense energy

  // statistics
  std::uint64_t reads_ = 0, sa_decisions_ = 0, adc_conversions_ = 0, tile_adds_ = 0;
  std::uint64_t cell_match_ = 0, cell_mismatch_ = 0;  // conducting MTJs in P and in AP, over all reads
  std::uint64_t ref_p_half_ = 0, ref_ap_half_ = 0;    // reference branch, in half-cell units
  std::uint64_t wordlines_ = 0, bitlines_ = 0;        // wordlines raised and bitlines charged, over all reads
  std::uint64_t p_writes_ = 0, ap_writes_ = 0;        // write pulses
  std::uint64_t verify_p_ = 0, verify_ap_ = 0;        // verify reads of MTJs written to P and to AP
  std::uint64_t write_errors_ = 0;                    // MTJs left in the wrong state after programming
  std::uint64_t disturbs_ = 0;                        // read-disturb switches (each restored by one write)
  std::uint64_t disturb_exposures_ = 0;               // reads of an MTJ that a disturb could switch
  std::uint64_t busy_ps_ = 0, program_ps_ = 0;
  // The integer counters an operation adds (compute records them; replay adds them again).
  struct OpCounts {
    std::uint64_t reads, sa_decisions, adc_conversions, tile_adds, cell_match, cell_mismatch, ref_p_half, ref_ap_half,
        wordlines, bitlines, busy_ps;
  };
  OpCounts counts() const;
  OpCounts last_op_{};
  // Ideal tiles: the previous operation's inputs (op_key) and outputs, to answer a repeat.
  void op_key(const TileOp& op, std::vector<std::uint64_t>& key) const;
  bool memo_valid_ = false;
  std::uint64_t memo_hits_ = 0, memo_misses_ = 0;
  std::vector<std::uint64_t> memo_key_, key_now_;
  std::vector<std::uint8_t> memo_bits_;
  std::vector<int> memo_partial_, memo_active_;
  // Non-ideal devices: per-MTJ conductances [col][row] of the MTJ storing w (A: conducts for
  // x = +1, or for both phases with 1T-1MTJ cells) and of the one storing not w (B), the read
  // energy summed from them (in attojoules), and the write-error states.
  bool analog_ = false;
  std::vector<double> g_a_, g_b_;
  std::vector<double> sel_a_, sel_b_;                 // per read: 1.0 where the row conducts through A / B
  std::vector<std::uint8_t> sel_nib_;                 // per read: the same selectors, 4 rows per byte
  std::vector<double> col_g_;                         // per read: every column's conductance sum
  std::vector<std::uint64_t> ap_a_, ap_b_;            // [col][words] switchable MTJs now in AP (read disturb)
  std::vector<std::uint8_t> wrong_a_, wrong_b_;       // [col][row] MTJ left in the wrong state by a write error
  struct Flip { std::size_t k; bool b; };
  std::vector<Flip> flipped_;                         // disturbed in the current image, restored before the next
  std::uint64_t image_ = ~std::uint64_t{0};
  std::vector<int> codes_, sum_, sa_matches_;               // per read: per-column codes / match counts
  std::vector<std::uint64_t> xs_, as_;                      // compute_sa_ideal: [position][words] drive
  std::vector<std::int32_t> act_;                           // compute_sa_ideal: active rows per position
  std::vector<std::uint64_t> act_count_, out_words_;        // positions per active-row count; one column's outputs
  std::vector<std::pair<int, std::uint64_t>> act_values_;   // the active-row counts that occur, with their positions
  std::vector<double> sa_current_, zeros_;
  static constexpr std::size_t kCacheWays = 2;
  std::vector<std::uint64_t> cache_key_;  // analog read cache: [set][way][1 + 2 words] image + 1, x, a
  std::vector<double> cache_cur_;         // [set][way][cols][phases] currents
  std::vector<std::int32_t> cache_code_;  // the same layout: their ADC codes
  std::vector<std::uint8_t> cache_next_;  // [set] the way to fill next
  double analog_aJ_ = 0;
  int adc_levels_ = 0;
};

}  // namespace bayescim::hw
