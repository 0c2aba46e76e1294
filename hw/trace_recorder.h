// The waveform recorder of the VCD window. Modules write a signal's value with the absolute
// simulated time it takes effect (their own time: the kernel's time plus the annotated delay),
// in any order; the recorder sorts the changes when it writes the VCD. So tracing needs no
// synchronisation with the kernel: a traced image runs exactly as an untraced one (pipelined
// samples included), and tracing changes no number in the report. Plain C++ (no SystemC).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bayescim::hw {

class TraceRecorder {
 public:
  enum class Kind { Bit, Vector, Real };
  // Declares a signal `name` in module `scope` (dot-separated, e.g. "accelerator.tile_0"), with
  // its width in bits (1 for a bit, ignored for a real) and its value before the first change.
  // Returns the signal's handle. Signed integers are recorded as two's complement of `width` bits.
  int declare(const std::string& scope, const std::string& name, Kind kind, int width = 1,
              std::uint64_t initial = 0);
  int declare_real(const std::string& scope, const std::string& name, double initial = 0.0);

  void set(int id, std::uint64_t time_ps, std::uint64_t value);
  void set_real(int id, std::uint64_t time_ps, double value);

  // A change whose time the timing model decides (hw/timing/timing_model.h): `offset_ps` after
  // the point `point` of sample `sample` (of the window being computed) in layer `layer`. Kept
  // pending until resolve() gives the anchors' simulated times.
  enum Point { kEnter, kDraw, kRead, kDigital, kLeave, kPoints };
  struct Anchor {
    int sample = 0, layer = 0;
    Point point = kEnter;
  };
  void set_at(int id, Anchor a, std::uint64_t offset_ps, std::uint64_t value);
  void set_real_at(int id, Anchor a, std::uint64_t offset_ps, double value);
  void resolve(const std::function<std::uint64_t(const Anchor&)>& time_of);

  bool empty() const { return signals_.empty(); }
  std::size_t changes() const { return events_.size(); }
  // The VCD text (timescale 1 ps, top scope "SystemC" as SystemC's own trace files name it):
  // at each time, the last value written for a signal at that time, only where it changed.
  std::string vcd() const;

 private:
  struct Signal {
    std::string scope, name;
    Kind kind;
    int width;
    std::uint64_t initial;
    double initial_real;
  };
  struct Event {
    std::uint64_t time;
    std::uint64_t seq;  // write order: the last write at a time wins
    int id;
    std::uint64_t value;
    double real;
  };
  std::vector<Signal> signals_;
  std::vector<Event> events_;
  std::vector<std::pair<Anchor, Event>> pending_;  // Event::time: the offset
  std::uint64_t seq_ = 0;
};

}  // namespace bayescim::hw
