#include "sim/config.h"

#include "hw/operating_point.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <functional>

#include "hw/physics/energy_table.h"
#include "hw/operating_point.h"
#include "hw/physics/stochastic_mtj.h"
#include "sim/config_tree.h"
#include "sim/switching_table_io.h"

namespace bayescim::sim {
namespace fs = std::filesystem;

namespace {

constexpr double kNs = 1e-9, kFJ = 1e-15, kUA = 1e-6, kUW = 1e-6;

const char* kIncludes[] = {"hardware.architecture", "hardware.device", "hardware.dropout_device"};

nlohmann::json to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : n) j[kv.first.as<std::string>()] = to_json(kv.second);
    return j;
  }
  if (n.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : n) j.push_back(to_json(e));
    return j;
  }
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0' && n.Tag() != "!") {
      if (s.find_first_of(".eE") == std::string::npos) return static_cast<long long>(d);
      return d;
    }
    if (s == "true") return true;
    if (s == "false") return false;
    return s;
  }
  return nullptr;
}

DataSplit read_split(Section s) {
  DataSplit d;
  d.dataset = s.choice("dataset", std::nullopt, {"mnist", "fashion-mnist"});
  d.dir = s.file_path("dir", std::nullopt);
  d.split = s.choice("split", std::string("test"), {"test", "train"});
  s.finish();
  return d;
}

hw::DeviceParams read_device(Section s) {
  hw::DeviceParams d;
  d.name = s.string("name", std::nullopt);
  s.string("source", std::nullopt);
  d.cell.r_p_ohm = s.number("r_p_ohm", std::nullopt, 1.0, 1e9, "ohm");
  d.cell.tmr = s.number("tmr", std::nullopt, 0.01, 100.0);
  d.cell.v_read_V = s.number("read_voltage_V", std::nullopt, 1e-3, 5.0, "V");
  d.write_current_A = s.number("write_current_uA", std::nullopt, 1e-3, 1e5, "uA") * kUA;
  d.write_pulse_s = s.number("write_pulse_ns", std::nullopt, 1e-3, 1e6, "ns") * kNs;
  // eq. W1: the write driver's supply (default 0.8 V, the nominal 22 nm supply: an assumption).
  d.write_voltage_V = s.number("write_voltage_V", std::nullopt, 1e-3, 10.0, "V");
  d.cell_area_F2 = s.number("cell_area_F2", std::nullopt, 1.0, 1e4, "F^2");
  // eq. V1 for the crossbar MTJ (optional; absent: no limit): a write puts I_w R_AP across an AP cell.
  if (s.has("max_junction_voltage_V")) {
    const double vmax = s.number("max_junction_voltage_V", std::nullopt, 0.01, 10.0, "V");
    const double v = d.write_current_A * d.cell.r_p_ohm * (1.0 + d.cell.tmr);
    if (v > vmax * (1.0 + 1e-12))
      s.fail("write_current_uA", "a write current of at most max_junction_voltage_V / R_AP = " +
                                     std::to_string(vmax / (d.cell.r_p_ohm * (1.0 + d.cell.tmr)) * 1e6) + " uA (eq. V1)",
             std::to_string(d.write_current_A * 1e6) + " uA, " + std::to_string(v) + " V across the AP junction");
  }
  s.allow("max_junction_voltage_V");
  d.cell.r_access_ohm = s.number("access_transistor_ohm", 0.0, 0.0, 1e9, "ohm");
  d.cell.v_access_V = s.number("access_transistor_drop_V", std::nullopt, 0.0, 5.0, "V");
  if (d.cell.v_access_V >= d.cell.v_read_V)
    s.fail("access_transistor_drop_V", "less than read_voltage_V (" + std::to_string(d.cell.v_read_V) +
                                           " V), so that a voltage is left across the MTJ");
  {
    // Optional: the free layer, from which the read-disturb and write-error rates follow at the
    // operating point (eq. C1-C7, hw/physics/crossbar_mtj.h; derived in load_experiment).
    Section t = s.child("thermal", false);
    if (t.present()) {
      hw::CrossbarFreeLayer m;
      m.delta_300K = t.number("delta_300K", std::nullopt, 1.0, 200.0);
      m.temperature_K = t.number("temperature_K", std::nullopt, 1.0, 1000.0, "K");
      m.ic0_ap_to_p_A = t.number("ic0_ap_to_p_uA", std::nullopt, 1e-3, 1e5, "uA") * kUA;
      m.ic0_p_to_ap_A = t.number("ic0_p_to_ap_uA", std::nullopt, 1e-3, 1e5, "uA") * kUA;
      m.precession_time_s = t.number("precession_time_ns", std::nullopt, 1e-3, 1e3, "ns") * kNs;
      // (C1) optional: Bloch's M_s(T) with K_i ~ M_s^2; absent: M_s and K_i constant.
      if (t.has("curie_temperature_K")) {
        m.curie_temperature_K = t.number("curie_temperature_K", std::nullopt, 301.0, 3000.0, "K");
        if (m.temperature_K >= m.curie_temperature_K)
          t.fail("temperature_K", "a temperature below curie_temperature_K (" + std::to_string(m.curie_temperature_K) + " K)");
      }
      t.allow("curie_temperature_K");
      m.read_polarity = t.choice("read_polarity", std::string("ap_to_p"), {"ap_to_p", "p_to_ap"}) == "ap_to_p"
                            ? hw::ReadPolarity::ApToP
                            : hw::ReadPolarity::PToAp;
      d.thermal = m;
      d.variation.read_disturbs_p = m.read_polarity == hw::ReadPolarity::PToAp;
    }
    t.finish();
  }
  {
    Section v = s.child("variation", false);  // device-to-device, fixed per MTJ for a run
    d.variation.r_p_sigma_log = v.number("r_p_sigma_log", 0.0, 0.0, 2.0);
    d.variation.tmr_sigma_rel = v.number("tmr_sigma_rel", 0.0, 0.0, 1.0);
    v.finish();
  }
  {
    Section f = s.child("faults", false);
    d.variation.stuck_p_rate = f.number("stuck_at_p_rate", 0.0, 0.0, 1.0);
    d.variation.stuck_ap_rate = f.number("stuck_at_ap_rate", 0.0, 0.0, 1.0);
    if (d.variation.stuck_p_rate + d.variation.stuck_ap_rate > 1.0)
      f.fail("stuck_at_ap_rate", "stuck_at_p_rate + stuck_at_ap_rate <= 1");
    // With a `thermal` section a rate above 0 here overrides the derived one (load_experiment).
    d.variation.read_disturb_rate = f.number("read_disturb_rate", 0.0, 0.0, 1.0);
    d.variation.write_error_to_p = d.variation.write_error_to_ap = f.number("write_error_rate", 0.0, 0.0, 1.0);
    f.finish();
  }
  s.finish();
  return d;
}

hw::ArchParams read_arch(Section s) {
  hw::ArchParams a;
  a.name = s.string("name", std::nullopt);
  s.string("source", std::string());
  {
    Section arr = s.child("array", true);
    a.rows = static_cast<int>(arr.integer("rows", std::nullopt, 1, 4096));
    a.cols = static_cast<int>(arr.integer("cols", std::nullopt, 1, 4096));
    a.cell = arr.choice("cell", std::string("complementary_2t2mtj"), {"complementary_2t2mtj", "two_phase_1t1mtj"}) ==
                     "complementary_2t2mtj"
                 ? hw::CellScheme::Complementary
                 : hw::CellScheme::TwoPhase;
    a.rows_per_read = static_cast<int>(arr.integer("rows_per_read", std::nullopt, 0, 4096));  // 0: all rows
    // IR drop of the local bitline and source line (analog devices only; docs/hardware.md eq. IR1-IR6)
    a.wire_ohm_per_cell = arr.number("wire_ohm_per_cell", 0.0, 0.0, 1e4, "ohm");
    a.source_line_ohm_per_cell = arr.number("source_line_ohm_per_cell", 0.0, 0.0, 1e4, "ohm");
    arr.finish();
  }
  {
    Section l = s.child("limits", false);  // operating limits (hw/operating_point.h)
    a.max_read_to_write_current = l.number("max_read_to_write_current", 0.5, 1e-3, 10.0);
    a.max_bitline_current_A = l.number("max_bitline_current_mA", 2.0, 1e-6, 1e6, "mA") * 1e-3;
    l.finish();
  }
  {
    Section d = s.child("drivers", true);
    a.wordline_cap_F_per_cell = d.number("wordline_cap_fF_per_cell", std::nullopt, 0.0, 1e3, "fF") * kFJ;
    a.wordline_voltage_V = d.number("wordline_voltage_V", std::nullopt, 0.0, 5.0, "V");
    a.bitline_cap_F_per_cell = d.number("bitline_cap_fF_per_cell", std::nullopt, 0.0, 1e3, "fF") * kFJ;
    d.finish();
  }
  {
    Section m = s.child("mapping", false);
    a.replicate = static_cast<int>(m.integer("replicate", 1, 1, 1024));
    a.pipeline_samples = m.boolean("pipeline_samples", false);
    // Windows of consecutive images pipelined back to back (docs/hardware.md "Timing model").
    a.pipeline_images = static_cast<int>(m.integer("pipeline_images", 1, 1, 4096));
    if (a.pipeline_images > 1 && !a.pipeline_samples)
      m.fail("pipeline_images", "1 unless key '" + m.key_path("pipeline_samples") +
                                    "' is true (images are pipelined only with their samples)",
             std::to_string(a.pipeline_images));
    m.finish();
  }
  {
    // The bus between the tiles and the controller (docs/hardware.md eq. N1); absent = not modelled.
    Section n = s.child("interconnect", false);
    a.bus_bits_per_cycle = static_cast<int>(n.integer("bits_per_cycle", 0, 1, 1 << 20));
    n.finish();
  }
  {
    Section pr = s.child("programming", false);
    a.write_verify = pr.boolean("write_verify", false);
    a.write_max_attempts = static_cast<int>(pr.integer("max_attempts", 1, 1, 1000));
    pr.finish();
  }
  {
    // energy_overrides_fJ: {component: {action: fJ}} replaces the derived energy of that action.
    Section ov = s.child("energy_overrides_fJ", false);
    if (ov.present()) {
      const YAML::Node node = ov.node();
      for (const auto& comp : node) {
        const std::string cname = comp.first.as<std::string>();
        Section c = ov.child(cname, true);
        bool known_component = false;
        for (const auto& name : hw::overridable_actions())
          if (name.rfind(cname + ".", 0) == 0) {
            known_component = true;
            const std::string action = name.substr(cname.size() + 1);
            c.allow(action);
            if (c.has(action)) a.energy_overrides_J[name] = c.number(action, std::nullopt, 0.0, 1e12, "fJ") * kFJ;
          }
        if (!known_component) {
          std::string list;
          for (const auto& name : hw::overridable_actions()) {
            const std::string comp_name = name.substr(0, name.find('.'));
            if (list.find(comp_name) == std::string::npos) list += (list.empty() ? "" : ", ") + comp_name;
          }
          ov.fail(cname, "a component whose actions may be overridden: " + list);
        }
        c.finish();
      }
    }
    ov.finish();
  }
  a.read_pulse_s = s.number("read_pulse_ns", std::nullopt, 1e-3, 1e6, "ns") * kNs;
  {
    Section sa = s.child("sense_amp", true);
    a.sa_latch_energy_J = sa.number("latch_energy_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    a.sa_offset_sigma_A = sa.number("offset_sigma_uA", 0.0, 0.0, 1e4, "uA") * kUA;
    a.sense_transimpedance_ohm = sa.number("transimpedance_ohm", 3000.0, 0.0, 1e9, "ohm");
    a.sense_node_ohm = sa.number("sense_node_ohm", 0.0, 0.0, 1e6, "ohm");  // clamp input resistance (eq. IR4)
    // eq. IR7: calibrated = the references follow the IR-dropped nominal transfer curve of the read's
    // active rows; nominal = the lossless curve (eq. X1, X2), which reads low under IR drop.
    a.calibrated_references = sa.choice("references", std::string("calibrated"), {"calibrated", "nominal"}) == "calibrated";
    a.sa_min_sense_V = sa.number("min_sense_mV", 25.0, 0.0, 1e4, "mV") * 1e-3;
    sa.finish();
  }
  {
    Section adc = s.child("adc", true);
    a.adc_bits = static_cast<int>(adc.integer("bits", 0, 0, 16));  // 0: exact; fewer bits quantise
    a.adc_fom_J_per_step = adc.number("fom_fJ_per_step", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    a.adc_floor_J = adc.number("conversion_floor_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    a.sample_hold_J = adc.number("sample_hold_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    a.adc_latency_s = adc.number("latency_ns", std::nullopt, 0.0, 1e6, "ns") * kNs;
    a.cols_per_adc = static_cast<int>(adc.integer("columns_per_adc", std::nullopt, 1, 4096));
    a.overlap_reads = adc.boolean("overlap_reads", false);  // eq. T2'
    adc.finish();
  }
  {
    Section d = s.child("digital", true);
    a.clock_period_s = 1.0 / (d.positive("clock_GHz", std::nullopt, "GHz") * 1e9);
    a.digital_add_energy_J = d.number("add_energy_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    a.digital_neuron_energy_J = d.number("neuron_energy_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    d.finish();
  }
  {
    Section b = s.child("buffer", true);
    a.buffer_energy_per_bit_J = b.number("energy_per_bit_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
    b.finish();
  }
  a.leakage_per_array_W = s.number("leakage_per_array_uW", std::nullopt, 0.0, 1e6, "uW") * kUW;
  a.quantum_s = s.positive("tlm_quantum_ns", 1000.0, "ns") * kNs;
  {
    Section ar = s.child("area", true);
    a.feature_nm = ar.positive("feature_nm", std::nullopt, "nm");
    a.sa_area_um2 = ar.number("sense_amp_um2", std::nullopt, 0.0, 1e9, "um^2");
    a.adc_area_um2 = ar.number("adc_um2", std::nullopt, 0.0, 1e9, "um^2");
    a.sample_hold_area_um2 = ar.number("sample_hold_um2", std::nullopt, 0.0, 1e9, "um^2");
    a.sa_reference_area_um2 = ar.number("sa_reference_um2", std::nullopt, 0.0, 1e9, "um^2");
    a.periphery_area_um2 = ar.number("periphery_per_array_um2", std::nullopt, 0.0, 1e9, "um^2");
    a.dropout_module_area_um2 = ar.number("dropout_module_um2", std::nullopt, 0.0, 1e9, "um^2");
    // residual joins (defaults: the assumptions of hw/params.h)
    a.shortcut_buffer_bit_area_um2 = ar.number("shortcut_buffer_bit_um2", 0.15, 0.0, 1e9, "um^2");
    a.shortcut_adder_area_um2 = ar.number("shortcut_adder_um2", 4.0, 0.0, 1e9, "um^2");
    ar.finish();
  }
  {  // the dropout circuits beyond the stochastic MTJs (eq. DC2-DC7); every key has a default (the shipped values)
    Section dc = s.child("dropout_circuits", false);
    auto& c = a.dropout_circuits;
    c.driver_area_um2 = dc.number("driver_um2", 10.0, 0.0, 1e9, "um^2");
    c.driver_control_J = dc.number("driver_control_fJ", 10.0, 0.0, 1e9, "fJ") * kFJ;
    c.mask_latch_area_um2 = dc.number("mask_latch_um2", 0.5, 0.0, 1e9, "um^2");
    c.wordline_gate_area_um2 = dc.number("wordline_gate_um2", 0.3, 0.0, 1e9, "um^2");
    c.wordline_gate_J = dc.number("wordline_gate_fJ", 0.2, 0.0, 1e9, "fJ") * kFJ;
    c.select_reference_area_um2 = dc.number("select_reference_um2", 2.0, 0.0, 1e9, "um^2");
    c.select_reference_J = dc.number("select_reference_fJ", 10.0, 0.0, 1e9, "fJ") * kFJ;
    c.select_threshold_area_um2 = dc.number("select_threshold_um2", 3.0, 0.0, 1e9, "um^2");
    c.select_threshold_J = dc.number("select_threshold_fJ", 1.0, 0.0, 1e9, "fJ") * kFJ;
    dc.finish();
  }
  s.finish();
  return a;
}

hw::LlgParams read_llg(Section l, double temperature_K) {
  hw::LlgParams g;
  g.a_m = l.number("a_nm", std::nullopt, 1.0, 1e4, "nm") * 1e-9;
  g.b_m = l.number("b_nm", std::nullopt, 1.0, 1e4, "nm") * 1e-9;
  g.t_f_m = l.number("free_layer_nm", std::nullopt, 0.1, 100.0, "nm") * 1e-9;
  g.ms_A_per_m = l.number("Ms_A_per_m", std::nullopt, 1e3, 1e7, "A/m");
  g.ki_J_per_m2 = l.number("Ki_J_per_m2", std::nullopt, 0.0, 1.0, "J/m^2");
  g.alpha = l.number("alpha", std::nullopt, 1e-4, 1.0);
  g.polarisation = l.number("polarization", std::nullopt, 0.01, 1.0);
  {
    l.allow("demag");
    const std::string expected = "a list of 3 numbers in [0, 1], [N_x, N_y, N_z], summing to 1 (within 1e-3)";
    const YAML::Node n = l.present() ? static_cast<const YAML::Node&>(l.node())["demag"] : YAML::Node();
    if (!n.IsDefined() || n.IsNull()) l.fail("demag", expected + " (required key is missing)");
    if (!n.IsSequence() || n.size() != 3) l.fail("demag", expected, n.IsScalar() ? "'" + n.Scalar() + "'" : "another shape");
    double v[3];
    for (std::size_t i = 0; i < 3; ++i) {
      const YAML::Node e = n[i];
      char* end = nullptr;
      const std::string t = e.IsScalar() ? e.Scalar() : std::string();
      v[i] = std::strtod(t.c_str(), &end);
      if (t.empty() || *end != '\0' || !std::isfinite(v[i]) || v[i] < 0.0 || v[i] > 1.0)
        l.fail("demag", expected, "'" + t + "' at position " + std::to_string(i + 1));
    }
    if (std::abs(v[0] + v[1] + v[2] - 1.0) > 1e-3) l.fail("demag", expected, "a sum of " + std::to_string(v[0] + v[1] + v[2]));
    g.nx = v[0];
    g.ny = v[1];
    g.nz = v[2];
  }
  g.ra_ohm_m2 = l.number("RA_ohm_m2", std::nullopt, 1e-15, 1e-6, "ohm m^2");
  g.temperature_K = temperature_K;
  if (!(hw::llg_hk_eff(g) > 0.0))
    l.fail("Ki_J_per_m2", "an interfacial anisotropy above the demagnetisation, 2 K_i / (mu0 M_s t_f) > (N_z - "
                          "min(N_x, N_y)) M_s, for a perpendicular free layer (H_k,eff = " +
                              std::to_string(hw::llg_hk_eff(g)) + " A/m)");
  l.finish();
  return g;
}

DropoutDevice read_dropout_device(Section s, const ConfigTree& tree) {
  DropoutDevice out;
  hw::DropoutUnitParams& d = out.unit;
  auto& m = d.mtj;
  s.string("name", std::nullopt);
  s.string("source", std::nullopt);
  m.r_p_ohm = s.number("r_p_ohm", std::nullopt, 1.0, 1e9, "ohm");
  m.tmr = s.number("tmr", std::nullopt, 0.01, 100.0);
  m.temperature_K = s.number("temperature_K", 300.0, 1.0, 1000.0, "K");
  // eq. D3: the driver's calibration temperature (default: temperature_K, no drift).
  m.calibration_temperature_K = s.number("calibration_temperature_K", m.temperature_K, 1.0, 1000.0, "K");
  const bool has_llg = s.has("llg");
  // The compact model (eq. S1-S3): required without an llg section, optional (unused) beside it.
  const auto compact = [&](const char* key, double lo, double hi, const char* unit, double def) {
    if (has_llg && s.has(key))
      out.info.warnings.push_back(tree.where(s.key_path(key)) + ": " + s.key_path(key) +
                                  " is not used: with an llg section the switching model is its table, and Delta "
                                  "and I_c0 come from the free layer");
    return has_llg ? s.number(key, def, lo, hi, unit) : s.number(key, std::nullopt, lo, hi, unit);
  };
  m.delta_300K = compact("delta_300K", 1.0, 200.0, "", m.delta_300K);
  m.ic0_A = compact("ic0_uA", 1e-3, 1e5, "uA", m.ic0_A / kUA) * kUA;
  m.tau0_s = compact("tau0_ns", 1e-6, 1e6, "ns", m.tau0_s / kNs) * kNs;
  m.write_pulse_s = s.number("write_pulse_ns", std::nullopt, 1e-6, 1e6, "ns") * kNs;
  // eq. V1: the junction-voltage limit (MgO breakdown), and the drivers' supply (eq. S4').
  m.v_junction_max_V = s.number("max_junction_voltage_V", std::nullopt, 0.01, 10.0, "V");
  m.supply_V = s.number("supply_voltage_V", std::nullopt, 0.01, 10.0, "V");
  m.driver_bias_ratio = s.number("driver_bias_ratio", std::nullopt, 0.0, 10.0);
  m.latch_energy_J = s.number("mask_latch_energy_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
  if (has_llg) out.info.llg = read_llg(s.child("llg", false), m.temperature_K);
  s.allow("llg");
  if (out.info.llg) {  // the compact model's I_c0 and Delta from the free layer (M9, M5): D2 and the report use them
    hw::LlgParams at300 = *out.info.llg;
    at300.temperature_K = 300.0;
    m.ic0_A = hw::llg_ic0(at300);
    m.delta_300K = hw::llg_delta(at300);
    const double rp = hw::llg_rp(*out.info.llg);
    if (std::abs(rp - m.r_p_ohm) > 0.05 * m.r_p_ohm)
      s.fail("llg", "RA_ohm_m2 / (pi a b / 4) within 5 % of r_p_ohm (" + std::to_string(m.r_p_ohm) + " ohm)",
             std::to_string(rp) + " ohm");
  }
  if (s.has("reset_current_uA") && s.has("reset_current_density_A_per_m2"))
    s.fail("reset_current_uA", "exactly one of reset_current_uA and reset_current_density_A_per_m2", "both");
  if (!s.has("reset_current_density_A_per_m2")) {  // reset_current_uA, or the error that it is missing
    m.reset_current_A = s.number("reset_current_uA", std::nullopt, 1e-3, 1e5, "uA") * kUA;
  } else {
    if (!out.info.llg)
      s.fail("reset_current_density_A_per_m2", "reset_current_uA (a density needs the llg section's area)");
    m.reset_current_A = s.number("reset_current_density_A_per_m2", std::nullopt, 1e6, 1e14, "A/m^2") *
                        hw::llg_area(*out.info.llg);
    out.info.reset_from_density = true;
  }
  s.allow("reset_current_uA");
  s.allow("reset_current_density_A_per_m2");
  const double v_reset = m.reset_current_A * m.r_p_ohm * (1.0 + m.tmr);
  if (v_reset > m.v_junction_max_V * (1.0 + 1e-12)) {
    const std::string key = out.info.reset_from_density ? "reset_current_density_A_per_m2" : "reset_current_uA";
    s.fail(key, "a reset current of at most max_junction_voltage_V / R_AP = " +
                    std::to_string(hw::max_drive_current(m) * 1e6) + " uA (eq. V1)",
           std::to_string(m.reset_current_A * 1e6) + " uA, " + std::to_string(v_reset) + " V across the AP junction");
  }
  m.reset_pulse_s = s.number("reset_pulse_ns", std::nullopt, 0.0, 1e6, "ns") * kNs;
  m.relax_s = s.number("relax_ns", std::nullopt, 0.0, 1e6, "ns") * kNs;
  m.read_pulse_s = s.number("read_pulse_ns", std::nullopt, 0.0, 1e6, "ns") * kNs;
  m.v_read_V = s.number("read_voltage_V", std::nullopt, 0.0, 5.0, "V");
  m.sa_energy_J = s.number("sa_energy_fJ", std::nullopt, 0.0, 1e6, "fJ") * kFJ;
  m.sa_latency_s = s.number("sa_latency_ns", std::nullopt, 0.0, 1e6, "ns") * kNs;
  d.pipelined = s.boolean("pipelined", false);
  {
    Section v = s.child("variation", false);  // device-to-device, relative Gaussian sigmas
    d.variation.delta_sigma_rel = v.number("delta_sigma_rel", 0.0, 0.0, 1.0);
    d.variation.ic0_sigma_rel = v.number("ic0_sigma_rel", 0.0, 0.0, 1.0);
    d.variation.size_sigma_rel = v.number("size_sigma_rel", 0.0, 0.0, 1.0);
    v.finish();
  }
  // The run-time model of an llg device: the table `bayescim device FILE --table` made.
  if (out.info.llg) {
    out.info.table_path = s.file_path("switching_table", std::nullopt);
    out.info.table_where = tree.where(s.key_path("switching_table"));
  } else if (s.has("switching_table")) {
    s.fail("switching_table", "no switching_table without an llg section (the table is the llg model's)");
  }
  s.finish();
  return out;
}

// Reads the table of an llg device into its parameters (eq. T1-T3); device_key is where the device
// sits in the config ("" for a device file on its own).
void attach_switching_table(DropoutDevice& dev, const std::string& device_key) {
  if (dev.info.table_path.empty()) return;
  auto table = std::make_shared<hw::SwitchingTable>(read_switching_table(dev.info.table_path, dev.info.table_where));
  const auto& m = dev.unit.mtj;
  const std::string at =
      dev.info.table_where + ": key '" + (device_key.empty() ? "" : device_key + ".") + "switching_table': ";
  for (const auto& [key, temp] : {std::pair{"temperature_K", m.temperature_K},
                                   std::pair{"calibration_temperature_K", m.calibration_temperature_K}})
    if (temp < table->temperatures_K.front() * (1 - 1e-9) || temp > table->temperatures_K.back() * (1 + 1e-9))
      throw InputError(at + "the table " + dev.info.table_path + " covers " +
                       std::to_string(table->temperatures_K.front()) + " to " +
                       std::to_string(table->temperatures_K.back()) + " K, not the device's " + key + " " +
                       std::to_string(temp) + " K (make a table that does with bayescim device --table)");
  if (m.write_pulse_s < table->min_pulse() * (1 - 1e-9) || m.reset_pulse_s > table->max_pulse() * (1 + 1e-9) ||
      m.reset_current_A > table->max_current() * (1 + 1e-9))
    throw InputError(at + "the table " + dev.info.table_path + " does not cover the device's write pulse, reset pulse " +
                     "and reset current (regenerate it with bayescim device --table)");
  if ((dev.unit.variation.delta_sigma_rel > 0 || dev.unit.variation.size_sigma_rel > 0) &&
      table->temperatures_K.size() < 2)
    throw InputError(at + "variation.delta_sigma_rel or size_sigma_rel > 0 needs a table over several temperatures (a Delta is a " +
                     "temperature in the macrospin's p); this table has one");
  dev.info.table_provenance = table->provenance;
  dev.unit.mtj.table = std::move(table);
}

}  // namespace

std::string DataSplit::images_path() const {
  return (fs::path(dir) / (split == "test" ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte")).string();
}
std::string DataSplit::labels_path() const {
  return (fs::path(dir) / (split == "test" ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte")).string();
}

DropoutDevice load_dropout_device(const std::string& path, bool load_table) {
  ConfigTree tree = ConfigTree::load(path);
  DropoutDevice dev = read_dropout_device(Section(tree, "", tree.root()), tree);
  if (load_table) attach_switching_table(dev, "");
  dev.info.file = path;
  return dev;
}

ExperimentConfig load_experiment(const std::string& path, const CliOverrides& cli) {
  ConfigTree tree = ConfigTree::load(path);
  // Overrides of the include keys themselves (choosing another file) come first, then the
  // includes, then every other override, so `--set hardware.device.tmr=2` reaches the file's tree.
  auto is_include_key = [](const std::string& assignment) {
    const std::string key = assignment.substr(0, assignment.find('='));
    for (const char* k : kIncludes)
      if (key == k) return true;
    return false;
  };
  for (const auto& a : cli.sets)
    if (is_include_key(a)) tree.apply_assignment(a);
  for (const char* k : kIncludes) tree.include(k);
  for (const auto& a : cli.sets)
    if (!is_include_key(a)) tree.apply_assignment(a);
  if (cli.out_dir) {  // as a YAML single-quoted string, where ' is written ''
    std::string quoted = "'";
    for (char ch : *cli.out_dir) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
    tree.set("output.dir", quoted + "'", "--out " + *cli.out_dir);
  }
  if (cli.vcd) tree.set("trace.vcd", YAML::Dump(YAML::Node(*cli.vcd)), "--vcd " + *cli.vcd);
  if (cli.limit) tree.set("data.limit", std::to_string(*cli.limit), "--limit " + std::to_string(*cli.limit));

  ExperimentConfig c;
  c.config_path = path;
  Section top(tree, "", tree.root());
  {
    Section e = top.child("experiment", true);
    c.name = e.string("name", fs::path(path).stem().string());
    if (c.name.empty() || c.name.find('/') != std::string::npos) e.fail("name", "a non-empty name without '/'");
    c.seed = static_cast<std::uint64_t>(e.integer("seed", 1, 0, (std::int64_t{1} << 53)));
    c.engine = e.choice("engine", std::string("hw"), {"hw", "reference"}) == "hw" ? Engine::Hw : Engine::Reference;
    c.accelerate = e.boolean("accelerate", true);
    e.finish();
  }
  {
    Section m = top.child("model", true);
    c.model_path = m.file_path("path", std::nullopt);
    c.model_where = tree.where("model.path");
    Section d = m.child("dropout", false);
    if (d.has("kind")) c.dropout.kind = d.choice("kind", std::nullopt, {"none", "mc_dropout", "spatial", "scale"});
    if (d.has("p")) c.dropout.p = d.number("p", std::nullopt, 0.0, 1.0);
    if (d.has("layers")) c.dropout.layers = d.string_list("layers");
    if (d.has("dropped_value")) c.dropout.dropped_value = d.number("dropped_value", std::nullopt, -1e6, 1e6);
    if (d.has("layout"))
      c.dropout.layout = d.choice("layout", std::nullopt, {"per-row-per-position", "element-wise"});
    for (const char* k : {"kind", "p", "layers", "dropped_value", "layout"}) d.allow(k);
    // The only check left for when it is applied is the layer names: point there.
    c.dropout.where = tree.where(d.has("layers") ? "model.dropout.layers" : "model.dropout");
    d.finish();
    m.finish();
  }
  {
    Section mc = top.child("mc", false);  // every key has a default (the shipped values)
    c.samples = static_cast<int>(mc.integer("samples", 20, 1, 100000));
    mc.finish();
  }
  {
    Section d = top.child("data", true);
    c.id = read_split(d.child("id", true));
    d.allow("ood");
    if (d.has("ood")) c.ood = read_split(d.child("ood", false));
    c.limit = static_cast<std::size_t>(d.integer("limit", 0, 0, 100000000));
    {
      Section k = d.child("corruption", false);
      const std::string kind = k.choice("kind", std::string("none"), {"none", "gaussian_noise", "rotation"});
      c.corruption.kind = kind == "gaussian_noise" ? Corruption::Kind::GaussianNoise
                          : kind == "rotation"     ? Corruption::Kind::Rotation
                                                   : Corruption::Kind::None;
      c.corruption.strength = kind == "rotation" ? k.number("strength", 0.0, -360.0, 360.0, "degrees")
                                                 : k.number("strength", 0.0, 0.0, 10.0, "x full scale");
      k.finish();
    }
    d.finish();
  }
  {
    Section h = top.child("hardware", true);
    c.arch = read_arch(h.child("architecture", true));
    c.device = read_device(h.child("device", true));
    {
      DropoutDevice dev = read_dropout_device(h.child("dropout_device", true), tree);
      attach_switching_table(dev, "hardware.dropout_device");
      dev.info.file = tree.where("hardware.dropout_device.r_p_ohm");
      dev.info.file = dev.info.file.substr(0, dev.info.file.rfind(':'));
      c.dropout_unit = dev.unit;
      c.dropout_info = dev.info;
    }
    {  // the read operating point: refused outside the limits, warned where the SA will err
      const hw::OperatingCheck op = hw::check_operating_point(c.device, c.arch);
      if (!op.errors.empty()) throw InputError(tree.where("hardware.device.read_voltage_V") + ": " + op.errors.front());
      c.warnings = op.warnings;
      c.warnings.insert(c.warnings.end(), c.dropout_info.warnings.begin(), c.dropout_info.warnings.end());
    }
    if (c.device.thermal) {  // eq. C6, C7 at the operating point; a hand rate > 0 overrides its effect
      const hw::CrossbarRates r = hw::crossbar_mtj_rates(c.device, c.arch);
      auto& v = c.device.variation;
      CrossbarMtjInfo& info = c.crossbar_mtj.emplace();
      info.rates = r;
      info.read_disturb_override = v.read_disturb_rate > 0;
      info.write_error_override = v.write_errors();
      const auto used = [](double q) { return q < CrossbarMtjInfo::kNegligible ? 0.0 : q; };
      if (!info.read_disturb_override)
        v.read_disturb_rate = used(v.read_disturbs_p ? r.read_disturb_p : r.read_disturb_ap);
      if (!info.write_error_override) {
        v.write_error_to_p = used(r.write_error_to_p);
        v.write_error_to_ap = used(r.write_error_to_ap);
      }
      if (v.read_disturb_rate > 0.5)
        throw InputError(tree.where("hardware.device.thermal") + ": hardware.device.thermal: a read switches the MTJs it destabilises with " +
                         "probability " + std::to_string(v.read_disturb_rate) + " (eq. C6): the read current is " +
                         "too close to the critical current; raise the ic0_*_uA or delta_300K, or lower " +
                         "read_voltage_V or the read pulse");
    }
    // With device variation the read energy comes from each MTJ's own conductance, so an override
    // of the nominal cell-read or reference energies would silently not apply: refuse it.
    if (c.device.variation.any())
      for (const auto& [name, joules] : c.arch.energy_overrides_J)
        if (name.rfind("crossbar_read.", 0) == 0 || name.rfind("sense_amp.reference", 0) == 0)
          throw InputError(tree.where("hardware.architecture.energy_overrides_fJ") + ": override of " + name +
                           " does not apply with device variation, faults or read disturb on (the read energy "
                           "then comes from each MTJ's conductance); remove it or turn the non-idealities off");
    h.finish();
  }
  {
    Section o = top.child("output", false);
    c.out_dir = o.string("dir", std::string());
    if (c.out_dir.empty()) c.out_dir = (fs::path("out") / c.name).string();
    c.samples_csv = o.boolean("samples_csv", false);
    c.progress = o.boolean("progress", true);
    o.finish();
  }
  {
    Section t = top.child("trace", false);
    c.trace.vcd = t.string("vcd", std::string());
    c.trace.images = static_cast<std::size_t>(t.integer("images", 1, 1, 1000));
    const auto mods = t.has("modules") ? t.string_list("modules")
                                       : std::vector<std::string>{"controller", "tiles", "dropout"};
    t.allow("modules");
    c.trace.controller = c.trace.tiles = c.trace.dropout = false;
    for (const auto& m : mods) {
      if (m == "controller") c.trace.controller = true;
      else if (m == "tiles") c.trace.tiles = true;
      else if (m == "dropout") c.trace.dropout = true;
      else t.fail("modules", "a list of: controller, tiles, dropout", "'" + m + "'");
    }
    t.finish();
  }
  {
    Section l = top.child("log", false);
    const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error", "off"};
    c.log_level = l.choice("level", std::string("info"), levels);
    Section mods = l.child("modules", false);  // per-module levels, e.g. {controller: debug, tile_0: trace}
    if (mods.present())
      for (const auto& kv : tree.root()["log"]["modules"]) {
        const std::string name = kv.first.as<std::string>();
        c.log_modules.emplace_back(name, mods.choice(name, std::nullopt, levels));
      }
    mods.finish();
    l.finish();
  }
  top.finish();
  c.resolved = to_json(tree.root());
  return c;
}

}  // namespace bayescim::sim
