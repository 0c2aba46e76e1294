#include "hw/log.h"

#include <spdlog/pattern_formatter.h>

namespace bayescim::hw {

namespace {

// %* in a pattern: the SystemC simulation time of the message.
class SimTimeFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string t = sc_core::sc_time_stamp().to_string();
    dest.append(t.data(), t.data() + t.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return spdlog::details::make_unique<SimTimeFlag>(); }
};

}  // namespace

std::shared_ptr<spdlog::logger> module_logger(const sc_core::sc_object& obj) {
  auto log = spdlog::get(obj.name());
  if (log) return log;
  log = spdlog::default_logger()->clone(obj.name());
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<SimTimeFlag>('*').set_pattern("[%H:%M:%S] [%n @ %*] [%^%l%$] %v");
  log->set_formatter(std::move(f));
  log->set_level(spdlog::default_logger()->level());
  spdlog::register_logger(log);
  return log;
}

}  // namespace bayescim::hw
