// The sense-amplifier path of an array whose layer's fan-in fits one read: each column's SA
// compares the column with a replica reference column gated by the same wordlines, set for the
// selected scale state, and gives the neuron's sign directly (eq. X1, X2; docs/hardware.md).
// Plain C++: no SystemC.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "hw/engine/array_op.h"
#include "hw/engine/position_drive.h"
#include "hw/engine/read_counts.h"
#include "hw/mapper.h"
#include "hw/physics/crossbar_physics.h"
#include "models/compiled.h"

namespace bayescim::hw {

class SenseAmp {
 public:
  SenseAmp(const CrossbarPhysics& phys, double offset_sigma_A, std::uint64_t seed, int index)
      : phys_(phys), offset_sigma_A_(offset_sigma_A), seed_(seed), index_(index) {}

  // Where the decision is drawn from: per-decision offset noise is keyed by it.
  struct Where {
    std::uint64_t image_key;
    int sample, position, column;
  };
  // One decision: out = +1 iff 2m - N >= A (threshold t, m matches of N active rows), i.e.
  // m >= ceil((A + N) / 2) (AtMost: the inverted output of m >= floor((A + N) / 2) + 1). A
  // reference outside [1, N] would give a constant, so no reference is read then; otherwise the
  // reference branch adds 2 M - 1 P and 2 (N - M) + 1 AP half-cells to `n`. Ideal devices
  // without offset compare the counts; otherwise the column current i_col (plus the offset)
  // with the reference current.
  bool decide(const models::Threshold& t, int m, double i_col, int active, bool analog, const Where& w,
              ReadCounts& n) const;

  // Ideal devices, no offset, one read per position, slice aligned: every position of every
  // column at once (AVX-512 sa_column), the same decisions and counts as decide(), bit for bit.
  // Writes column o's outputs at consecutive positions of out_bits ([out][positions]).
  void decide_columns(const ArrayOp& op, const ArrayAssignment& s, const std::vector<models::Threshold>& thr,
                      const std::uint64_t* cells, std::size_t words, ReadCounts& n);

 private:
  const CrossbarPhysics& phys_;
  double offset_sigma_A_;
  std::uint64_t seed_;
  int index_;
  // decide_columns' scratch: the drive word-major ([word][position]), active rows per position,
  // the positions per active-row count, the counts that occur, one column's outputs.
  PositionDrive drive_;
  std::vector<std::uint64_t> act_count_, out_words_;
  std::vector<std::pair<int, std::uint64_t>> act_values_;
};

}  // namespace bayescim::hw
