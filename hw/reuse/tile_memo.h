// Tile memo (acceleration layer): an operation with exactly the inputs of one of the tile's two
// previous ones (the first layer under Scale-Dropout, whose bit only selects the reference; the
// next layer, whose input then alternates between two patterns; a layer before the first dropout
// layer in later MC samples of an image) gives the same outputs on a repeatable array (ideal
// devices, or analog devices without read disturb; no SA offset noise): they are written again
// and the kept operation's actions and analog read energy added again, without reading. On the
// ADC path the dropout bit is not part of the inputs (the threshold it selects lives in the
// digital periphery). The modelled hardware still performs every read: only the simulation is
// spared.
#pragma once
#include <cstdint>
#include <vector>

#include "hw/engine/array_op.h"
#include "hw/engine/read_counts.h"
#include "hw/mapper.h"

namespace bayescim::hw {

class TileMemo {
 public:
  TileMemo(const ArrayAssignment& slice, bool sa_path, int arch_cols)
      : slice_(slice), sa_path_(sa_path), arch_cols_(arch_cols) {}

  // A tile that has missed 16 times without a hit stops looking: its inputs change every time.
  bool worth_trying() const { return hits_ > 0 || misses_ < 16; }
  // Looks `op` up: on a hit writes the kept outputs into op's buffers (not when
  // op.outputs_unused), sets `counts` and `aJ` to
  // the kept operation's actions and analog read energy (attojoules) and returns true. On a miss,
  // remembers op's inputs for keep().
  bool answer(const ArrayOp& op, ReadCounts& counts, double& aJ);
  // Keeps the outputs, actions and analog read energy of the operation answer() just missed, in
  // place of the older of the two kept ones.
  void keep(const ArrayOp& op, const ReadCounts& counts, double aJ);
  // An operation not looked up was computed: forget everything kept (conservative).
  void forget() {
    for (Entry& e : ways_) e.valid = false;
  }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  template <class F>
  void for_each_block(const ArrayOp& op, const std::uint64_t* v, F f) const;
  // drop, positions, then the words of op's row vectors and of its wordline enables that hold
  // this slice's rows, at its positions.
  void key_of(const ArrayOp& op, std::vector<std::uint64_t>& key) const;
  struct Run {
    std::size_t at;    // first bit in out_bits
    int len;           // bits
    std::size_t word;  // first word in Entry::bits
  };
  std::vector<Run> runs(const ArrayOp& op) const;
  struct Entry {
    bool valid = false;
    std::vector<std::uint64_t> key;
    std::vector<std::uint64_t> bits;     // SA path: the outputs, packed run by run
    std::vector<int> partial, active;    // ADC path: [position][col] partial sums, [position] active rows
    ReadCounts counts;
    double aJ = 0;                       // analog read energy of the operation (attojoules)
  };
  // key_of(op) == key, compared in place.
  bool same_inputs(const ArrayOp& op, const std::vector<std::uint64_t>& key) const;
  // The dropout bit as far as it changes this tile's outputs: only on the SA path.
  std::uint64_t drop_key(const ArrayOp& op) const { return sa_path_ && op.drop ? 1 : 0; }

  ArrayAssignment slice_;
  bool sa_path_;
  int arch_cols_;
  std::uint64_t hits_ = 0, misses_ = 0;
  Entry ways_[2];
  int next_ = 0;  // the way keep() fills
  std::vector<std::uint64_t> key_now_;
  std::vector<Run> runs_;
};

}  // namespace bayescim::hw
