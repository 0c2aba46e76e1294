// The timing model: *when* the work of a window of MC samples happens, simulated by the SystemC
// kernel. The functional model (controller, tiles, dropout source) computes *what* without time
// and hands the timing model one LayerOp per layer and sample (hw/timing/layer_op.h).
//
// Resources, each a process or served by one:
//   - per layer, a stage process: its arrays' read engine (busy for the slowest array's read
//     pulses), the ADC bank the read engine waits for (the conversions of eq. T2), and the
//     digital periphery of the layer; the array phase ends on a clock edge;
//   - the one shared dropout unit (Scale-Dropout): an arbiter process serving one request at a
//     time; a request raised at a clock edge is seen at the next edge (one cycle of arbitration),
//     and among the requests raised before that edge the lowest layer index wins, so the order
//     never depends on the kernel's evaluation order; per-neuron and spatial modules belong to
//     their layer and are not shared;
//   - the interconnect between the tiles and the controller (bus_bits_per_cycle > 0): one bus,
//     arbitrated like the dropout unit, that moves an image's input bits to the first layer and
//     each layer's output bits to the controller, ceil(bits / width) cycles per transfer (eq. N1);
//   - the activation buffer between two layers: two halves (double buffering), so a layer may
//     start a sample only when the next layer has finished the sample two before it (back-pressure).
// Without pipeline_samples a window is one sample, which enters the first layer when the previous
// one has left the last; with it, a window is the T samples of pipeline_images consecutive images,
// all queued at the first layer back to back (an image's first sample may enter while the previous
// image's samples are still in later layers), and the pipeline drains at the window's end. Every
// duration is a whole number of clock periods (no free-running clock: the times are quantised),
// counted from the window's start.
//
// An image's latency runs from its first sample entering the first layer to its last sample
// leaving the last layer; an image may span windows (one sample per window without
// pipeline_samples). The caller marks the last sample of each image.
//
// A window's schedule depends only on its op stream, so with `memo` on, a window whose op stream
// was simulated before reuses that result (the memo's key is the whole op stream: a stream that
// differs in any duration is simulated anew; the entry keeps each sample's entry and exit times, so
// the image latencies follow from them and the image ends, which are not part of the key). Traced
// windows are always simulated.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <systemc>
#include <vector>

#include "hw/stats.h"
#include "hw/timing/layer_op.h"
#include "hw/trace_recorder.h"

namespace bayescim::hw {

class TimingModel : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    std::vector<std::string> layer_names;
    std::vector<bool> shared_dropout;  // per layer: draws from the one shared unit
    bool pipeline_samples = false;
    std::uint64_t clock_ps = 1000;
    std::uint64_t bus_bits_per_cycle = 0;  // interconnect width; 0 = not modelled (transfers are free)
    bool memo = false;
  };
  enum Cause { kDropout, kAdc, kBuffer, kInterconnect, kCauses };
  static const char* cause_name(int c);

  TimingModel(sc_core::sc_module_name name, const Config& cfg);
  TimingModel(const TimingModel&) = delete;
  TimingModel& operator=(const TimingModel&) = delete;

  // Runs one window starting at the caller's time (kernel time + delay), its clock edges counted
  // from there. image_ends[k]: sample k is the last of its image (same size as ops). Must be
  // called from a thread process: on a simulated window the kernel advances to its end and delay
  // becomes 0; on a memo hit, delay is annotated with the same end instead.
  void run_window(const WindowOps& ops, const std::vector<bool>& image_ends, bool traced, sc_core::sc_time& delay);
  // The latencies of the images completed so far, in order (picoseconds).
  const std::vector<std::uint64_t>& image_latencies() const { return image_ps_; }

  void report_stats(StatsSink& sink) const override;
  // Declares the resources' busy and stall signals; resolves the other modules' anchored changes
  // (TraceRecorder::Anchor) at the times the traced windows were simulated.
  void trace(TraceRecorder& rec);

 private:
  struct Resource {
    std::string name, kind;
  };
  struct Result {
    std::uint64_t window_ps = 0;
    std::vector<std::uint64_t> busy, stall, layer_ps;
    std::array<std::uint64_t, kCauses> cause{};
    // Per sample, from the window's start: entering the first layer, leaving the last (not summed
    // by add: they belong to one window).
    std::vector<std::uint64_t> enter, leave;
    void add(const Result& r);
  };
  // A resource that serves one request at a time (the shared dropout unit, the bus): a request
  // raised at a clock edge is seen at the next edge; among those raised before it, the lowest
  // layer wins. One request per layer at a time (each layer's stage asks and waits).
  struct Shared {
    int res = -1;  // index into res_
    std::vector<bool> pending, granted;
    std::vector<std::uint64_t> raised, grant, asked;  // asked: how long the request holds the resource
    sc_core::sc_event request_ev, grant_ev;
  };
  void close_images(const Result& r, const std::vector<bool>& image_ends, std::uint64_t start);
  void stage(std::size_t li);
  void serve(Shared& s);
  // Asks s for `ps` on behalf of layer li and waits for the grant; returns the grant time.
  std::uint64_t acquire(Shared& s, std::size_t li, std::uint64_t ps);
  // Moves `bits` over the bus for layer li (its arrays wait: an interconnect stall).
  void transfer(std::size_t li, std::uint64_t bits);
  std::uint64_t now() const { return sc_core::sc_time_stamp().value(); }
  std::uint64_t on_clock(std::uint64_t ps) const { return (ps + cfg_.clock_ps - 1) / cfg_.clock_ps * cfg_.clock_ps; }
  void wait_ps(std::uint64_t ps) { if (ps) wait(sc_core::sc_time::from_value(ps)); }
  void stall(std::size_t li, int cause, std::uint64_t from);
  void mark(int id, std::uint64_t t, std::uint64_t v) { if (tracing_ && rec_ && id >= 0) rec_->set(id, t, v); }
  void stall_line(int r, std::uint64_t t, std::uint64_t v) {
    if (!tr_stall_.empty()) mark(tr_stall_[static_cast<std::size_t>(r)], t, v);
  }
  // Raises resource r's line of `lines` from `from` to `to` (traced windows only).
  void line(const std::vector<int>& lines, int r, std::uint64_t from, std::uint64_t to) {
    if (lines.empty() || from == to) return;
    mark(lines[static_cast<std::size_t>(r)], from, 1);
    mark(lines[static_cast<std::size_t>(r)], to, 0);
  }

  Config cfg_;
  std::size_t layers_;
  std::vector<Resource> res_;
  std::vector<int> arrays_, adc_, digital_, drop_;  // per layer: index into res_ (drop_: -1 = none)
  Shared unit_, bus_;                               // the shared dropout unit, the interconnect
  std::map<WindowOps, Result> memo_;
  Result total_, cur_;
  std::uint64_t windows_ = 0;
  std::vector<std::uint64_t> image_ps_;  // per completed image: its latency
  std::uint64_t image_sum_ps_ = 0;
  bool image_open_ = false;              // an image has samples in earlier windows
  std::uint64_t image_start_ = 0;        // ... and its first sample entered the first layer then

  // The window being simulated.
  const WindowOps* ops_ = nullptr;
  std::uint64_t start_ = 0;                       // its start
  std::vector<std::size_t> done_;                 // per layer: samples that left it
  sc_core::sc_event start_ev_, progress_ev_, done_ev_;
  std::vector<std::vector<std::array<std::uint64_t, TraceRecorder::kPoints>>> times_;  // [sample][layer][point]

  TraceRecorder* rec_ = nullptr;
  bool tracing_ = false;
  std::vector<int> tr_busy_, tr_stall_;  // per resource
};

}  // namespace bayescim::hw
