#include "hw/dropout_unit.h"

#include "hw/physics/rng.h"
#include "hw/protocol.h"

namespace bayescim::hw {

double realised_probability(const StochasticMtjParams& mtj, double target_p, double* drive_A) {
  double i = 0, p = target_p;
  if (target_p <= 0.0) {
    i = 0.0;  // no write pulse: never switches
  } else if (target_p >= 1.0) {
    i = mtj.reset_current_A;  // a deterministic write
  } else {
    i = drive_current_for(mtj, target_p);
    p = switching_probability(mtj, i, mtj.write_pulse_s);
  }
  if (drive_A) *drive_A = i;
  return p;
}

SharedDropoutUnit::SharedDropoutUnit(sc_core::sc_module_name name, const Config& cfg)
    : sc_module(name), socket("socket"), cfg_(cfg) {
  socket.register_b_transport(this, &SharedDropoutUnit::b_transport);
  realised_p_ = realised_probability(cfg_.params.mtj, cfg_.target_p, &drive_A_);
  bit_time_ = sc_core::sc_time(bit_latency(cfg_.params.mtj), sc_core::SC_SEC);
}

void SharedDropoutUnit::b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay) {
  if (tx.get_command() != tlm::TLM_READ_COMMAND || tx.get_address() != kDraw) {
    tx.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  auto& d = *reinterpret_cast<DropoutDraw*>(tx.get_data_ptr());
  d.bit = dropout_draw(cfg_.seed, d.image_key, static_cast<std::uint64_t>(d.sample),
                       static_cast<std::uint64_t>(d.draw), realised_p_);
  const BitPhaseEnergy e = bit_energy(cfg_.params.mtj, drive_A_, state_ap_, d.bit);
  energy_.reset_J += e.reset_J;
  energy_.write_J += e.write_J;
  energy_.read_J += e.read_J;
  energy_.sa_J += e.sa_J;
  state_ap_ = d.bit;
  ++bits_;
  ones_ += d.bit ? 1 : 0;
  delay += bit_time_;
  tx.set_response_status(tlm::TLM_OK_RESPONSE);
}

void SharedDropoutUnit::report_stats(StatsSink& sink) const {
  const std::string m = name();
  sink.add(m, "stochastic_units", 1, "1");
  sink.add(m, "dropout_modules", 1, "1");
  sink.add(m, "random_bits", static_cast<double>(bits_), "1");
  sink.add(m, "random_ones", static_cast<double>(ones_), "1");
  sink.add(m, "target_p", cfg_.target_p, "1");
  sink.add(m, "realised_p", realised_p_, "1");
  sink.add(m, "drive_current", drive_A_, "A");
  sink.add(m, "bit_latency", bit_time_.to_seconds(), "s");
  sink.add(m, "energy.dropout_rng", energy_.total(), "J");
  sink.add(m, "dropout.energy_reset", energy_.reset_J, "J");
  sink.add(m, "dropout.energy_write", energy_.write_J, "J");
  sink.add(m, "dropout.energy_read", energy_.read_J, "J");
  sink.add(m, "dropout.energy_sa", energy_.sa_J, "J");
}

}  // namespace bayescim::hw
