#include "hw/trace_recorder.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace bayescim::hw {

int TraceRecorder::declare(const std::string& scope, const std::string& name, Kind kind, int width,
                           std::uint64_t initial) {
  const int w = kind == Kind::Bit ? 1 : std::clamp(width, 1, 64);
  const std::uint64_t mask = w == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << w) - 1;
  signals_.push_back({scope, name, kind, w, initial & mask, 0.0});
  return static_cast<int>(signals_.size()) - 1;
}

int TraceRecorder::declare_real(const std::string& scope, const std::string& name, double initial) {
  signals_.push_back({scope, name, Kind::Real, 1, 0, initial});
  return static_cast<int>(signals_.size()) - 1;
}

void TraceRecorder::set(int id, std::uint64_t time_ps, std::uint64_t value) {
  const int w = signals_[static_cast<std::size_t>(id)].width;
  if (w < 64) value &= (std::uint64_t{1} << w) - 1;
  events_.push_back({time_ps, seq_++, id, value, 0.0});
}

void TraceRecorder::set_real(int id, std::uint64_t time_ps, double value) {
  events_.push_back({time_ps, seq_++, id, 0, value});
}

void TraceRecorder::set_at(int id, Anchor a, std::uint64_t offset_ps, std::uint64_t value) {
  const int w = signals_[static_cast<std::size_t>(id)].width;
  if (w < 64) value &= (std::uint64_t{1} << w) - 1;
  pending_.push_back({a, {offset_ps, seq_++, id, value, 0.0}});
}

void TraceRecorder::set_real_at(int id, Anchor a, std::uint64_t offset_ps, double value) {
  pending_.push_back({a, {offset_ps, seq_++, id, 0, value}});
}

void TraceRecorder::resolve(const std::function<std::uint64_t(const Anchor&)>& time_of) {
  for (auto& [a, e] : pending_) {
    e.time += time_of(a);
    events_.push_back(e);
  }
  pending_.clear();
}

namespace {

// Identifier codes: printable ASCII 33..126, shortest first.
std::string code_of(int i) {
  std::string s;
  do {
    s += static_cast<char>(33 + i % 94);
    i /= 94;
  } while (i > 0);
  return s;
}

std::string binary(std::uint64_t v) {
  if (v == 0) return "0";
  std::string s;
  for (; v; v >>= 1) s += (v & 1) ? '1' : '0';
  return {s.rbegin(), s.rend()};
}

std::string real_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.16g", v);
  return buf;
}

}  // namespace

std::string TraceRecorder::vcd() const {
  std::ostringstream os;
  os << "$date\n    bayescim\n$end\n$version\n    bayescim trace recorder\n$end\n";
  os << "$timescale\n    1 ps\n$end\n";
  // Scopes: signals grouped by module, modules nested by their dotted path under "SystemC".
  std::map<std::string, std::vector<std::size_t>> by_scope;
  for (std::size_t i = 0; i < signals_.size(); ++i) by_scope[signals_[i].scope].push_back(i);
  std::vector<std::string> open = {"SystemC"};
  os << "$scope module SystemC $end\n";
  for (const auto& [scope, ids] : by_scope) {
    std::vector<std::string> path = {"SystemC"};
    std::stringstream ss(scope);
    for (std::string part; std::getline(ss, part, '.');) path.push_back(part);
    std::size_t common = 0;
    while (common < open.size() && common < path.size() && open[common] == path[common]) ++common;
    for (std::size_t k = open.size(); k > common; --k) os << "$upscope $end\n";
    for (std::size_t k = common; k < path.size(); ++k) os << "$scope module " << path[k] << " $end\n";
    open = path;
    for (const std::size_t i : ids) {
      const Signal& s = signals_[i];
      if (s.kind == Kind::Real)
        os << "$var real 1 " << code_of(static_cast<int>(i)) << " " << s.name << " $end\n";
      else if (s.width == 1)
        os << "$var wire 1 " << code_of(static_cast<int>(i)) << " " << s.name << " $end\n";
      else
        os << "$var wire " << s.width << " " << code_of(static_cast<int>(i)) << " " << s.name << " ["
           << s.width - 1 << ":0] $end\n";
    }
  }
  for (std::size_t k = open.size(); k > 0; --k) os << "$upscope $end\n";
  os << "$enddefinitions $end\n";

  auto value_text = [&](std::size_t i, std::uint64_t v, double r) {
    const Signal& s = signals_[i];
    const std::string code = code_of(static_cast<int>(i));
    if (s.kind == Kind::Real) return "r" + real_text(r) + " " + code;
    if (s.width == 1) return std::string(v ? "1" : "0") + code;
    return "b" + binary(v) + " " + code;
  };
  std::vector<std::uint64_t> cur(signals_.size());
  std::vector<double> cur_r(signals_.size());
  os << "#0\n$dumpvars\n";
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    cur[i] = signals_[i].initial;
    cur_r[i] = signals_[i].initial_real;
    os << value_text(i, cur[i], cur_r[i]) << "\n";
  }
  os << "$end\n";
  std::vector<const Event*> order;
  order.reserve(events_.size());
  for (const auto& e : events_) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Event* a, const Event* b) { return a->time != b->time ? a->time < b->time : a->seq < b->seq; });
  std::size_t k = 0;
  while (k < order.size()) {
    const std::uint64_t t = order[k]->time;
    std::map<int, const Event*> last;  // per signal, the last write at t
    for (; k < order.size() && order[k]->time == t; ++k) last[order[k]->id] = order[k];
    std::string lines;
    for (const auto& [id, e] : last) {
      const auto i = static_cast<std::size_t>(id);
      const bool real = signals_[i].kind == Kind::Real;
      if (real ? e->real == cur_r[i] : e->value == cur[i]) continue;
      cur[i] = e->value;
      cur_r[i] = e->real;
      lines += value_text(i, e->value, e->real) + "\n";
    }
    if (!lines.empty()) os << "#" << t << "\n" << lines;
  }
  return os.str();
}

}  // namespace bayescim::hw
