#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/timing/timing_model.h"

#include <algorithm>
#include <stdexcept>

namespace bayescim::hw {

using Point = TraceRecorder::Point;

const char* TimingModel::cause_name(int c) {
  switch (c) {
    case kDropout: return "dropout";
    case kAdc: return "adc";
    case kBuffer: return "buffer";
    case kInterconnect: return "interconnect";
    default: return "?";
  }
}

void TimingModel::Result::add(const Result& r) {
  window_ps += r.window_ps;
  auto sum = [](std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    a.resize(std::max(a.size(), b.size()), 0);
    for (std::size_t i = 0; i < b.size(); ++i) a[i] += b[i];
  };
  sum(busy, r.busy);
  sum(stall, r.stall);
  sum(layer_ps, r.layer_ps);
  for (int c = 0; c < kCauses; ++c) cause[c] += r.cause[c];
}

TimingModel::TimingModel(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name), cfg_(cfg), layers_(cfg.layer_names.size()) {
  if (cfg_.clock_ps == 0) throw std::invalid_argument("TimingModel: a clock period of 0 ps");
  cfg_.shared_dropout.resize(layers_, false);
  auto add = [this](const std::string& n, const std::string& kind) {
    res_.push_back({n, kind});
    return static_cast<int>(res_.size() - 1);
  };
  if (std::find(cfg_.shared_dropout.begin(), cfg_.shared_dropout.end(), true) != cfg_.shared_dropout.end())
    unit_.res = add("dropout_unit", "dropout");
  if (cfg_.bus_bits_per_cycle) bus_.res = add("interconnect", "interconnect");
  for (std::size_t li = 0; li < layers_; ++li) {
    const std::string& l = cfg_.layer_names[li];
    arrays_.push_back(add(l + ".arrays", "array"));
    adc_.push_back(add(l + ".adc", "adc"));
    digital_.push_back(add(l + ".digital", "digital"));
    drop_.push_back(cfg_.shared_dropout[li] ? unit_.res : add(l + ".dropout_modules", "dropout"));
  }
  total_.busy.assign(res_.size(), 0);
  total_.stall.assign(res_.size(), 0);
  total_.layer_ps.assign(layers_, 0);
  done_.assign(layers_, 0);
  for (Shared* sh : {&unit_, &bus_}) {
    sh->pending.assign(layers_, false);
    sh->granted.assign(layers_, false);
    sh->raised.assign(layers_, 0);
    sh->grant.assign(layers_, 0);
    sh->asked.assign(layers_, 0);
  }
  for (std::size_t li = 0; li < layers_; ++li) {
    sc_core::sc_spawn_options o;
    sc_core::sc_spawn([this, li] { stage(li); }, ("stage_" + std::to_string(li)).c_str(), &o);
  }
  for (Shared* sh : {&unit_, &bus_})
    if (sh->res >= 0) {
      sc_core::sc_spawn_options o;
      sc_core::sc_spawn([this, sh] { serve(*sh); }, (res_[static_cast<std::size_t>(sh->res)].name + "_arbiter").c_str(), &o);
    }
}

// Image latencies: an image opens when its first sample enters the first layer and closes when its
// last sample leaves the last.
void TimingModel::close_images(const Result& r, const std::vector<bool>& image_ends, std::uint64_t start) {
  for (std::size_t k = 0; k < r.enter.size(); ++k) {
    if (!image_open_) {
      image_open_ = true;
      image_start_ = start + r.enter[k];
    }
    if (image_ends[k]) {
      const std::uint64_t t = start + r.leave[k] - image_start_;
      image_ps_.push_back(t);
      image_sum_ps_ += t;
      image_open_ = false;
    }
  }
}

void TimingModel::run_window(const WindowOps& ops, const std::vector<bool>& image_ends, bool traced,
                             sc_core::sc_time& delay) {
  if (ops.empty()) return;
  if (image_ends.size() != ops.size()) throw std::logic_error("TimingModel: one image end flag per sample");
  // The clock's edges are counted from the window's start (every duration is whole cycles, so
  // consecutive windows stay on one grid; a start off the grid, after programming, costs nothing
  // and is the same in every worker).
  const std::uint64_t start = now() + delay.value();
  ++windows_;
  if (cfg_.memo && !traced) {
    auto it = memo_.find(ops);
    if (it != memo_.end()) {
      total_.add(it->second);
      close_images(it->second, image_ends, start);
      delay = sc_core::sc_time::from_value(start + it->second.window_ps - now());
      return;
    }
  }
  wait_ps(start - now());
  delay = sc_core::SC_ZERO_TIME;
  ops_ = &ops;
  tracing_ = traced;
  cur_ = Result{};
  cur_.busy.assign(res_.size(), 0);
  cur_.stall.assign(res_.size(), 0);
  cur_.layer_ps.assign(layers_, 0);
  cur_.enter.assign(ops.size(), 0);
  cur_.leave.assign(ops.size(), 0);
  std::fill(done_.begin(), done_.end(), 0);
  start_ = start;
  if (traced) times_.assign(ops.size(), std::vector<std::array<std::uint64_t, TraceRecorder::kPoints>>(layers_));
  start_ev_.notify(sc_core::SC_ZERO_TIME);
  wait(done_ev_);
  cur_.window_ps = now() - start;
  close_images(cur_, image_ends, start);
  if (traced && rec_)
    rec_->resolve([this](const TraceRecorder::Anchor& a) {
      return times_.at(static_cast<std::size_t>(a.sample)).at(static_cast<std::size_t>(a.layer))[a.point];
    });
  ops_ = nullptr;
  tracing_ = false;
  if (cfg_.memo && !traced) memo_.emplace(ops, cur_);
  total_.add(cur_);
}

// The waiting of layer li's arrays since `from` is a stall of `cause`.
void TimingModel::stall(std::size_t li, int cause, std::uint64_t from) {
  const std::uint64_t t = now() - from;
  if (t == 0) return;
  cur_.stall[static_cast<std::size_t>(arrays_[li])] += t;
  cur_.cause[cause] += t;
}

void TimingModel::stage(std::size_t li) {
  const bool last = li + 1 == layers_;
  for (;;) {
    wait(start_ev_);
    const std::size_t samples = ops_->size();
    for (std::size_t k = 0; k < samples; ++k) {
      // Input: the previous layer's output of sample k (or, for the first layer, the host's).
      auto input_ready = [&] {
        if (li > 0) return done_[li - 1] > k;
        return cfg_.pipeline_samples || done_[layers_ - 1] >= k;
      };
      while (!input_ready()) wait(progress_ev_);
      const std::uint64_t enter = now();
      if (li == 0) cur_.enter[k] = enter - start_;
      // Output: a free half of the double buffer (the next layer has finished sample k - 2).
      while (!last && done_[li + 1] + 2 <= k) wait(progress_ev_);
      if (now() > enter) stall_line(arrays_[li], enter, 1);
      stall(li, kBuffer, enter);
      const LayerOp& op = (*ops_)[k][li];
      const int a = arrays_[li];
      if (tracing_) times_[k][li][Point::kEnter] = enter;
      // An image's input comes over the bus to the first layer (op.in_bits is 0 for the image's
      // later samples: the first layer's input buffer keeps it).
      transfer(li, op.in_bits);
      // Dropout bits: the shared unit's grant, or the layer's own modules at once.
      std::uint64_t draws_end = now(), bits_in = now();
      if (tracing_) times_[k][li][Point::kDraw] = now();
      if (op.draw_total_ps) {
        std::uint64_t grant = now();
        const std::uint64_t total = on_clock(op.draw_total_ps);
        if (cfg_.shared_dropout[li]) {
          const std::uint64_t asked = now();
          stall_line(a, asked, 1);
          grant = acquire(unit_, li, total);
          stall(li, kDropout, asked);
        } else {
          cur_.busy[static_cast<std::size_t>(drop_[li])] += total;
          line(tr_busy_, drop_[li], now(), now() + total);
        }
        draws_end = grant + total;
        bits_in = grant + on_clock(op.draw_first_ps);
        stall_line(a, now(), 1);
        const std::uint64_t waiting = now();
        wait_ps(bits_in - now());
        stall(li, kDropout, waiting);
      }
      // Reads, each followed by the conversions the read engine waits for; the phase ends on a
      // clock edge.
      if (tracing_) times_[k][li][Point::kRead] = now();
      stall_line(a, now(), 0);
      // Its read pulses are the engine's own work; the rest of the phase it waits for the ADC
      // bank (all of the conversions with eq. T2, the part the next reads do not hide with T2').
      const std::uint64_t phase = now(), array_ps = on_clock(op.array_ps);
      line(tr_busy_, a, phase, phase + array_ps);
      cur_.busy[static_cast<std::size_t>(a)] += op.read_ps;
      cur_.busy[static_cast<std::size_t>(adc_[li])] += op.convert_ps;
      if (op.convert_ps) {
        line(tr_busy_, adc_[li], phase + op.array_ps - op.convert_ps, phase + op.array_ps);
        wait_ps(op.read_ps);
        stall_line(a, now(), 1);
        const std::uint64_t waiting = now();
        wait_ps(array_ps - op.read_ps);
        stall(li, kAdc, waiting);
      } else {
        wait_ps(array_ps);
      }
      // Pipelined draws still running: the layer cannot end before its bits are all in.
      if (draws_end > now()) {
        stall_line(a, now(), 1);
        const std::uint64_t waiting = now();
        wait_ps(draws_end - now());
        stall(li, kDropout, waiting);
      }
      stall_line(a, now(), 0);
      if (tracing_) times_[k][li][Point::kDigital] = now();
      cur_.busy[static_cast<std::size_t>(digital_[li])] += op.digital_ps;
      line(tr_busy_, digital_[li], now(), now() + on_clock(op.digital_ps));
      wait_ps(on_clock(op.digital_ps));
      // The layer's output goes over the bus (to the next layer's buffer, or the host's logits).
      transfer(li, op.out_bits);
      if (tracing_) times_[k][li][Point::kLeave] = now();
      cur_.layer_ps[li] += now() - enter;
      if (last) cur_.leave[k] = now() - start_;
      ++done_[li];
      progress_ev_.notify(sc_core::SC_ZERO_TIME);
      if (last && k + 1 == samples) done_ev_.notify(sc_core::SC_ZERO_TIME);
    }
  }
}

std::uint64_t TimingModel::acquire(Shared& s, std::size_t li, std::uint64_t ps) {
  s.pending[li] = true;
  s.granted[li] = false;
  s.raised[li] = now();
  s.asked[li] = ps;
  s.request_ev.notify(sc_core::SC_ZERO_TIME);
  while (!s.granted[li]) wait(s.grant_ev);
  return s.grant[li];
}

// eq. N1: a transfer holds the bus for ceil(bits / width) cycles, after one cycle of arbitration
// (more when another layer holds it). The arrays of the layer wait all along.
void TimingModel::transfer(std::size_t li, std::uint64_t bits) {
  if (!bits || bus_.res < 0) return;
  const std::uint64_t w = cfg_.bus_bits_per_cycle;
  const std::uint64_t asked = now();
  stall_line(arrays_[li], asked, 1);
  const std::uint64_t grant = acquire(bus_, li, (bits + w - 1) / w * cfg_.clock_ps);
  wait_ps(grant + bus_.asked[li] - now());
  stall(li, kInterconnect, asked);
  stall_line(arrays_[li], now(), 0);
}

// A shared resource: at each clock edge, the lowest layer among the requests raised before it is
// served; the resource is then busy for that request.
void TimingModel::serve(Shared& s) {
  for (;;) {
    int pick = -1;
    bool any = false;
    for (std::size_t li = 0; li < layers_; ++li) {
      if (!s.pending[li]) continue;
      any = true;
      if (s.raised[li] < now()) {
        pick = static_cast<int>(li);
        break;
      }
    }
    if (pick < 0) {
      if (any) wait_ps(cfg_.clock_ps);
      else wait(s.request_ev);
      continue;
    }
    const auto li = static_cast<std::size_t>(pick);
    s.pending[li] = false;
    s.granted[li] = true;
    s.grant[li] = now();
    s.grant_ev.notify(sc_core::SC_ZERO_TIME);
    const std::uint64_t total = s.asked[li];
    cur_.busy[static_cast<std::size_t>(s.res)] += total;
    line(tr_busy_, s.res, now(), now() + total);
    wait_ps(total);
  }
}

void TimingModel::trace(TraceRecorder& rec) {
  rec_ = &rec;
  tr_busy_.clear();
  tr_stall_.clear();
  for (const auto& r : res_) {
    std::string n = r.name;
    std::replace(n.begin(), n.end(), '.', '_');
    tr_busy_.push_back(rec.declare(name(), n + "_busy", TraceRecorder::Kind::Bit));
    tr_stall_.push_back(rec.declare(name(), n + "_stall", TraceRecorder::Kind::Bit));
  }
}

void TimingModel::report_stats(StatsSink& sink) const {
  const std::string m = name();
  sink.count(m, "windows", static_cast<double>(windows_));
  sink.count(m, "images_timed", static_cast<double>(image_ps_.size()));
  sink.time_ps(m, "image_latency", image_sum_ps_);
  for (std::size_t r = 0; r < res_.size(); ++r) {
    sink.time_ps(m, "resource_busy." + res_[r].kind + "." + res_[r].name, total_.busy[r]);
    sink.time_ps(m, "resource_stall." + res_[r].kind + "." + res_[r].name, total_.stall[r]);
  }
  for (int c = 0; c < kCauses; ++c) sink.time_ps(m, std::string("stall.") + cause_name(c), total_.cause[c]);
  for (std::size_t li = 0; li < layers_; ++li) sink.time_ps(m, "layer_time." + cfg_.layer_names[li], total_.layer_ps[li]);
}

}  // namespace bayescim::hw
