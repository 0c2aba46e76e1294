// Transaction contents exchanged over the TLM sockets. A generic payload's data pointer points to
// one of these structs; the address selects the command (LT modelling with delay annotation).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tlm>
#include <vector>

#include "models/compiled.h"

namespace bayescim::hw {

enum Address : std::uint64_t {
  kProgram = 0x0,  // write: TileProgram / ProgramRequest
  kCompute = 0x1,  // write: TileOp
  kInfer = 0x2,    // write: InferenceRequest (host -> controller)
  kDraw = 0x3,     // read: DropoutDraw (controller -> dropout unit)
  kDrain = 0x4,    // write: DrainRequest (host -> controller): wait until every issued sample is done
  kReplay = 0x5,   // write: TileReplay (controller -> tile): repeat the tile's last operation's accounting
};

// Controller -> tile: the tile's last operation is repeated with the same inputs (a layer before
// the first dropout layer, in a later MC sample of the same image, ideal devices). The outputs are
// known; the tile adds that operation's action counts and busy time again and annotates its time.
struct TileReplay {};

// Host -> controller, after the last sample: the annotated delay is raised to the time the last
// sample leaves the pipeline (samples may still be in flight when pipeline_samples is on).
struct DrainRequest {};

// Host -> controller: write the weights of the whole network into the tiles.
struct ProgramRequest {};

// Controller -> tile: store a weight slice and its per-column references (both scale states).
struct TileProgram {
  const models::CompiledLayer* layer = nullptr;
};

// Controller -> tile: read the array once per output position of the layer.
struct TileOp {
  const std::uint64_t* rows = nullptr;    // [positions][words] the layer's packed row vectors
  const std::uint64_t* active = nullptr;  // [positions][words] wordlines on (padding, dropout off)
  std::size_t words = 0;                  // stride of rows and active
  int positions = 1;
  bool drop = false;                      // reference select: dropped scale (true) or alpha
  std::uint64_t* out_bits = nullptr;      // SA path: outputs [out][positions] of the whole layer
  int* partial = nullptr;                 // ADC path: match counts [positions][array cols] of this tile
  int* active_rows = nullptr;             // ADC path: active rows [positions] of this tile
  bool trace = false;                     // inside the VCD window: update the traced signals
  std::uint64_t image_key = 0;            // for per-decision noise (SA offset), drawn per read
  int sample = 0;
};

// Host -> controller: one MC sample of one image.
struct InferenceRequest {
  const std::uint8_t* pixels = nullptr;
  std::uint64_t image_key = 0;
  int sample = 0;
  float* logits = nullptr;           // [classes]
  std::uint8_t* drop_bits = nullptr; // [dropout layers], filled with the bits used
  int image = 0;                     // index of the job, for tracing
  bool trace = false;                // inside the VCD window: sync at every step, update signals
};

// Controller -> dropout source: the draws one layer needs in one MC sample.
struct DropoutRequest {
  std::uint64_t image_key = 0;
  int sample = 0;
  int layer = 0;                 // index of the layer in the network
  std::size_t offset = 0;        // first draw index of the layer within the sample
  std::size_t count = 0;         // draws: 1 (scale), C_in (spatial), positions * rows (mc_dropout)
  std::uint64_t* bits = nullptr; // [words_for(count)] output, 1 = drop
  bool trace = false;
  // Pipelined modules annotate only their first round; the remaining rounds (one per further
  // output position) overlap the array reads, and the layer cannot end before they do.
  sc_core::sc_time overlapped{sc_core::SC_ZERO_TIME};
};

// Sends one command through an initiator socket (anything with operator->() to a transport
// interface) and throws std::logic_error naming `who` if the target answers with an error.
template <class Socket, class Payload>
void transport(Socket&& socket, tlm::tlm_command cmd, std::uint64_t addr, Payload& data, sc_core::sc_time& delay,
               const char* who) {
  tlm::tlm_generic_payload tx;
  tx.set_command(cmd);
  tx.set_address(addr);
  tx.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
  tx.set_data_length(sizeof(Payload));
  tx.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  socket->b_transport(tx, delay);
  if (tx.is_response_error()) throw std::logic_error(std::string(who) + ": transaction to address " + std::to_string(addr) + " failed");
}

}  // namespace bayescim::hw
