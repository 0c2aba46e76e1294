// Statistics: every module owns named, unit-tagged values and reports them on request; the
// collector walks the SystemC module tree, so adding a module never edits a central list.
//
// Energy is never accumulated as a float inside a module: modules count actions, and each action
// carries its energy per occurrence (Accelergy-style energy table). Counts and times (integer
// picoseconds) are integer-valued, so results merged from several worker processes equal a
// single run exactly, whatever the order.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bayescim::hw {

struct Stat {
  enum class Kind { Count, TimePs, Action, Param } kind = Kind::Count;
  std::string module;     // hierarchical name
  std::string name;       // Action: "<component>.<action>"
  double value = 0;       // count, picoseconds, action count, or parameter value
  double energy_each = 0; // Action: joules per occurrence
  std::string unit;
  int array = -1;         // the mapping's array (Mapping::arrays index) it belongs to, or -1
};

class StatsSink {
 public:
  void count(const std::string& module, const std::string& name, double n) {
    stats_.push_back({Stat::Kind::Count, module, name, n, 0, "1", array_});
  }
  void time_ps(const std::string& module, const std::string& name, std::uint64_t ps) {
    stats_.push_back({Stat::Kind::TimePs, module, name, static_cast<double>(ps), 0, "ps", array_});
  }
  void action(const std::string& module, const std::string& component, const std::string& action, double n,
              double energy_each_J) {
    stats_.push_back({Stat::Kind::Action, module, component + "." + action, n, energy_each_J, "J", array_});
  }
  void param(const std::string& module, const std::string& name, double v, const std::string& unit) {
    stats_.push_back({Stat::Kind::Param, module, name, v, 0, unit, array_});
  }
  // While one lives, the statistics reported belong to array `k` of the mapping (a tile's).
  class ArrayScope {
   public:
    ArrayScope(StatsSink& sink, int k) : sink_(sink), before_(sink.array_) { sink_.array_ = k; }
    ~ArrayScope() { sink_.array_ = before_; }
    ArrayScope(const ArrayScope&) = delete;
    ArrayScope& operator=(const ArrayScope&) = delete;

   private:
    StatsSink& sink_;
    int before_;
  };

  const std::vector<Stat>& stats() const { return stats_; }
  // Sum of a count or time over all modules (times in seconds).
  double sum(const std::string& name) const;
  // A parameter's value (the first module reporting it), or 0.
  double param_value(const std::string& name) const;
  // Energy in J of every component (excluding "programming"), summed in a fixed order.
  std::map<std::string, double> energy_by_component(bool programming = false) const;
  // Replaces the energy per action of every action named "<component>.<action>" in `joules`
  // (an architecture's energy_overrides_fJ table). Counts are untouched.
  void override_energy(const std::map<std::string, double>& joules);
  // Adds another sink of the same design (another worker): counts, times and action counts add,
  // parameters must agree. Throws std::logic_error on a mismatch.
  void merge(const StatsSink& other);
  // Plain text round trip, for worker processes.
  std::string serialise() const;
  static StatsSink deserialise(const std::string& text);

 private:
  std::vector<Stat> stats_;
  int array_ = -1;
};

// Implemented by every module that has statistics.
class StatsProvider {
 public:
  virtual ~StatsProvider() = default;
  virtual void report_stats(StatsSink& sink) const = 0;
};

// Walks all SystemC objects below the top level and collects from each StatsProvider.
StatsSink collect_stats();

}  // namespace bayescim::hw
