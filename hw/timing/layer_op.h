// What the timing model needs of one layer of one MC sample: durations and counts, no data. The
// controller fills one per layer from what its tiles and dropout hardware annotate; in the shipped
// architecture they do not depend on the data, so identical windows have identical op streams.
// Plain C++ (no SystemC): times in integer picoseconds.
#pragma once
#include <cstdint>
#include <tuple>
#include <vector>

namespace bayescim::hw {

struct LayerOp {
  std::uint64_t draw_first_ps = 0;  // dropout: until the first round of bits is in (0: no dropout)
  std::uint64_t draw_total_ps = 0;  // dropout: all rounds (> first when the modules are pipelined)
  std::uint64_t array_ps = 0;       // the layer's slowest array: its whole operation (eq. T2 or T2')
  std::uint64_t read_ps = 0;        // ... of which its read pulses
  std::uint64_t convert_ps = 0;     // ... and the conversions (ADC path; overlapping the reads with overlap_reads)
  std::uint64_t digital_ps = 0;     // the digital periphery's cycles
  std::uint64_t in_bits = 0;        // over the interconnect before the layer: the image (first layer, first sample)
  std::uint64_t out_bits = 0;       // ... and after it: the layer's output activations (or logits)
};

inline auto key_of(const LayerOp& o) { return std::tie(o.draw_first_ps, o.draw_total_ps, o.array_ps, o.read_ps, o.convert_ps, o.digital_ps, o.in_bits, o.out_bits); }
inline bool operator==(const LayerOp& a, const LayerOp& b) { return key_of(a) == key_of(b); }
inline bool operator<(const LayerOp& a, const LayerOp& b) { return key_of(a) < key_of(b); }

// One window: the samples that go through the pipeline together (one sample, or with
// pipeline_samples the T samples of pipeline_images consecutive images), each a LayerOp per layer.
using WindowOps = std::vector<std::vector<LayerOp>>;

}  // namespace bayescim::hw
