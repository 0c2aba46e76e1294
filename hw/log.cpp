#include "hw/log.h"

namespace bayescim::hw {

std::shared_ptr<spdlog::logger> module_logger(const sc_core::sc_object& obj) {
  auto log = spdlog::get(obj.name());
  if (!log) log = spdlog::default_logger()->clone(obj.name());
  return log;
}

}  // namespace bayescim::hw
