// The integer action counts of an array's reads: what one operation adds, and what a repeat of it
// (answered by the tile memo) adds again.
#pragma once
#include <cstdint>

namespace bayescim::hw {

struct ReadCounts {
  std::uint64_t reads = 0, sa_decisions = 0, adc_conversions = 0, tile_adds = 0;
  std::uint64_t cell_match = 0, cell_mismatch = 0;  // conducting MTJs in P and in AP, over all reads
  std::uint64_t ref_p_half = 0, ref_ap_half = 0;    // SA reference branch, in half-cell units
  std::uint64_t wordlines = 0, bitlines = 0;        // wordlines raised and bitlines charged

  ReadCounts& operator+=(const ReadCounts& o) {
    reads += o.reads;
    sa_decisions += o.sa_decisions;
    adc_conversions += o.adc_conversions;
    tile_adds += o.tile_adds;
    cell_match += o.cell_match;
    cell_mismatch += o.cell_mismatch;
    ref_p_half += o.ref_p_half;
    ref_ap_half += o.ref_ap_half;
    wordlines += o.wordlines;
    bitlines += o.bitlines;
    return *this;
  }
  friend ReadCounts operator-(const ReadCounts& a, const ReadCounts& b) {
    ReadCounts d;
    d.reads = a.reads - b.reads;
    d.sa_decisions = a.sa_decisions - b.sa_decisions;
    d.adc_conversions = a.adc_conversions - b.adc_conversions;
    d.tile_adds = a.tile_adds - b.tile_adds;
    d.cell_match = a.cell_match - b.cell_match;
    d.cell_mismatch = a.cell_mismatch - b.cell_mismatch;
    d.ref_p_half = a.ref_p_half - b.ref_p_half;
    d.ref_ap_half = a.ref_ap_half - b.ref_ap_half;
    d.wordlines = a.wordlines - b.wordlines;
    d.bitlines = a.bitlines - b.bitlines;
    return d;
  }
};

}  // namespace bayescim::hw
