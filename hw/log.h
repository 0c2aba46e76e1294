// One spdlog logger per module, named by its hierarchical name; messages carry the simulation time.
#pragma once
#include <memory>
#include <spdlog/spdlog.h>
#include <string>
#include <systemc>

namespace bayescim::hw {

std::shared_ptr<spdlog::logger> module_logger(const sc_core::sc_object& obj);
inline std::string sim_time() { return sc_core::sc_time_stamp().to_string(); }

}  // namespace bayescim::hw
