#include "sim/switching_table_io.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "sim/errors.h"

namespace bayescim::sim {

namespace {

constexpr const char* kHeader = "temperature_K,pulse_s,current_A,switched,samples,p_switch";

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  return out;
}

}  // namespace

hw::SwitchingTable read_switching_table(const std::string& path, const std::string& where) {
  auto fail = [&](int line, const std::string& what) -> void {
    throw InputError(where + ": switching table " + path + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
  };
  std::ifstream in(path);
  if (!in) fail(0, "cannot be read (make it with `bayescim device DEVICE.yaml --table " + path + "`)");
  hw::SwitchingTable t;
  std::string line;
  int no = 0;
  bool header = false;
  std::set<double> temps, pulses, currents;
  std::map<std::tuple<double, double, double>, std::pair<int, int>> points;
  while (std::getline(in, line)) {
    ++no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '#') {
      t.provenance += line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1) + "\n";
      continue;
    }
    if (!header) {
      if (line != kHeader) fail(no, std::string("expected the header '") + kHeader + "'");
      header = true;
      continue;
    }
    const auto cells = split_csv(line);
    if (cells.size() != 6) fail(no, "expected 6 comma-separated values");
    double v[6];
    for (int i = 0; i < 6; ++i) {
      char* end = nullptr;
      v[i] = std::strtod(cells[i].c_str(), &end);
      if (cells[i].empty() || *end != '\0' || !std::isfinite(v[i])) fail(no, "'" + cells[i] + "' is not a number");
    }
    const int switched = static_cast<int>(v[3]), samples = static_cast<int>(v[4]);
    if (v[3] != switched || v[4] != samples || samples <= 0 || switched < 0 || switched > samples)
      fail(no, "switched and samples must be integers, 0 <= switched <= samples, samples > 0");
    if (t.samples == 0) t.samples = samples;
    if (samples != t.samples) fail(no, "every point must have the same samples (" + std::to_string(t.samples) + ")");
    if (std::abs(v[5] - static_cast<double>(switched) / samples) > 1e-6) fail(no, "p_switch is not switched / samples");
    if (!points.emplace(std::make_tuple(v[0], v[1], v[2]), std::make_pair(switched, samples)).second)
      fail(no, "a point given twice");
    temps.insert(v[0]);
    pulses.insert(v[1]);
    currents.insert(v[2]);
  }
  if (!header) fail(0, "is empty (no header)");
  t.temperatures_K.assign(temps.begin(), temps.end());
  t.pulses_s.assign(pulses.begin(), pulses.end());
  t.currents_A.assign(currents.begin(), currents.end());
  if (points.size() != t.temperatures_K.size() * t.pulses_s.size() * t.currents_A.size())
    fail(0, "is not a full temperature x pulse x current grid");
  for (double T : t.temperatures_K)
    for (double tp : t.pulses_s)
      for (double i : t.currents_A) {
        const auto& pt = points.at(std::make_tuple(T, tp, i));
        t.p_raw.push_back(static_cast<double>(pt.first) / pt.second);
      }
  try {
    t.finalise();
  } catch (const std::invalid_argument& e) {
    fail(0, e.what());
  }
  return t;
}

std::string switching_table_csv(const hw::SwitchingTable& t, const std::vector<int>& switched) {
  std::ostringstream os;
  std::istringstream prov(t.provenance);
  for (std::string l; std::getline(prov, l);) os << "# " << l << "\n";
  os << kHeader << "\n";
  const std::size_t np = t.pulses_s.size(), ni = t.currents_A.size();
  char buf[200];
  for (std::size_t it = 0; it < t.temperatures_K.size(); ++it)
    for (std::size_t ip = 0; ip < np; ++ip)
      for (std::size_t ii = 0; ii < ni; ++ii) {
        const std::size_t k = (it * np + ip) * ni + ii;
        std::snprintf(buf, sizeof buf, "%.17g,%.17g,%.17g,%d,%d,%.17g\n", t.temperatures_K[it], t.pulses_s[ip],
                      t.currents_A[ii], switched[k], t.samples, static_cast<double>(switched[k]) / t.samples);
        os << buf;
      }
  return os.str();
}

}  // namespace bayescim::sim
