#include "hw/engine/readout.h"

#include "hw/physics/rng.h"

namespace bayescim::hw {

namespace {
constexpr std::uint64_t kDisturbSalt = 0xd157'0000'0000'0000ULL;
}

std::unique_ptr<Readout> make_readout(CellScheme scheme, const ReadEnv& env) {
  switch (scheme) {
    case CellScheme::Complementary: return make_complementary_readout(env);
    case CellScheme::TwoPhase: return make_two_phase_readout(env);
  }
  return nullptr;
}

std::uint64_t Readout::disturb_key(const ReadRequest& r) const {
  return hash_key(env_.seed ^ kDisturbSalt, r.image_key,
                  (static_cast<std::uint64_t>(r.sample) << 32) | static_cast<std::uint64_t>(env_.index),
                  (static_cast<std::uint64_t>(r.p) << 16) | static_cast<std::uint64_t>(r.g));
}

IrDropParams Readout::ir_params(const ReadEnv& env) {
  IrDropParams p;
  p.v_cell = env.phys.v_cell();
  p.r_bitline = env.arch.wire_ohm_per_cell;
  p.r_source_line = env.arch.source_line_ohm_per_cell;
  p.r_sense = env.arch.sense_node_ohm;
  return p;
}

ReadCache::Slot Readout::cache_slot(const ReadRequest& r) {
  if (!env_.cells.analog() || disturb_on() || !env_.cache.enabled()) return {};
  const std::size_t set = static_cast<std::size_t>(r.p - env_.slice.position_begin) * static_cast<std::size_t>(env_.groups) +
                          static_cast<std::size_t>(r.g);
  return env_.cache.lookup(set, r.image_key, r.x, r.a);
}

}  // namespace bayescim::hw
