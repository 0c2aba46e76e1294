// Reading the array: one read of a group of rows at one output position, every column at once.
// One implementation per cell scheme (hw/params.h CellScheme; docs/hardware.md):
//   ComplementaryReadout  2T-2MTJ (w, not w): one read, every active row conducts through one MTJ
//   TwoPhaseReadout       1T-1MTJ (w only): rows with x = +1 and x = -1 read in two ADC phases
// Plain C++: no SystemC.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "hw/engine/cell_array.h"
#include "hw/engine/read_counts.h"
#include "hw/mapper.h"
#include "hw/params.h"
#include "hw/physics/crossbar_physics.h"
#include "hw/physics/ir_drop.h"
#include "hw/reuse/read_cache.h"

namespace bayescim::hw {

// One read: rows [lo, hi) of the slice (group g) at output position p.
struct ReadRequest {
  const std::uint64_t* x = nullptr;  // the slice's row vector, word-aligned (bit r = row r)
  const std::uint64_t* a = nullptr;  // its wordline enables
  int lo = 0, hi = 0, p = 0, g = 0;
  bool exact = false;  // ideal devices, exact ADC: the codes are the match counts, whatever hi - lo
  std::uint64_t image_key = 0;
  int sample = 0;
};

// What the sensing path takes from one read, per column of the slice.
struct ReadOutput {
  std::vector<int> codes;          // ADC path: the code (two-phase: the match estimate); SA path: the match count
  std::vector<double> sa_current;  // SA path: the column current (analog devices, or an SA offset)
};

// What every readout of one array shares: its cells, physics, sensing path and statistics.
struct ReadEnv {
  CellArray& cells;
  const CrossbarPhysics& phys;
  const CrossbarPhysics& ref;  // the references' physics (ArrayEngine::reference_physics)
  const ArchParams& arch;
  const ArrayAssignment& slice;
  bool sa_path;
  int index;
  std::uint64_t seed;
  int groups;           // reads of one position (per phase): ceil(rows / rows per read)
  int adc_levels;       // 2^bits - 1
  double read_disturb_rate;
  ReadCache& cache;     // analog reads; unused when not enabled
  ReadCounts& counts;
  double& analog_aJ;    // read energy of analog devices in this operation, summed per column (attojoules)
};

class Readout {
 public:
  explicit Readout(ReadEnv env) : env_(env) {}
  virtual ~Readout() = default;
  Readout(const Readout&) = delete;
  Readout& operator=(const Readout&) = delete;
  // Contract: reads every column of the slice over rows [r.lo, r.hi) with enables r.a and fills
  // out.codes[c] (and out.sa_current[c] on the SA path); adds the reads, conversions, cell
  // currents, wordlines and bitlines to env.counts and the analog read energy to env.analog_aJ;
  // applies read disturb to the cells. Returns the number of active rows.
  virtual int read(const ReadRequest& r, ReadOutput& out) = 0;

 protected:
  bool disturb_on() const { return env_.cells.analog() && env_.read_disturb_rate > 0; }
  // The key of this read's read-disturb draws.
  std::uint64_t disturb_key(const ReadRequest& r) const;
  // Analog reads without disturb: the cache slot of this read (no slot when the cache is off).
  ReadCache::Slot cache_slot(const ReadRequest& r);
  // The IR-drop parameters of this array (eq. IR1-IR5; off when every resistance is 0).
  static IrDropParams ir_params(const ReadEnv& env);
  ReadEnv env_;
  std::vector<double> sel_a_, sel_b_;  // per read: 1.0 where the row conducts through A / B
};

std::unique_ptr<Readout> make_readout(CellScheme scheme, const ReadEnv& env);
std::unique_ptr<Readout> make_complementary_readout(const ReadEnv& env);
std::unique_ptr<Readout> make_two_phase_readout(const ReadEnv& env);

}  // namespace bayescim::hw
