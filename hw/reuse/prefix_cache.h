// Prefix replay, a simulation shortcut of the controller: the layers before the first dropout
// layer see the same input in every MC sample of an image; with ideal devices and no per-decision
// noise they give the same outputs, so later samples replay them (accounting and time included)
// instead of recomputing (MC-CIM's reuse; the modelled hardware still performs every read).
// Plain C++ (no SystemC).
#pragma once
#include <cstdint>
#include <vector>

#include "hw/engine/digital_periphery.h"
#include "hw/engine/wordline_drive.h"
#include "models/compiled.h"

namespace bayescim::hw {

// What the image's first sample left for its later samples: each prefix layer's wordline drive
// (the arrays read it again, and each tile's memo answers the repeated operation) and digital
// counts, and the activations (or logits) after the prefix.
class PrefixCache {
 public:
  explicit PrefixCache(const models::CompiledNetwork& net);
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // Layers before the first dropout layer (all of them without dropout).
  int length() const { return length_; }

  // Starts a sample of image `key`. Enabled: replays the prefix if an earlier sample of the same
  // image recorded it, else records it. Disabled: neither (and nothing kept stays valid).
  void begin(bool enabled, std::uint64_t key);
  bool replays(std::size_t li) const { return replay_ && static_cast<int>(li) < prefix_; }
  bool records(std::size_t li) const { return !replay_ && static_cast<int>(li) < prefix_; }

  // Recording (records(li)): layer li's drive (n words each), its digital counts, and, after
  // the prefix's last layer, the activations `x` (hidden layer) or `logits` (last layer).
  void keep_drive(std::size_t li, const std::uint64_t* rows, const std::uint64_t* active, std::size_t n);
  void keep_counts(std::size_t li, const DigitalCounts& c) { counts_[li] = c; }
  void keep_output(std::size_t li, const std::uint64_t* x, const float* logits);

  // Replaying (replays(li)): what the recording sample kept.
  const Drive& drive(std::size_t li) const { return drive_[li]; }
  const DigitalCounts& counts(std::size_t li) const { return counts_[li]; }
  // After the prefix's last layer, writes the kept activations to `x` or logits to `logits`.
  void restore_output(std::size_t li, std::uint64_t* x, float* logits) const;

 private:
  const models::CompiledNetwork& net_;
  int length_ = 0;
  int prefix_ = 0;  // layers of the current sample that record or replay
  bool replay_ = false;
  bool valid_ = false;
  std::uint64_t image_ = 0, key_ = 0;
  std::vector<Drive> drive_;
  std::vector<DigitalCounts> counts_;
  std::vector<std::uint64_t> x_;
  std::vector<float> logits_;
};

}  // namespace bayescim::hw
