// The MTJs of one array slice: the stored weights, their programming (write pulses, write-verify,
// write errors), and with non-ideal devices each MTJ's own conductance and state (variation,
// stuck-at faults, write errors, read disturb). Plain C++: no SystemC.
#pragma once
#include <cstdint>
#include <vector>

#include "hw/mapper.h"
#include "hw/params.h"
#include "models/compiled.h"

namespace bayescim::hw {

class CellArray {
 public:
  // Programming statistics: write pulses and verify reads per target state, residual errors.
  struct Writes {
    std::uint64_t p_writes = 0, ap_writes = 0, verify_p = 0, verify_ap = 0, write_errors = 0;
    std::uint64_t failed_to_p = 0, failed_to_ap = 0;  // pulses that left the MTJ unswitched, per direction
  };

  CellArray(const DeviceParams& device, const ArchParams& arch, const ArrayAssignment& slice, int index,
            std::uint64_t seed);

  // Stores the slice's weights and writes every MTJ, one row at a time with all columns in
  // parallel: one pulse for the MTJs going to P and one for those going to AP, each repeated
  // with write-verify until right (or max attempts). Returns the write rounds over all rows and
  // polarities (a row's pulse takes as many rounds as its slowest MTJ).
  std::uint64_t program(const models::CompiledLayer& layer);

  // true: the MTJs are read by their own conductances (variation, faults or write errors).
  bool analog() const { return analog_; }
  bool two_phase() const { return two_phase_; }
  std::size_t words() const { return words_; }
  bool aligned() const { return aligned_; }  // the slice starts on a 64-bit word boundary
  const std::uint64_t* column(int c) const { return cells_.data() + static_cast<std::size_t>(c) * words_; }
  const std::uint64_t* cells_by_word() const { return cells_t_.data(); }  // [words][cols]
  // Conductances [col][row] of the MTJ storing w (A) and of the one storing not w (B).
  const double* g_a() const { return g_a_.data(); }
  const double* g_b() const { return g_b_.data(); }
  // The same conductances [row][col] (stride cols), kept only with IR drop on, whose walk takes
  // eight adjacent columns per load (hw/physics/ir_drop.h); nullptr otherwise.
  const double* g_a_rows() const { return g_a_r_.empty() ? nullptr : g_a_r_.data(); }
  const double* g_b_rows() const { return g_b_r_.empty() ? nullptr : g_b_r_.data(); }

  // Read disturb (eq. X3) of one column's read of rows [lo, hi) driven by x with enables a: walks
  // the eligible MTJs (conducting, in the state the read destabilises, not stuck) in row order
  // with geometric skips and switches each one hit. `key` identifies the read.
  void disturb(int col, const std::uint64_t* x, const std::uint64_t* a, int lo, int hi, std::uint64_t key);
  // Called before every operation: disturbed MTJs are rewritten before the next image (the
  // write is counted when the disturb happens, so the energy does not depend on where a worker's
  // share of the images ends).
  void start_image(std::uint64_t image_key);

  const Writes& writes() const { return writes_; }
  std::uint64_t disturbs() const { return disturbs_; }
  // Reads that could have disturbed an MTJ: eligible MTJs summed over every read.
  std::uint64_t disturb_exposures() const { return disturb_exposures_; }

 private:
  void make_analog();
  // Sets the conductance of MTJ k ([col][row] index) in both layouts.
  void set_g(std::size_t k, bool b, double g);

  DeviceParams device_;
  ArchParams arch_;
  ArrayAssignment slice_;
  int index_;
  std::uint64_t seed_;
  bool two_phase_, analog_;
  bool weak_p_;  // the read destabilises P (else AP): the state ap_a_, ap_b_ track
  std::size_t words_ = 0;
  bool aligned_ = false;
  std::vector<std::uint64_t> cells_;    // [cols][words] packed weights as stored in the array
  std::vector<std::uint64_t> cells_t_;  // the same, [words][cols] (columns in SIMD lanes)
  std::vector<double> g_a_, g_b_;
  std::vector<double> g_a_r_, g_b_r_;  // [row][col] copies (IR drop on)
  std::vector<std::uint64_t> ap_a_, ap_b_;       // [col][words] switchable MTJs now in the destabilised state (AP by default)
  std::vector<std::uint8_t> wrong_a_, wrong_b_;  // [col][row] MTJ left in the wrong state by a write error
  std::vector<std::uint64_t> elig_;              // disturb: eligible rows of one column
  struct Flip {
    std::size_t k;
    bool b;
  };
  std::vector<Flip> flipped_;  // disturbed in the current image, restored before the next
  std::uint64_t image_ = ~std::uint64_t{0};
  Writes writes_;
  std::uint64_t disturbs_ = 0, disturb_exposures_ = 0;
};

}  // namespace bayescim::hw
