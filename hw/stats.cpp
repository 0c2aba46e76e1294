#include "hw/stats.h"

#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <systemc>

namespace bayescim::hw {

double StatsSink::sum(const std::string& name) const {
  double s = 0;
  for (const auto& st : stats_)
    if (st.name == name && (st.kind == Stat::Kind::Count || st.kind == Stat::Kind::TimePs)) s += st.value;
  for (const auto& st : stats_)
    if (st.name == name && st.kind == Stat::Kind::TimePs) return s * 1e-12;
  return s;
}

double StatsSink::param_value(const std::string& name) const {
  for (const auto& st : stats_)
    if (st.name == name && st.kind == Stat::Kind::Param) return st.value;
  return 0.0;
}

std::map<std::string, double> StatsSink::energy_by_component(bool programming) const {
  // Sum counts per (component, action, energy) first, then multiply: independent of order.
  std::map<std::pair<std::string, double>, double> counts;
  for (const auto& st : stats_)
    if (st.kind == Stat::Kind::Action) counts[{st.name, st.energy_each}] += st.value;
  std::map<std::string, double> out;
  for (const auto& [key, n] : counts) {
    const std::string comp = key.first.substr(0, key.first.find('.'));
    if ((comp == "programming") != programming) continue;
    out[comp] += n * key.second;
  }
  return out;
}

void StatsSink::override_energy(const std::map<std::string, double>& joules) {
  for (auto& st : stats_)
    if (st.kind == Stat::Kind::Action)
      if (auto it = joules.find(st.name); it != joules.end()) st.energy_each = it->second;
}

void StatsSink::merge(const StatsSink& other) {
  if (other.stats_.size() != stats_.size()) throw std::logic_error("merging statistics of different designs");
  for (std::size_t i = 0; i < stats_.size(); ++i) {
    Stat& a = stats_[i];
    const Stat& b = other.stats_[i];
    if (a.module != b.module || a.name != b.name || a.kind != b.kind || a.energy_each != b.energy_each ||
        a.array != b.array)
      throw std::logic_error("merging statistics of different designs: " + a.module + "." + a.name);
    if (a.name.rfind("programming", 0) == 0) continue;  // one chip is programmed once; every worker simulates it
    if (a.kind == Stat::Kind::Param) {
      if (a.value != b.value) throw std::logic_error("workers disagree on parameter " + a.module + "." + a.name);
    } else {
      a.value += b.value;
    }
  }
}

std::string StatsSink::serialise() const {
  std::ostringstream os;
  os << std::setprecision(17);
  for (const auto& s : stats_)
    os << static_cast<int>(s.kind) << '\t' << s.module << '\t' << s.name << '\t' << s.value << '\t' << s.energy_each
       << '\t' << s.array << '\t' << s.unit << '\n';
  return os.str();
}

StatsSink StatsSink::deserialise(const std::string& text) {
  StatsSink sink;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Stat s;
    int kind = 0;
    std::string value, each, array;
    ls >> kind;
    ls.ignore(1);
    std::getline(ls, s.module, '\t');
    std::getline(ls, s.name, '\t');
    std::getline(ls, value, '\t');
    std::getline(ls, each, '\t');
    std::getline(ls, array, '\t');
    std::getline(ls, s.unit);
    s.kind = static_cast<Stat::Kind>(kind);
    s.value = std::stod(value);
    s.energy_each = std::stod(each);
    s.array = std::stoi(array);
    sink.stats_.push_back(s);
  }
  return sink;
}

namespace {
void walk(const sc_core::sc_object* obj, StatsSink& sink) {
  if (const auto* p = dynamic_cast<const StatsProvider*>(obj)) p->report_stats(sink);
  for (const auto* child : obj->get_child_objects()) walk(child, sink);
}
}  // namespace

StatsSink collect_stats() {
  StatsSink sink;
  for (const auto* top : sc_core::sc_get_top_level_objects()) walk(top, sink);
  return sink;
}

}  // namespace bayescim::hw
