// Tile memo (acceleration layer): an operation with exactly the inputs of the tile's previous one
// (the first layer under Scale-Dropout, whose bit only selects the reference; a layer before the
// first dropout layer in later MC samples of an image) gives the same outputs on a deterministic
// array: they are written again and the previous operation's actions added again, without
// reading. The modelled hardware still performs every read: only the simulation is spared.
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
  // Looks `op` up: on a hit writes the kept outputs into op's buffers, sets `counts` to the kept
  // operation's actions and returns true. On a miss, remembers op's inputs for keep().
  bool answer(const ArrayOp& op, ReadCounts& counts);
  // Keeps the outputs and actions of the operation answer() just missed.
  void keep(const ArrayOp& op, const ReadCounts& counts);
  // An operation not looked up was computed: the kept outputs no longer match the tile's last.
  void forget() { valid_ = false; }
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
    std::size_t word;  // first word in bits_
  };
  std::vector<Run> runs(const ArrayOp& op) const;
  // key_of(op) == key_, compared in place.
  bool same_inputs(const ArrayOp& op) const;

  ArrayAssignment slice_;
  bool sa_path_;
  int arch_cols_;
  bool valid_ = false;
  std::uint64_t hits_ = 0, misses_ = 0;
  std::vector<std::uint64_t> key_, key_now_;
  std::vector<Run> runs_;
  std::vector<std::uint64_t> bits_;  // SA path: the outputs, packed run by run
  std::vector<int> partial_, active_;  // ADC path: [position][col] partial sums, [position] active rows
  ReadCounts counts_;
};

}  // namespace bayescim::hw
