// The switching table's file (CSV with '#' provenance lines; docs/hardware.md "The stochastic MTJ
// from device physics"): written by `bayescim device FILE --table OUT`, read at run start.
//
//   # <provenance: device file, solver version, samples and seed, command> (one line each)
//   temperature_K,pulse_s,current_A,switched,samples,p_switch
//   300,1e-09,0,0,1000,0
//
// One row per point of a full temperature x pulse x current grid, every point with the same
// number of trials; p_switch = switched / samples.
#pragma once
#include <string>

#include "hw/physics/switching_table.h"

namespace bayescim::sim {

// Reads and finalises a table. Throws InputError naming `where` (the key that named the file)
// and the file's line.
hw::SwitchingTable read_switching_table(const std::string& path, const std::string& where);

// The CSV text of a table: its provenance (each line prefixed with "# ") then its raw points.
// `switched` holds the switched counts in the order of p_raw.
std::string switching_table_csv(const hw::SwitchingTable& t, const std::vector<int>& switched);

}  // namespace bayescim::sim
