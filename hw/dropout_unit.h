// The shared stochastic dropout unit (MC-Scale-Dropout): one stochastic MTJ for the whole model,
// drawing one bit per dropped layer per MC sample. The bit drives the column reference select
// (theta/alpha vs theta) of the arrays, or the digital select on the ADC path.
#pragma once
#include <cstdint>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/params.h"
#include "hw/physics/stochastic_mtj.h"
#include "hw/stats.h"

namespace bayescim::hw {

class SharedDropoutUnit : public sc_core::sc_module, public StatsProvider {
 public:
  struct Config {
    DropoutUnitParams params;
    double target_p = 0.0;
    std::uint64_t seed = 0;
  };
  tlm_utils::simple_target_socket<SharedDropoutUnit> socket;

  SharedDropoutUnit(sc_core::sc_module_name name, const Config& cfg);
  SharedDropoutUnit(const SharedDropoutUnit&) = delete;
  SharedDropoutUnit& operator=(const SharedDropoutUnit&) = delete;

  // The probability the device really switches with, after the driver's choice of current.
  double realised_p() const { return realised_p_; }
  double drive_current() const { return drive_A_; }
  void report_stats(StatsSink& sink) const override;

 private:
  void b_transport(tlm::tlm_generic_payload& tx, sc_core::sc_time& delay);

  Config cfg_;
  double drive_A_ = 0, realised_p_ = 0;
  bool state_ap_ = false;
  sc_core::sc_time bit_time_;
  std::uint64_t bits_ = 0, ones_ = 0;
  BitPhaseEnergy energy_;
};

// The realised switching probability for a target p (0 and 1 are driven deterministically).
double realised_probability(const StochasticMtjParams& mtj, double target_p, double* drive_A = nullptr);

}  // namespace bayescim::hw
