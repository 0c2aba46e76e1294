#include "sim/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "hw/area.h"
#include "hw/physics/crossbar_physics.h"
#include "hw/physics/stochastic_mtj.h"
#include "hw/operating_point.h"
#include "sim/atomic_file.h"
#include "sim/stats_ci.h"

namespace bayescim::sim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json id_json(const MetricsAccumulator& m) {
  const IdMetrics x = id_metrics(m);
  json bins = json::array();
  for (const auto& b : reliability_bins(m))
    bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count}, {"confidence", b.mean_confidence},
                    {"accuracy", b.accuracy}});
  return {{"images", x.count}, {"accuracy", x.accuracy}, {"nll", x.nll},       {"brier", x.brier},
          {"ece", x.ece},      {"entropy_mean", x.entropy_mean}, {"mi_mean", x.mi_mean}, {"reliability", bins}};
}

// A probability measured by counting: `events` in `trials`, with its Clopper-Pearson interval.
json measured_probability(std::uint64_t events, std::uint64_t trials) {
  const Interval ci = clopper_pearson(events, trials, kConfidenceLevel);
  return {{"events", events},
          {"trials", trials},
          {"rate", trials > 0 ? json(static_cast<double>(events) / static_cast<double>(trials)) : json(nullptr)},
          {"ci_lower", ci.lower},
          {"ci_upper", ci.upper}};
}

std::uint64_t count_of(const hw::StatsSink& st, const std::string& name) {
  return static_cast<std::uint64_t>(std::llround(st.sum(name)));
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

json build_report(const ExperimentConfig& cfg, const RunResult& r) {
  json j;
  const auto& net = r.net;
  std::size_t images = 0;
  for (const auto& d : r.datasets) images += d.count;
  const double inferences = static_cast<double>(images);
  const double samples = inferences * cfg.samples;

  j["name"] = cfg.name;
  j["engine"] = cfg.engine == Engine::Hw ? "hw" : "reference";
  j["seed"] = cfg.seed;
  j["mc_samples"] = cfg.samples;
  j["model"] = {{"path", cfg.model_path},
                {"layers", net.layers.size()},
                {"binary_macs_per_sample", net.binary_macs_per_sample()},
                {"input_bits", net.input_bits},
                {"dropout", {{"kind", models::to_string(net.dropout.kind)},
                             {"p", net.dropout.p},
                             {"layers", net.dropout.layers},
                             {"dropped_value", net.dropout.scale_dropped_value},
                             {"layout", net.dropout.kind == models::DropoutKind::McDropout
                                            ? json(models::to_string(net.dropout.layout))
                                            : json(nullptr)}}}};
  j["data"] = json::object();
  for (const auto& d : r.datasets) j["data"][d.role] = {{"dataset", d.name}, {"images", d.count}};
  const char* ck[] = {"none", "gaussian_noise", "rotation"};
  j["data"]["id"]["corruption"] = {{"kind", ck[static_cast<int>(cfg.corruption.kind)]},
                                   {"strength", cfg.corruption.strength}};

  j["metrics"]["id"] = id_json(r.metrics.at(0));
  if (r.metrics.size() > 1) {
    const OodMetrics o = ood_metrics(r.metrics[0], r.metrics[1]);
    j["metrics"]["ood"] = {{"images", r.metrics[1].size()},
                           {"entropy_mean", mean_of(r.metrics[1].entropies())},
                           {"mi_mean", mean_of(r.metrics[1].mutual_informations())},
                           {"auroc_entropy", o.auroc_entropy}, {"auroc_mi", o.auroc_mi},
                           {"aupr_entropy", o.aupr_entropy},   {"aupr_mi", o.aupr_mi},
                           {"fpr95_entropy", o.fpr95_entropy}, {"fpr95_mi", o.fpr95_mi}};
  } else {
    j["metrics"]["ood"] = nullptr;
  }

  const bool has_dropout = net.dropout_layers() > 0;
  const auto& mods = r.dropout_modules;
  j["hardware"] = {{"stochastic_units", mods.modules},
                   {"dropout_modules", mods.modules},
                   {"dropout_organisation", hw::to_string(mods.org)},
                   {"dropout_layout", net.dropout.kind == models::DropoutKind::McDropout
                                          ? json(models::to_string(net.dropout.layout))
                                          : json(nullptr)},
                   {"random_bits_per_sample", r.draws_per_sample},
                   {"random_bits", r.random_bits},
                   {"dropout_p_target", has_dropout ? net.dropout.p : 0.0},
                   {"dropout_p_realised", has_dropout ? r.realised_p : 0.0}};
  {  // the stochastic MTJ's switching model, drive and energy per bit (eq. V1, D1, S4'; issue 19)
    const auto& m = cfg.dropout_unit.mtj;
    const double target = has_dropout ? net.dropout.p : 0.0;
    const hw::DriveChoice d = hw::choose_drive(m, target);
    const hw::BitPhaseEnergy e0 = hw::bit_energy(m, d, false), e1 = hw::bit_energy(m, d, true);
    auto mean = [&](double a, double b) { return (1.0 - d.p) * a + d.p * b; };
    const double r_ap = m.r_p_ohm * (1.0 + m.tmr), reset_fail = hw::reset_failure_probability(m);
    j["hardware"]["dropout_device"] = {
        {"switching_model", m.model_name()},
        {"switching_table", cfg.dropout_info.table_path.empty()
                                ? json(nullptr)
                                : json(std::filesystem::path(cfg.dropout_info.table_path)
                                           .lexically_proximate(std::filesystem::current_path())
                                           .string())},
        {"table_provenance",
         cfg.dropout_info.table_provenance.empty() ? json(nullptr) : json(cfg.dropout_info.table_provenance)},
        {"drive_current_A", d.current_A},
        {"drive_pulse_s", d.pulse_s},
        {"pulse_stretched", d.pulse_stretched},
        {"max_junction_voltage_V", m.v_junction_max_V},
        {"write_junction_voltage_V", d.current_A * r_ap},
        {"reset_junction_voltage_V", m.reset_current_A * r_ap},
        {"reset_failure_probability", reset_fail},
        {"dp_dic0_per_A", hw::dp_dic0(m, d)},
        {"calibration_temperature_K",
         m.calibration_temperature_K > 0 ? m.calibration_temperature_K : m.temperature_K},
        {"temperature_K", m.temperature_K},
        {"ic0_A", m.ic0_A},
        {"consecutive_bits_correlated", reset_fail > 1e-3},
        {"energy_per_bit_J",
         {{"reset", mean(e0.reset_J, e1.reset_J)},
          {"write", mean(e0.write_J, e1.write_J)},
          {"driver", mean(e0.driver_J, e1.driver_J)},
          {"read", mean(e0.read_J, e1.read_J)},
          {"sense_amp", mean(e0.sa_J, e1.sa_J)},
          {"mask_latch", mean(e0.latch_J, e1.latch_J)},
          {"total", mean(e0.total(), e1.total())}}},
        {"latency_per_bit_s", hw::bit_latency(m, d.pulse_s)}};
  }
  // Every probability the run measured by counting, with its interval (docs/report-schema.md).
  j["hardware"]["measured_rates"] = {{"confidence_level", kConfidenceLevel},
                                     {"dropout_p", measured_probability(r.random_ones, r.random_bits)}};
  if (!r.module_p.empty()) {  // spread over modules from stochastic-MTJ variation
    double sum = 0, lo = r.module_p[0], hi = r.module_p[0];
    for (double p : r.module_p) {
      sum += p;
      lo = std::min(lo, p);
      hi = std::max(hi, p);
    }
    const double n = static_cast<double>(r.module_p.size()), mean = sum / n;
    double sq = 0;
    for (double p : r.module_p) sq += (p - mean) * (p - mean);
    j["hardware"]["dropout_p_modules"] = {{"mean", mean}, {"std", std::sqrt(sq / n)},
                                          {"min", lo}, {"max", hi}};
  }
  if (r.stats && r.mapping) {
    const auto& st = *r.stats;
    auto by_comp = st.energy_by_component();
    by_comp.emplace("dropout_rng", 0.0);
    double total = 0, dropout_total = 0;
    for (const auto& [k, v] : by_comp) {
      total += v;
      if (k.rfind("dropout_", 0) == 0) dropout_total += v;  // the bits and every dropout circuit (DC1-DC7)
    }
    json comp = json::object();
    for (const auto& [k, v] : by_comp) comp[k] = v;
    const double t_inf = st.sum("inference_time");
    j["energy"] = {{"total_J", total},
                   {"per_inference_J", total / inferences},
                   {"per_sample_J", total / samples},
                   {"by_component", comp},
                   {"per_inference_by_component", json::object()},
                   {"dropout_J", dropout_total},
                   {"dropout_share", total > 0 ? dropout_total / total : 0.0},
                   {"programming_J", st.energy_by_component(true)["programming"]},
                   {"per_mac_J", total / (samples * static_cast<double>(net.binary_macs_per_sample()))}};
    for (const auto& [k, v] : by_comp) j["energy"]["per_inference_by_component"][k] = v / inferences;
    // One binary MAC = 2 operations (XNOR + accumulate), the usual BNN convention.
    const double ops = 2.0 * samples * static_cast<double>(net.binary_macs_per_sample());
    j["energy"]["tops_per_W"] = total > 0 ? ops / total / 1e12 : 0.0;
    // Per inference: the mean image latency, from its first sample entering the first layer to its
    // last sample leaving the last (with pipeline_images > 1 images overlap, so this exceeds
    // inference_time / images); throughput: images over the whole simulated time.
    j["latency"] = {{"per_inference_s", st.sum("image_latency") / inferences},
                    {"per_sample_s", t_inf / samples},
                    {"inference_time_s", t_inf},
                    {"programming_s", st.sum("programming_time")},
                    {"dropout_draws_per_inference_s", st.sum("dropout_time") / inferences},
                    {"throughput_inferences_per_s", t_inf > 0 ? inferences / t_inf : 0.0},
                    {"stalls_s", json::object()}};
    // The timing model's resources (hw/timing/timing_model.h): "resource_busy.<kind>.<name>" and
    // "resource_stall.<kind>.<name>"; stalls by cause: "stall.<cause>".
    {
      std::map<std::string, std::pair<std::string, std::array<double, 2>>> res;  // name -> kind, busy, stall
      std::vector<std::string> order;
      for (const auto& s : st.stats()) {
        if (s.kind != hw::Stat::Kind::TimePs) continue;
        if (s.name.rfind("stall.", 0) == 0) {
          j["latency"]["stalls_s"][s.name.substr(6)] = s.value * 1e-12 + j["latency"]["stalls_s"].value(s.name.substr(6), 0.0);
          continue;
        }
        const bool busy = s.name.rfind("resource_busy.", 0) == 0, stall = s.name.rfind("resource_stall.", 0) == 0;
        if (!busy && !stall) continue;
        const std::string rest = s.name.substr(busy ? 14 : 15);
        const std::size_t dot = rest.find('.');
        const std::string kind = rest.substr(0, dot), name = rest.substr(dot + 1);
        if (!res.count(name)) order.push_back(name);
        auto& e = res[name];
        e.first = kind;
        e.second[busy ? 0 : 1] += s.value * 1e-12;
      }
      json list = json::array();
      for (const auto& n : order) {
        const auto& [kind, t] = res[n];
        list.push_back({{"name", n}, {"kind", kind}, {"busy_s", t[0]},
                        {"busy_share", t_inf > 0 ? std::min(1.0, t[0] / t_inf) : 0.0}, {"stall_s", t[1]}});
      }
      j["resources"] = list;
    }
    // Per-layer energy: the actions of each layer's arrays (Stat::array -> Mapping::arrays[k].layer).
    std::vector<std::map<std::pair<std::string, double>, double>> layer_counts(r.mapping->layers.size());
    for (const auto& s : st.stats()) {
      if (s.kind != hw::Stat::Kind::Action || s.array < 0 || s.name.rfind("programming", 0) == 0) continue;
      const auto k = static_cast<std::size_t>(s.array);
      layer_counts.at(static_cast<std::size_t>(r.mapping->arrays.at(k).layer))[{s.name, s.energy_each}] += s.value;
    }
    json layers = json::array();
    for (std::size_t li = 0; li < r.mapping->layers.size(); ++li) {
      const auto& lm = r.mapping->layers[li];
      const auto& l = net.layers[li];
      double e = 0;
      for (const auto& [key, n] : layer_counts[li]) e += n * key.second;
      layers.push_back({{"name", lm.name},
                        {"kind", l.kind == models::LayerKind::Conv ? "conv" : "dense"},
                        {"rows", l.in},
                        {"columns", l.out},
                        {"positions", l.positions()},
                        {"bit_planes", li == 0 && net.input_bits > 0 ? net.input_bits : 1},
                        {"arrays", lm.arrays.size()},
                        {"replicas", lm.replicas},
                        {"row_tiles", lm.row_tiles},
                        {"col_tiles", lm.col_tiles},
                        {"sensing", lm.sa_path ? "sa" : "adc"},
                        {"utilisation", lm.utilisation},
                        {"dropout_modules", mods.org == hw::Organisation::Shared ? 0 : mods.per_layer[li]},
                        {"random_bits_per_sample", r.draws_per_layer.at(li)},
                        {"array_energy_per_inference_J", e / inferences},
                        {"latency_per_sample_s", st.sum("layer_time." + lm.name) / samples}});
      if (const auto& sc = l.shortcut; sc.present())  // a residual join (docs/hardware.md eq. R1)
        layers.back()["shortcut"] = {{"input_of", net.layers[static_cast<std::size_t>(sc.from)].name},
                                     {"pool", sc.pool}, {"channels", sc.c}};
    }
    const auto area = hw::area_by_component(*r.mapping, cfg.arch, cfg.device, *r.dropout_circuits);
    double area_total = 0, area_dropout = 0;
    json area_comp = json::object();
    for (const auto& [k, v] : area) {
      area_total += v;
      if (k.rfind("dropout_", 0) == 0) area_dropout += v;
      area_comp[k] = v * 1e6;  // mm^2
    }
    j["area"] = {{"total_mm2", area_total * 1e6}, {"by_component_mm2", area_comp},
                 {"dropout_mm2", area_dropout * 1e6},
                 {"dropout_share", area_total > 0 ? area_dropout / area_total : 0.0}};
    {  // the dropout circuits' hardware counts and action counts per MC sample (eq. DC1-DC7)
      const hw::DropoutCircuitLayer t = r.dropout_circuits->total();
      j["hardware"]["dropout_circuits"] = {{"drivers", r.dropout_circuits->modules},
                                           {"mask_latches", t.latches},
                                           {"gated_wordlines", t.gates},
                                           {"gate_reads_per_sample", t.gate_reads},
                                           {"gather_reads_per_sample", t.gather_reads},
                                           {"select_reference_columns", t.select_columns},
                                           {"select_threshold_neurons", t.select_neurons}};
    }
    j["hardware"]["arrays"] = r.mapping->arrays.size();
    j["hardware"]["array_rows"] = cfg.arch.rows;
    j["hardware"]["array_cols"] = cfg.arch.cols;
    j["hardware"]["cell"] = cfg.arch.cell == hw::CellScheme::Complementary ? "complementary_2t2mtj" : "two_phase_1t1mtj";
    j["hardware"]["rows_per_read"] = hw::rows_per_read(cfg.arch);
    const auto& var = cfg.device.variation;
    j["hardware"]["read_disturb_rate"] = var.read_disturb_rate;  // configured or from `thermal` (eq. C6)
    j["hardware"]["read_disturb_state"] = var.read_disturbs_p ? "p" : "ap";
    j["hardware"]["write_error_rate"] = {{"to_p", var.write_error_to_p}, {"to_ap", var.write_error_to_ap}};
    j["hardware"]["crossbar_mtj"] = nullptr;
    if (cfg.crossbar_mtj) {  // the free layer's derived rates (eq. C1-C7)
      const hw::CrossbarFreeLayer& f = *cfg.device.thermal;
      const CrossbarMtjInfo& info = *cfg.crossbar_mtj;
      const hw::OperatingPoint op = hw::operating_point(cfg.device, cfg.arch);
      const double m2 = hw::crossbar_ms_ratio(f) * hw::crossbar_ms_ratio(f);  // eq. C1: I_c0 ~ M_s^2
      j["hardware"]["crossbar_mtj"] = {
          {"model", "Brown's Fokker-Planck equation with spin-transfer torque (eq. C1-C7)"},
          {"delta", hw::crossbar_delta(f)},
          {"temperature_K", f.temperature_K},
          {"curie_temperature_K", f.curie_temperature_K > 0 ? json(f.curie_temperature_K) : json(nullptr)},
          {"ms_ratio", hw::crossbar_ms_ratio(f)},
          {"ic0_A", {{"ap_to_p", f.ic0_ap_to_p_A * m2}, {"p_to_ap", f.ic0_p_to_ap_A * m2}}},
          {"precession_time_s", f.precession_time_s / hw::crossbar_ms_ratio(f)},
          {"read_polarity", f.read_polarity == hw::ReadPolarity::ApToP ? "ap_to_p" : "p_to_ap"},
          {"read_current_A", {{"p", op.cell_read_current_p_A}, {"ap", op.cell_read_current_ap_A}}},
          {"read_pulse_s", cfg.arch.read_pulse_s},
          {"write_current_A", cfg.device.write_current_A},
          {"write_pulse_s", cfg.device.write_pulse_s},
          {"read_disturb_probability", {{"p", info.rates.read_disturb_p}, {"ap", info.rates.read_disturb_ap}}},
          {"write_error_rate", {{"to_p", info.rates.write_error_to_p}, {"to_ap", info.rates.write_error_to_ap}}},
          {"negligible_below", CrossbarMtjInfo::kNegligible},
          {"read_disturb_source", info.read_disturb_override ? "faults.read_disturb_rate (override)" : "derived"},
          {"write_error_source", info.write_error_override ? "faults.write_error_rate (override)" : "derived"}};
    }
    {  // the read operating point (hw/operating_point.h; eq. X0, OP1-OP4)
      const hw::CrossbarPhysics ph(cfg.device.cell);
      const hw::OperatingPoint op = hw::operating_point(cfg.device, cfg.arch);
      j["hardware"]["operating_point"] = {
          {"read_voltage_V", cfg.device.cell.v_read_V},
          {"cell_voltage_V", ph.v_cell()},
          {"cell_read_current_A", {{"p", op.cell_read_current_p_A}, {"ap", op.cell_read_current_ap_A}}},
          {"access_transistor_drop_V", op.access_transistor_drop_V},
          {"read_to_write_current_ratio", op.read_to_write_current_ratio},
          {"bitline_current_max_A", op.bitline_current_max_A},
          {"ir_drop_max_V", op.ir_drop_max_V},
          {"lsb_current_A", op.lsb_current_A},
          {"sense_margin_V", op.sense_margin_V},
          {"warnings", cfg.warnings}};
      // The SA offset (Gaussian, sigma) flips a decision whose nominal current lies d from its
      // reference with probability Phi(-d / sigma); the nearest any decision lies is half a
      // popcount step, I(M) - I_ref(M).
      const double sigma = cfg.arch.sa_offset_sigma_A, margin = ph.column_current(1, 1) - ph.reference_current(1, 1);
      j["hardware"]["sa_offset_flip_probability"] = sigma > 0 ? normal_cdf(-margin / sigma) : 0.0;
    }
    j["energy"]["overrides_J"] = cfg.arch.energy_overrides_J;
    j["hardware"]["layers"] = layers;
    {  // per array: its place in the mapping and its busy time (simulated), over the whole run
      std::vector<double> busy(r.mapping->arrays.size(), 0.0);
      for (const auto& s : st.stats())
        if (s.kind == hw::Stat::Kind::TimePs && s.name == "busy_time" && s.array >= 0)
          busy.at(static_cast<std::size_t>(s.array)) += s.value * 1e-12;
      json tiles = json::array();
      for (std::size_t k = 0; k < busy.size(); ++k) {
        const auto& a = r.mapping->arrays[k];
        tiles.push_back({{"layer", r.mapping->layers[a.layer].name},
                         {"row_tile", a.row_tile},
                         {"col_tile", a.col_tile},
                         {"replica", a.replica},
                         {"busy_s", busy[k]},
                         {"busy_share", t_inf > 0 ? busy[k] / t_inf : 0.0}});
      }
      j["hardware"]["tiles"] = tiles;
    }
    j["hardware"]["dropout_bit_latency_s"] = st.param_value("bit_latency");
    j["hardware"]["dropout_drive_current_A"] = st.param_value("drive_current");
    j["hardware"]["counts"] = {{"array_reads", st.sum("array_reads")},
                               {"sa_decisions", st.sum("sa_decisions")},
                               {"adc_conversions", st.sum("adc_conversions")},
                               {"digital_adds", st.sum("digital_adds")},
                               {"digital_neurons", st.sum("digital_neurons")},
                               {"buffer_bits", st.sum("buffer_bits")},
                               {"read_disturbs", st.sum("read_disturbs")},
                               {"programming_write_pulses", st.sum("programming.mtj_writes")},
                               {"programming_verify_reads", st.sum("programming.verify_reads")},
                               {"programming_write_errors", st.sum("programming.write_errors")}};
    if (st.sum("shortcut_adds") > 0) {  // a residual network: its shortcut buffer writes and additions
      j["hardware"]["counts"]["shortcut_bits"] = st.sum("shortcut_bits");
      j["hardware"]["counts"]["shortcut_adds"] = st.sum("shortcut_adds");
    }
    {  // programming: every MTJ of every array is written (and, with write-verify, rewritten)
      std::uint64_t mtjs = 0;
      const std::uint64_t per_cell = cfg.arch.cell == hw::CellScheme::Complementary ? 2 : 1;
      for (const auto& a : r.mapping->arrays)
        mtjs += static_cast<std::uint64_t>(a.rows) * static_cast<std::uint64_t>(a.cols) * per_cell;
      const std::uint64_t pulses = count_of(st, "programming.mtj_writes");
      const std::uint64_t residual = count_of(st, "programming.write_errors");
      if (pulses + residual < mtjs)
        throw std::logic_error("programming counts disagree: " + std::to_string(pulses) + " pulses for " +
                               std::to_string(mtjs) + " MTJs");
      auto& m = j["hardware"]["measured_rates"];
      m["write_error_per_pulse"] = measured_probability(pulses + residual - mtjs, pulses);  // failed pulses
      m["write_error_residual_per_mtj"] = measured_probability(residual, mtjs);
      m["write_error_per_pulse_to_p"] = measured_probability(count_of(st, "programming.failed_pulses_to_p"),
                                                             count_of(st, "programming.pulses_to_p"));
      m["write_error_per_pulse_to_ap"] = measured_probability(count_of(st, "programming.failed_pulses_to_ap"),
                                                              count_of(st, "programming.pulses_to_ap"));
      m["read_disturb_per_exposure"] =
          measured_probability(count_of(st, "read_disturbs"), count_of(st, "read_disturb_exposures"));
    }
  } else {
    j["energy"] = nullptr;
    j["latency"] = nullptr;
    j["resources"] = nullptr;
    j["area"] = nullptr;
    j["hardware"]["arrays"] = nullptr;
  }
  j["config"] = cfg.resolved;
  j["wall_s"] = r.wall_s;
  // Everything that depends on the machine rather than on the config and seed.
  j["timing"] = {{"wall_s", r.wall_s}, {"workers", r.workers}};
  return j;
}

void write_outputs(const ExperimentConfig& cfg, const RunResult& r, const json& report) {
  fs::create_directories(cfg.out_dir);
  // predictions.csv first, so a complete report.json implies complete predictions.
  {
    AtomicWriter w((fs::path(cfg.out_dir) / "predictions.csv").string());
    auto& os = w.stream();
    const int C = r.net.classes;
    os << "split,index,label,pred";
    for (int c = 0; c < C; ++c) os << ",p" << c;
    os << ",entropy,mi\n";
    char buf[64];
    for (std::size_t d = 0; d < r.datasets.size(); ++d) {
      const auto& recs = r.metrics[d].records();
      const auto& probs = r.metrics[d].mean_probs();
      for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto& rec = recs[i];
        os << r.datasets[d].role << ',' << i << ',' << (r.datasets[d].role == "id" ? std::to_string(rec.label) : "")
           << ',' << rec.pred;
        for (int c = 0; c < C; ++c) {
          std::snprintf(buf, sizeof buf, ",%.8g", probs[i * C + c]);
          os << buf;
        }
        std::snprintf(buf, sizeof buf, ",%.8g,%.8g\n", rec.entropy, rec.mi);
        os << buf;
      }
    }
    w.commit();
  }
  if (report["hardware"].contains("layers")) {
    AtomicWriter w((fs::path(cfg.out_dir) / "layers.csv").string());
    auto& os = w.stream();
    const char* cols[] = {"name", "kind", "rows", "columns", "positions", "arrays", "row_tiles", "col_tiles",
                          "sensing", "utilisation", "dropout_modules", "random_bits_per_sample",
                          "array_energy_per_inference_J", "latency_per_sample_s"};
    for (std::size_t i = 0; i < std::size(cols); ++i) os << (i ? "," : "") << cols[i];
    os << '\n';
    for (const auto& l : report["hardware"]["layers"]) {
      for (std::size_t i = 0; i < std::size(cols); ++i) {
        const auto& v = l[cols[i]];
        os << (i ? "," : "");
        if (v.is_string()) os << v.get<std::string>();
        else os << v.dump();
      }
      os << '\n';
    }
    w.commit();
  }
  write_file_atomic((fs::path(cfg.out_dir) / "report.json").string(), report.dump(2) + "\n");
}

namespace {

std::string si(double v, const char* unit) {
  static const struct { double f; const char* p; } pre[] = {
      {1e0, ""}, {1e-3, "m"}, {1e-6, "u"}, {1e-9, "n"}, {1e-12, "p"}, {1e-15, "f"}, {1e-18, "a"}};
  char buf[64];
  if (v == 0 || !std::isfinite(v)) {
    std::snprintf(buf, sizeof buf, "%.4g %s", v, unit);
    return buf;
  }
  for (const auto& p : pre)
    if (std::fabs(v) >= p.f * 0.9999) {
      std::snprintf(buf, sizeof buf, "%.4g %s%s", v / p.f, p.p, unit);
      return buf;
    }
  std::snprintf(buf, sizeof buf, "%.4g %s", v, unit);
  return buf;
}

void row(std::ostringstream& os, const std::string& k, const std::string& v) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-34s %s\n", k.c_str(), v.c_str());
  os << buf;
}

std::string num(double v, const char* fmt = "%.4f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

std::string summary_text(const json& j) {
  std::ostringstream os;
  os << "\n== bayescim: " << j["name"].get<std::string>() << " (engine " << j["engine"].get<std::string>()
     << ", T = " << j["mc_samples"].get<int>() << ", seed " << j["seed"].get<std::uint64_t>() << ") ==\n";
  const auto& d = j["model"]["dropout"];
  row(os, "model", j["model"]["path"].get<std::string>());
  row(os, "dropout", d["kind"].get<std::string>() + (d["layout"].is_string() ? " (" + d["layout"].get<std::string>() + ")" : "") +
                         ", p = " + num(d["p"].get<double>(), "%.3g") + ", " + std::to_string(d["layers"].size()) +
                         " layer(s)");
  os << "\nQuality\n";
  const auto& id = j["metrics"]["id"];
  row(os, "ID images (" + j["data"]["id"]["dataset"].get<std::string>() + ")", std::to_string(id["images"].get<std::size_t>()));
  row(os, "accuracy", num(100.0 * id["accuracy"].get<double>(), "%.2f %%"));
  row(os, "NLL", num(id["nll"].get<double>()));
  row(os, "ECE (15 bins)", num(id["ece"].get<double>()));
  row(os, "Brier", num(id["brier"].get<double>()));
  row(os, "predictive entropy, mean (ID)", num(id["entropy_mean"].get<double>()) + " nat");
  row(os, "mutual information, mean (ID)", num(id["mi_mean"].get<double>()) + " nat");
  if (!j["metrics"]["ood"].is_null()) {
    const auto& o = j["metrics"]["ood"];
    row(os, "OOD images (" + j["data"]["ood"]["dataset"].get<std::string>() + ")", std::to_string(o["images"].get<std::size_t>()));
    row(os, "predictive entropy, mean (OOD)", num(o["entropy_mean"].get<double>()) + " nat");
    row(os, "mutual information, mean (OOD)", num(o["mi_mean"].get<double>()) + " nat");
    row(os, "OOD AUROC (entropy / MI)", num(o["auroc_entropy"].get<double>()) + " / " + num(o["auroc_mi"].get<double>()));
    row(os, "OOD AUPR, FPR@95 (entropy)", num(o["aupr_entropy"].get<double>()) + ", " + num(o["fpr95_entropy"].get<double>()));
  }
  const auto& h = j["hardware"];
  os << "\nHardware\n";
  if (!h["arrays"].is_null()) {
    row(os, "arrays (rows x cols)", std::to_string(h["arrays"].get<int>()) + " (" +
                                        std::to_string(h["array_rows"].get<int>()) + " x " +
                                        std::to_string(h["array_cols"].get<int>()) + ")");
    const auto& op = h["operating_point"];
    row(os, "V cell / V read, rows per read", si(op["cell_voltage_V"].get<double>(), "V") + " of " +
                                                     si(op["read_voltage_V"].get<double>(), "V") + ", " +
                                                     std::to_string(h["rows_per_read"].get<int>()));
    row(os, "cell current P / AP (read/write)", si(op["cell_read_current_A"]["p"].get<double>(), "A") + " / " +
                                                   si(op["cell_read_current_A"]["ap"].get<double>(), "A") + " (" +
                                                   num(op["read_to_write_current_ratio"].get<double>(), "%.2f") + ")");
    row(os, "bitline max, LSB, sense margin", si(op["bitline_current_max_A"].get<double>(), "A") + ", " +
                                                 si(op["lsb_current_A"].get<double>(), "A") + ", " +
                                                 si(op["sense_margin_V"].get<double>(), "V"));
    row(os, "IR drop, worst read", si(op["ir_drop_max_V"].get<double>(), "V"));
  }
  row(os, "stochastic units / dropout modules", std::to_string(h["stochastic_units"].get<std::size_t>()) + " / " +
                                                    std::to_string(h["dropout_modules"].get<std::size_t>()) + " (" +
                                                    h["dropout_organisation"].get<std::string>() + ")");
  row(os, "random bits drawn", std::to_string(h["random_bits"].get<std::uint64_t>()));
  if (!j["energy"].is_null())
    row(os, "dropout p (target / realised)", num(h["dropout_p_target"].get<double>(), "%.4g") + " / " +
                                                  num(h["dropout_p_realised"].get<double>(), "%.4g"));
  if (h.contains("dropout_device") && h["dropout_p_target"].get<double>() > 0) {
    const auto& dd = h["dropout_device"];
    row(os, "dropout MTJ model", dd["switching_model"].get<std::string>());
    row(os, "dropout MTJ drive",
        si(dd["drive_current_A"].get<double>(), "A") + " for " + si(dd["drive_pulse_s"].get<double>(), "s") +
            (dd["pulse_stretched"].get<bool>() ? " (pulse width sets p: voltage limit)" : "") + ", " +
            si(dd["energy_per_bit_J"]["total"].get<double>(), "J") + " per bit");
    if (dd["consecutive_bits_correlated"].get<bool>())
      row(os, "dropout MTJ reset failures",
          num(dd["reset_failure_probability"].get<double>(), "%.3g") + " per bit: consecutive bits are correlated");
  }
  if (h.contains("sa_offset_flip_probability") && h["sa_offset_flip_probability"].get<double>() > 0)
    row(os, "SA offset flips, nearest decision", num(h["sa_offset_flip_probability"].get<double>(), "%.4g"));
  {  // measured probabilities with their intervals, where something was counted
    const auto& m = h["measured_rates"];
    const std::string level = num(100.0 * m["confidence_level"].get<double>(), "%.0f%% CI");
    auto measured = [&](const char* label, const json& x) {
      if (x["trials"].get<std::uint64_t>() == 0) return;
      row(os, label, num(x["rate"].get<double>(), "%.4g") + "  [" + num(x["ci_lower"].get<double>(), "%.4g") + ", " +
                         num(x["ci_upper"].get<double>(), "%.4g") + "] " + level + ", " +
                         std::to_string(x["events"].get<std::uint64_t>()) + " / " +
                         std::to_string(x["trials"].get<std::uint64_t>()));
    };
    measured("dropout p (measured)", m["dropout_p"]);
    // Fault rates only when some occurred (a zero count of a disabled fault says nothing).
    for (const auto& [key, label] : {std::pair<const char*, const char*>{"write_error_per_pulse", "write errors per pulse"},
                                     {"write_error_residual_per_mtj", "write errors left per MTJ"},
                                     {"read_disturb_per_exposure", "read disturbs per exposed read"}})
      if (m.contains(key) && m[key]["events"].get<std::uint64_t>() > 0) measured(label, m[key]);
  }
  if (!j["energy"].is_null()) {
    const auto& e = j["energy"];
    os << "\nEnergy per inference (T samples)\n";
    const double tot = e["per_inference_J"].get<double>();
    for (const auto& [k, v] : e["per_inference_by_component"].items()) {
      const double x = v.get<double>();
      if (x == 0 && k != "dropout_rng") continue;  // e.g. read_disturb with no disturb configured
      row(os, "  " + k, si(x, "J") + num(tot > 0 ? 100.0 * x / tot : 0.0, "  (%5.1f %%)"));
    }
    row(os, "total", si(tot, "J"));
    row(os, "energy per binary MAC", si(e["per_mac_J"].get<double>(), "J"));
    row(os, "efficiency", num(e["tops_per_W"].get<double>(), "%.2f TOPS/W"));
    row(os, "weight programming (once)", si(e["programming_J"].get<double>(), "J"));
    const auto& ar = j["area"];
    std::string parts;
    for (const auto& [k, v] : ar["by_component_mm2"].items()) parts += (parts.empty() ? "" : ", ") + k + " " + num(v.get<double>(), "%.3g");
    row(os, "area (mm^2)", num(ar["total_mm2"].get<double>(), "%.4g") + " (" + parts + ")");
    os << "\nPer layer (energy of its arrays per inference; latency per MC sample)\n";
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-10s %-5s %7s %7s %6s %7s %-5s %9s %11s %12s %11s\n", "layer", "kind", "rows",
                  "cols", "pos", "arrays", "sense", "dropmods", "bits/sample", "energy", "latency");
    os << buf;
    for (const auto& l : h["layers"]) {
      std::snprintf(buf, sizeof buf, "  %-10s %-5s %7d %7d %6d %7zu %-5s %9zu %11zu %12s %11s\n",
                    l["name"].get<std::string>().c_str(), l["kind"].get<std::string>().c_str(), l["rows"].get<int>(),
                    l["columns"].get<int>(), l["positions"].get<int>(), l["arrays"].get<std::size_t>(),
                    l["sensing"].get<std::string>().c_str(), l["dropout_modules"].get<std::size_t>(),
                    l["random_bits_per_sample"].get<std::size_t>(),
                    si(l["array_energy_per_inference_J"].get<double>(), "J").c_str(),
                    si(l["latency_per_sample_s"].get<double>(), "s").c_str());
      os << buf;
    }
    const auto& l = j["latency"];
    os << "\nLatency\n";
    row(os, "per inference", si(l["per_inference_s"].get<double>(), "s"));
    row(os, "per MC sample", si(l["per_sample_s"].get<double>(), "s"));
    row(os, "throughput", num(l["throughput_inferences_per_s"].get<double>(), "%.4g inferences/s"));
    // The top stalls: the resources that waited longest, and for what.
    std::vector<std::pair<double, std::string>> stalls;
    for (const auto& r : j["resources"]) stalls.push_back({r["stall_s"].get<double>(), r["name"].get<std::string>()});
    std::sort(stalls.begin(), stalls.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    double n = j["data"]["id"]["images"].get<double>();  // inferences
    if (j["data"].contains("ood")) n += j["data"]["ood"]["images"].get<double>();
    n = std::max(n, 1.0);
    std::string causes;
    for (const auto& [c, t] : l["stalls_s"].items())
      if (t.get<double>() > 0) causes += (causes.empty() ? "" : ", ") + c + " " + si(t.get<double>() / n, "s");
    row(os, "stalls per inference", causes.empty() ? "none" : causes);
    for (std::size_t i = 0; i < std::min<std::size_t>(3, stalls.size()) && stalls[i].first > 0; ++i)
      row(os, "  stalled: " + stalls[i].second, si(stalls[i].first / n, "s") + " per inference");
  }
  row(os, "wall time", num(j["wall_s"].get<double>(), "%.1f s"));
  return os.str();
}

}  // namespace bayescim::sim
