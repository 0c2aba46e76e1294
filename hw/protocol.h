// The commands exchanged over the TLM sockets. Each command is its own type, carried by the
// generic payload as a tlm_extension (no data buffer, no address decoding): the initiator sends
// it with send(), the target takes it with command_of<T>() after check_payload(). A payload that
// carries no known command, has the wrong TLM command or a data buffer, gets an error response
// and an SC_REPORT_ERROR naming the target (loosely-timed modelling with delay annotation).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <systemc>
#include <tlm>

#include "hw/engine/array_op.h"
#include "models/compiled.h"

namespace bayescim::hw {

// A command type: T derives from Command<T, its TLM command>. The payload never owns a command
// (send() detaches it before the payload is destroyed), so free() is never reached.
template <class T, tlm::tlm_command Cmd>
struct Command : tlm::tlm_extension<T> {
  static constexpr tlm::tlm_command kTlmCommand = Cmd;
  tlm::tlm_extension_base* clone() const override { return new T(static_cast<const T&>(*this)); }
  void copy_from(const tlm::tlm_extension_base& other) override { static_cast<T&>(*this) = static_cast<const T&>(other); }
};

// Host -> controller: write the weights of the whole network into the tiles.
struct ProgramRequest : Command<ProgramRequest, tlm::TLM_WRITE_COMMAND> {};

// Host -> controller: one MC sample of one image.
struct InferenceRequest : Command<InferenceRequest, tlm::TLM_WRITE_COMMAND> {
  const std::uint8_t* pixels = nullptr;
  std::uint64_t image_key = 0;
  int sample = 0;
  float* logits = nullptr;            // [classes]
  std::uint8_t* drop_bits = nullptr;  // [dropout layers], filled with the bits used
  int image = 0;                      // index of the job, for tracing
  bool trace = false;                 // inside the VCD window: record the signals
  // The image's last sample (its latency ends when this sample leaves the last layer).
  bool last_of_image = true;
  // The last sample of the window's last image: with pipeline_samples the window of samples is
  // complete (hw/timing/timing_model.h). The controller's time for a window is spent (or
  // annotated) when its last sample is sent.
  bool last_of_window = true;
};

// Controller -> tile: store a weight slice and its per-column references (both scale states).
struct TileProgram : Command<TileProgram, tlm::TLM_WRITE_COMMAND> {
  const models::CompiledLayer* layer = nullptr;
};

// Controller -> tile: read the array once per output position of the layer (hw/engine/array_op.h).
// Traced changes are anchored at (slot, layer): the sample's place in its window and the layer.
// Response: the annotated delay is the operation's time; of it, `read` the read pulses and
// `convert` the conversions (with overlap_reads the two overlap, so the delay is less than their sum).
struct TileOp : Command<TileOp, tlm::TLM_WRITE_COMMAND>, ArrayOp {
  int slot = 0, layer = 0;
  sc_core::sc_time read{sc_core::SC_ZERO_TIME};
  sc_core::sc_time convert{sc_core::SC_ZERO_TIME};
};

// Controller -> dropout source: the draws one layer needs in one MC sample.
struct DropoutRequest : Command<DropoutRequest, tlm::TLM_READ_COMMAND> {
  std::uint64_t image_key = 0;
  int sample = 0;
  int layer = 0;                  // index of the layer in the network
  int slot = 0;                   // the sample's place in its window (traced changes' anchor)
  std::size_t offset = 0;         // first draw index of the layer within the sample
  std::size_t count = 0;          // draws: 1 (scale), C_in (spatial), positions * rows (mc_dropout)
  std::uint64_t* bits = nullptr;  // [words_for(count)] output, 1 = drop
  bool trace = false;
  // Response: pipelined modules annotate only their first round; the remaining rounds (one per
  // further output position) overlap the array reads, and the layer cannot end before they do.
  sc_core::sc_time overlapped{sc_core::SC_ZERO_TIME};
};

// Target side. Checks what every command shares (a data length of 0, no byte enables); on a
// violation sets the error response, reports it and returns false.
bool check_payload(tlm::tlm_generic_payload& tx, const char* target);
// The command of type T the payload carries with T's TLM command, or nullptr.
template <class T>
T* command_of(tlm::tlm_generic_payload& tx) {
  T* c = nullptr;
  tx.get_extension(c);
  return c && tx.get_command() == T::kTlmCommand ? c : nullptr;
}
// Sets the error response `status` and reports `why` (SC_REPORT_ERROR, which throws by default).
void fail(tlm::tlm_generic_payload& tx, tlm::tlm_response_status status, const char* target, const std::string& why);
// A payload with no command this target takes: TLM_COMMAND_ERROR_RESPONSE and SC_REPORT_ERROR.
void reject_command(tlm::tlm_generic_payload& tx, const char* target, const char* expected);

// Initiator side: sends one command through a socket (anything with operator->() to a transport
// interface); throws std::logic_error naming `who` if the target answers with an error.
template <class Socket, class T>
void send(Socket&& socket, T& cmd, sc_core::sc_time& delay, const char* who) {
  tlm::tlm_generic_payload tx;
  tx.set_command(T::kTlmCommand);
  tx.set_address(0);
  tx.set_data_ptr(nullptr);
  tx.set_data_length(0);
  tx.set_streaming_width(0);
  tx.set_byte_enable_ptr(nullptr);
  tx.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  tx.set_extension(&cmd);
  struct Detach {  // the payload must not free the caller's command, even if the target throws
    tlm::tlm_generic_payload& tx;
    T* cmd;
    ~Detach() { tx.clear_extension(cmd); }
  } detach{tx, &cmd};
  socket->b_transport(tx, delay);
  if (tx.is_response_error())
    throw std::logic_error(std::string(who) + ": command failed: " + tx.get_response_string());
}

}  // namespace bayescim::hw
