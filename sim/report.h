// Reports of a run: report.json (the output contract in README.md), predictions.csv and the
// console summary. All files are written atomically.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "sim/config.h"
#include "sim/runner.h"

namespace bayescim::sim {

nlohmann::json build_report(const ExperimentConfig& cfg, const RunResult& r);
// Writes report.json and predictions.csv into cfg.out_dir.
void write_outputs(const ExperimentConfig& cfg, const RunResult& r, const nlohmann::json& report);
// The readable summary table.
std::string summary_text(const nlohmann::json& report);

}  // namespace bayescim::sim
