#include "hw/stats.h"

#include <systemc>

namespace bayescim::hw {

double StatsSink::sum(const std::string& name) const {
  double s = 0;
  for (const auto& st : stats_)
    if (st.name == name) s += st.value;
  return s;
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
