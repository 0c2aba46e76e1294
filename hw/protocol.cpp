#include "hw/protocol.h"

namespace bayescim::hw {

void fail(tlm::tlm_generic_payload& tx, tlm::tlm_response_status status, const char* target, const std::string& why) {
  tx.set_response_status(status);
  SC_REPORT_ERROR("bayescim/protocol", (std::string(target) + ": " + why).c_str());
}

bool check_payload(tlm::tlm_generic_payload& tx, const char* target) {
  if (tx.get_data_length() != 0) {
    fail(tx, tlm::TLM_BURST_ERROR_RESPONSE, target,
         "payload carries a data buffer of " + std::to_string(tx.get_data_length()) +
             " bytes (commands travel as typed extensions, with no data buffer)");
    return false;
  }
  if (tx.get_byte_enable_ptr() != nullptr) {
    fail(tx, tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE, target, "payload carries byte enables (not supported)");
    return false;
  }
  return true;
}

void reject_command(tlm::tlm_generic_payload& tx, const char* target, const char* expected) {
  fail(tx, tlm::TLM_COMMAND_ERROR_RESPONSE, target,
       std::string("payload carries no command this target takes with TLM command ") +
           (tx.get_command() == tlm::TLM_READ_COMMAND    ? "READ"
            : tx.get_command() == tlm::TLM_WRITE_COMMAND ? "WRITE"
                                                         : "IGNORE") +
           " (expected " + expected + ")");
}

}  // namespace bayescim::hw
