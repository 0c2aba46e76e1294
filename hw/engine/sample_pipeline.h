// The reservations of pipelined MC samples (pipeline_samples): the layers of successive samples
// of one image overlap. Sample t+1 enters layer l when sample t has left it (each layer holds its
// own arrays), and the dropout unit serves one layer at a time; an image starts when the previous
// one has left the pipeline, so per-image times add up the same way in any split of the images.
// Plain C++ (no SystemC): absolute times in integer picoseconds (sc_time::value() at 1 ps).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace bayescim::hw {

class SamplePipeline {
 public:
  using Ps = std::uint64_t;
  explicit SamplePipeline(std::size_t layers) : layer_free_(layers, 0) {}

  // The earliest time a sample ready at `t` may start: a new image's first sample waits for the
  // pipeline to drain.
  Ps image_start(Ps t) const { return std::max(t, drain_); }
  // The earliest time a sample ready at `t` may enter layer li (its arrays are free).
  Ps layer_start(std::size_t li, Ps t) const { return std::max(t, layer_free_[li]); }
  // The earliest time a dropout request ready at `t` is served (the unit is free).
  Ps dropout_start(Ps t) const { return std::max(t, dropout_free_); }

  // The sample left layer li at `t`: its arrays are free for the next sample.
  void leave_layer(std::size_t li, Ps t) { layer_free_[li] = t; }
  // The dropout unit is busy with this sample's draws until `t`.
  void hold_dropout(Ps t) { dropout_free_ = t; }
  // A sample completed at `t` (pipelined or not): the pipeline drains no earlier.
  void complete(Ps t) { drain_ = std::max(drain_, t); }
  // When the last issued sample completes.
  Ps drain() const { return drain_; }

 private:
  std::vector<Ps> layer_free_;
  Ps dropout_free_ = 0, drain_ = 0;
};

}  // namespace bayescim::hw
