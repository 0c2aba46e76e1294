// Validated hardware parameters, in SI units. sim/config builds these from YAML; hw/ never reads files.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "hw/physics/crossbar_mtj.h"
#include "hw/physics/crossbar_physics.h"
#include "hw/physics/stochastic_mtj.h"

namespace bayescim::hw {

// The crossbar's storage device (an STT-MRAM MTJ) and how it is programmed.
struct DeviceParams {
  std::string name;
  CellParams cell;
  CellVariation variation;
  double write_current_A = 80e-6;
  double write_pulse_s = 10e-9;
  // Supply of the write driver: a current-mode write draws I_w from it for t_w, so a pulse costs
  // V_w I_w t_w whatever the MTJ's state (eq. W1). 0.8 V: the nominal 22 nm supply (assumption).
  double write_voltage_V = 0.8;
  double cell_area_F2 = 54;
  // The crossbar MTJs' free layer: when set, the read-disturb and write-error rates are derived
  // from it at the operating point (eq. C1-C7, crossbar_mtj_rates in hw/operating_point.h).
  std::optional<CrossbarFreeLayer> thermal;
};

// How a binary weight is stored and an XNOR is read (hw/physics/crossbar_physics.h, docs/hardware.md).
enum class CellScheme {
  Complementary,  // 2T-2MTJ: (w, not w), x selects which MTJ conducts; one read per position
  TwoPhase,       // 1T-1MTJ: w only; rows with x = +1 read in one phase, x = -1 in a second
};

// The CIM architecture around the arrays.
struct ArchParams {
  std::string name;
  int rows = 512;                  // logical XNOR cells per column
  int cols = 128;
  CellScheme cell = CellScheme::Complementary;
  int rows_per_read = 0;           // wordlines a read may enable at once; 0 = all rows of the array
  double wire_ohm_per_cell = 0;    // local bitline wire of one cell pitch, r_bl (IR drop, eq. IR2)
  double source_line_ohm_per_cell = 0;  // local source-line wire of one cell pitch, r_sl (eq. IR3); 0 = strapped
  // Operating limits a configuration must meet (checked by sim/config, reported in
  // hardware.operating_point): a cell's read current against its write current, and a bitline's.
  double max_read_to_write_current = 0.5;
  double max_bitline_current_A = 2e-3;
  int replicate = 1;               // copies of each layer's arrays, sharing its output positions
  bool pipeline_samples = false;   // overlap layers of successive MC samples of one image
  int pipeline_images = 1;         // ... and of this many consecutive images (a window; needs pipeline_samples)
  bool write_verify = false;       // programming: read back after each write pulse and retry
  int write_max_attempts = 1;      // pulses per MTJ with write-verify
  double wordline_cap_F_per_cell = 0;  // wordline capacitance per cell it crosses
  double wordline_voltage_V = 0;       // wordline swing (the access transistors' gate voltage)
  double bitline_cap_F_per_cell = 0;   // bitline capacitance per cell it crosses
  std::map<std::string, double> energy_overrides_J;  // "<component>.<action>" -> J per action
  double read_pulse_s = 1.66e-9;   // wordline pulse incl. SA evaluation
  double sa_latch_energy_J = 5e-15;   // per SA decision, excluding the reference branch current
  double sa_offset_sigma_A = 0;       // input-referred offset of a decision (Gaussian sigma, amperes)
  double sense_transimpedance_ohm = 3e3;  // sense node: bitline current -> SA/ADC input voltage
  double sense_node_ohm = 0;          // input resistance of the sense node's clamp, R_s (eq. IR4); 0 = ideal
  // SA/ADC references trimmed to the cell population's mean conductances (eq. X4) and, with a
  // wire, to the read's IR-dropped curve (eq. IR7); false: the nominal lossless line (X1, X2)
  bool calibrated_references = true;
  double sa_min_sense_V = 25e-3;      // smallest input difference the SA resolves (sense margin check)
  int adc_bits = 0;                // 0: exact, ceil(log2(rows + 1))
  double adc_fom_J_per_step = 50e-15; // Walden figure of merit: E = E_floor + FoM * 2^bits per conversion
  double adc_floor_J = 0;             // fixed energy per conversion (dominates at low resolution)
  double sample_hold_J = 0;           // per column sampled for the ADC (sample-and-hold capacitor)
  double adc_latency_s = 2e-9;
  int cols_per_adc = 8;            // columns sharing one ADC (time-multiplexed)
  bool overlap_reads = false;      // the next read overlaps the conversions of the held columns (eq. T2')
  double clock_period_s = 1e-9;    // digital periphery clock
  int bus_bits_per_cycle = 0;      // interconnect between tiles and controller (eq. N1); 0 = not modelled
  double digital_add_energy_J = 50e-15;      // per partial-sum addition
  double digital_neuron_energy_J = 100e-15;  // per digital BN/threshold evaluation
  double buffer_energy_per_bit_J = 10e-15;   // activation buffer read or write, per bit
  double leakage_per_array_W = 10e-6;        // periphery leakage per array (MTJs do not leak)
  double quantum_s = 1e-6;         // TLM global quantum
  // Area (a first-order estimate; see hw/area.h).
  double feature_nm = 22;                   // technology node F
  double sa_area_um2 = 1.0;                 // one sense amplifier (one per column)
  double adc_area_um2 = 500.0;              // one ADC (one per columns_per_adc columns)
  double sample_hold_area_um2 = 0;          // one sample-and-hold per column of an ADC-path array
  double sa_reference_area_um2 = 0;         // one shared SA reference generator per SA-path array
  double periphery_area_um2 = 1000.0;       // per array: wordline drivers, decoders, buffers
  double dropout_module_area_um2 = 5.0;     // one stochastic MTJ with its write/reset switches and read SA
  // Residual joins (assumptions; docs/hardware.md "Residual connections"): one SRAM bit of the
  // shortcut buffer (22 nm 6T bitcell 0.092 um^2, Intel, ISSCC 2012, plus its share of periphery),
  // and one shortcut adder (an 8-bit ripple-carry adder of standard-cell full adders).
  double shortcut_buffer_bit_area_um2 = 0.15;
  double shortcut_adder_area_um2 = 4.0;
  // The dropout circuits beyond the stochastic MTJs (hw/dropout_circuits.h; eq. DC1-DC8), assumptions.
  struct DropoutCircuitParams {
    double driver_area_um2 = 10.0;        // one module's driver: current DAC or pulse-width timer
    double driver_control_J = 10e-15;     // per draw: the driver's code register / timer run
    double mask_latch_area_um2 = 0.5;     // one mask bit held for a pass
    double wordline_gate_area_um2 = 0.3;  // one gated wordline's AND gate
    double wordline_gate_J = 0.2e-15;     // one gated-wordline evaluation per read
    double select_reference_area_um2 = 2.0;  // shared unit, SA path: per column, second reference tap + switch
    double select_reference_J = 10e-15;      // per column per pass: the reference node resettled
    double select_threshold_area_um2 = 3.0;  // shared unit, ADC path: per neuron, second threshold register + mux
    double select_threshold_J = 1e-15;       // per neuron per pass: the select driven to the mux
  } dropout_circuits;
};

// The shared stochastic dropout unit.
struct DropoutUnitParams {
  StochasticMtjParams mtj;
  MtjVariation variation;
  bool pipelined = false;  // modules draw the next position's bits while the arrays read
};

// MTJs per logical cell of a scheme.
inline int mtjs_per_cell(CellScheme s) { return s == CellScheme::Complementary ? 2 : 1; }
// Rows enabled by one read: rows_per_read, or the whole array.
inline int rows_per_read(const ArchParams& a) { return a.rows_per_read > 0 ? std::min(a.rows_per_read, a.rows) : a.rows; }
// Bits to tell `levels` values apart: the smallest b with 2^b >= levels, ceil(log2(levels)).
inline int bits_for_levels(std::uint64_t levels) {
  int b = 0;
  while ((std::uint64_t{1} << b) < levels) ++b;
  return b;
}
// ADC resolution: configured, or exact for one read, ceil(log2(rows_per_read + 1)).
int adc_bits_for(const ArchParams& a);

}  // namespace bayescim::hw
