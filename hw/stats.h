// Statistics: every module owns named, unit-tagged values and reports them on request; the
// collector walks the SystemC module tree, so adding a module never edits a central list.
// Convention: energies are named "energy.<component>" in J; the report groups them by component.
#pragma once
#include <string>
#include <vector>

namespace bayescim::hw {

struct Stat {
  std::string module;  // hierarchical name
  std::string name;
  double value = 0;
  std::string unit;
};

class StatsSink {
 public:
  void add(const std::string& module, const std::string& name, double value, const std::string& unit) {
    stats_.push_back({module, name, value, unit});
  }
  const std::vector<Stat>& stats() const { return stats_; }
  // Sum of one stat name over all modules.
  double sum(const std::string& name) const;

 private:
  std::vector<Stat> stats_;
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
