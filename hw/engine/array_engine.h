// The functional core of a tile (plain C++, no SystemC): its cells, the readout of its cell
// scheme and its sensing path. compute() performs one operation bit-exactly and returns the
// actions it took; the tile shell decides when, and keeps the statistics.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "hw/engine/array_op.h"
#include "hw/engine/cell_array.h"
#include "hw/engine/read_counts.h"
#include "hw/engine/readout.h"
#include "hw/engine/sense_amp.h"
#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/physics/crossbar_physics.h"
#include "hw/reuse/read_cache.h"
#include "models/compiled.h"

namespace bayescim::hw {

class ArrayEngine {
 public:
  struct Config {
    ArchParams arch;
    DeviceParams device;
    ArrayAssignment slice;
    bool sa_path = false;
    int index = 0;           // the array's index in the mapping (identifies its devices)
    std::uint64_t seed = 0;  // variation, faults and SA offset noise
    bool accelerate = true;  // the analog read cache and the column-by-column SA kernel (same results)
  };
  explicit ArrayEngine(const Config& cfg);
  ArrayEngine(const ArrayEngine&) = delete;
  ArrayEngine& operator=(const ArrayEngine&) = delete;

  // Stores the layer's slice and writes its MTJs; returns the write rounds (CellArray::program).
  std::uint64_t program(const models::CompiledLayer& layer);
  // Reads every position of the slice: SA path, writes the outputs' bits into op.out_bits; ADC
  // path, each position's column codes summed over the read groups into op.partial and the active
  // rows into op.active_rows. Returns the actions of this operation.
  ReadCounts compute(const ArrayOp& op);

  // Reads of one position: groups of rows_per_read rows, times two phases with 1T-1MTJ cells.
  int reads_per_position() const { return groups_ * (cfg_.arch.cell == CellScheme::TwoPhase ? 2 : 1); }
  // true: an operation's outputs and actions depend only on its inputs (ideal devices, no SA
  // offset), so a repeat may be answered from the previous one (hw/reuse/tile_memo.h).
  bool deterministic() const { return !cells_.analog() && cfg_.arch.sa_offset_sigma_A == 0; }
  // true: an operation's outputs, actions and analog read energy depend only on its inputs (the
  // cells do not change while read: no read disturb; no per-decision SA offset noise), so a repeat
  // may be answered from an earlier one (hw/reuse/tile_memo.h).
  bool repeatable() const {
    return cfg_.device.variation.read_disturb_rate == 0 && cfg_.arch.sa_offset_sigma_A == 0;
  }
  const CellArray& cells() const { return cells_; }
  const CrossbarPhysics& physics() const { return phys_; }
  const CrossbarPhysics& reference_physics() const { return ref_phys_; }
  const models::CompiledLayer* layer() const { return layer_; }
  // Read energy of analog devices so far, in whole units of kAnalogUnitJ: each operation's energy
  // (its reads' column energies summed in read and column order from 0) is rounded to a whole
  // number of units before it is added, so the total is an integer and the sum over workers is
  // the same whatever the split (--jobs), and a repeated operation adds the same number
  // (repeat()) with or without the tile memo. The rounding is at most half a unit (5 aJ) per
  // operation; one column's read of a single AP cell is already about 7 fJ.
  static constexpr double kAnalogUnitJ = 1e-17;
  std::uint64_t analog_read_units() const { return analog_units_; }
  // The analog read energy of the last compute(), in attojoules (not rounded).
  double last_op_aJ() const { return op_aJ_; }
  void repeat(double aJ) { analog_units_ += to_units(aJ); }

 private:
  // compute() without the bookkeeping of the operation's totals.
  void compute_op(const ArrayOp& op);
  // One position: its drive word-aligned, the read groups summed, then SA decisions or partials.
  void compute_position(const ArrayOp& op, int p, const std::vector<models::Threshold>& thr);

  Config cfg_;
  CrossbarPhysics phys_;
  // The references' physics: phys_ itself, or with calibrated references the population's mean
  // conductances (eq. X4), which the ADC decodes and the SA compares with.
  CrossbarPhysics ref_phys_;
  CellArray cells_;
  SenseAmp sa_;
  ReadCache cache_;
  ReadCounts op_counts_;
  static std::uint64_t to_units(double aJ) { return static_cast<std::uint64_t>(std::llround(aJ * 1e-18 / kAnalogUnitJ)); }
  std::uint64_t analog_units_ = 0;
  double op_aJ_ = 0;  // this operation's analog read energy (the readout adds to it)
  int group_rows_ = 0, groups_ = 1, adc_levels_ = 0;
  // Ideal complementary cells on the ADC path with an exact ADC: every group's code is its match
  // count, so their sum is the count over all rows, taken in one pass (the same codes and counts).
  bool merge_groups_ = false;
  bool exact_counts_ = false;  // the same without the condition on groups: codes = counts
  // Exact-ADC path, position by position with every column at once (AVX-512
  // xnor_counts_columns): the same partials and counts as compute_position.
  void count_columns(const ArrayOp& op);
  std::vector<std::uint64_t> en_;  // count_columns: one position's wordline enables within the slice
  std::unique_ptr<Readout> readout_;
  const models::CompiledLayer* layer_ = nullptr;
  ReadOutput read_;
  std::vector<int> sum_;  // per column: codes summed over the groups of one position
};

}  // namespace bayescim::hw
