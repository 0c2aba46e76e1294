#include "hw/physics/switching_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bayescim::hw {

namespace {

bool ascending(const std::vector<double>& v) {
  for (std::size_t i = 1; i < v.size(); ++i)
    if (!(v[i] > v[i - 1])) return false;
  return !v.empty();
}

// Pool adjacent violators: the non-decreasing sequence nearest to y in least squares.
void pava(std::vector<double>& y) {
  std::vector<double> val;
  std::vector<std::size_t> len;
  for (double v : y) {
    val.push_back(v);
    len.push_back(1);
    while (val.size() > 1 && val[val.size() - 2] > val.back()) {
      const std::size_t n = len.back() + len[len.size() - 2];
      const double m = (val.back() * len.back() + val[val.size() - 2] * len[len.size() - 2]) / n;
      val.pop_back();
      len.pop_back();
      val.back() = m;
      len.back() = n;
    }
  }
  std::size_t k = 0;
  for (std::size_t b = 0; b < val.size(); ++b)
    for (std::size_t j = 0; j < len[b]; ++j) y[k++] = val[b];
}

// The bracketing index i with x[i] <= v <= x[i+1] (i = size - 2 at the top end).
std::size_t bracket(const std::vector<double>& x, double v) {
  const auto it = std::upper_bound(x.begin(), x.end(), v);
  const std::size_t i = static_cast<std::size_t>(it - x.begin());
  return i == 0 ? 0 : std::min(i - 1, x.size() - 2);
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

void SwitchingTable::finalise() {
  if (!ascending(temperatures_K) || !ascending(pulses_s) || !ascending(currents_A))
    throw std::invalid_argument("switching table: temperatures, pulses and currents must be strictly ascending");
  if (pulses_s.size() < 2 || currents_A.size() < 2)
    throw std::invalid_argument("switching table: needs at least 2 pulses and 2 currents");
  if (currents_A.front() < 0.0 || pulses_s.front() <= 0.0)
    throw std::invalid_argument("switching table: currents must be >= 0 and pulses > 0");
  const std::size_t nt = temperatures_K.size(), np = pulses_s.size(), ni = currents_A.size();
  if (p_raw.size() != nt * np * ni)
    throw std::invalid_argument("switching table: " + std::to_string(p_raw.size()) + " points for a " +
                                std::to_string(nt) + " x " + std::to_string(np) + " x " + std::to_string(ni) + " grid");
  for (double v : p_raw)
    if (!(v >= 0.0 && v <= 1.0)) throw std::invalid_argument("switching table: p outside [0, 1]");
  p_ = p_raw;
  for (std::size_t it = 0; it < nt; ++it) {
    for (std::size_t ip = 0; ip < np; ++ip) {  // T1: non-decreasing in I
      std::vector<double> row(p_.begin() + static_cast<std::ptrdiff_t>((it * np + ip) * ni),
                              p_.begin() + static_cast<std::ptrdiff_t>((it * np + ip + 1) * ni));
      pava(row);
      std::copy(row.begin(), row.end(), p_.begin() + static_cast<std::ptrdiff_t>((it * np + ip) * ni));
    }
    for (std::size_t ip = 1; ip < np; ++ip)  // then non-decreasing in t_p
      for (std::size_t ii = 0; ii < ni; ++ii) {
        double& v = p_[(it * np + ip) * ni + ii];
        v = std::max(v, p_[(it * np + ip - 1) * ni + ii]);
      }
  }
}

double SwitchingTable::p_at_temperature_row(std::size_t it, double current_A, double pulse_s) const {
  const double i = std::max(current_A, currents_A.front());
  const std::size_t ii = bracket(currents_A, i), ip = bracket(pulses_s, pulse_s);
  const double wi = (i - currents_A[ii]) / (currents_A[ii + 1] - currents_A[ii]);
  const double wp = std::log(pulse_s / pulses_s[ip]) / std::log(pulses_s[ip + 1] / pulses_s[ip]);
  const double lo = at(it, ip, ii) + wi * (at(it, ip, ii + 1) - at(it, ip, ii));
  const double hi = at(it, ip + 1, ii) + wi * (at(it, ip + 1, ii + 1) - at(it, ip + 1, ii));
  return std::clamp(lo + wp * (hi - lo), 0.0, 1.0);
}

double SwitchingTable::p_at(double current_A, double pulse_s, double temperature_K) const {
  if (p_.empty()) throw std::logic_error("switching table used before finalise()");
  const double rel = 1e-9;
  if (current_A > currents_A.back() * (1 + rel))
    throw std::domain_error("current " + num(current_A * 1e6) + " uA is above the switching table's largest, " +
                            num(currents_A.back() * 1e6) + " uA");
  if (pulse_s < pulses_s.front() * (1 - rel) || pulse_s > pulses_s.back() * (1 + rel))
    throw std::domain_error("pulse " + num(pulse_s * 1e9) + " ns is outside the switching table's pulses [" +
                            num(pulses_s.front() * 1e9) + ", " + num(pulses_s.back() * 1e9) + "] ns");
  if (temperature_K < temperatures_K.front() * (1 - rel) || temperature_K > temperatures_K.back() * (1 + rel))
    throw std::domain_error("temperature " + num(temperature_K) + " K is outside the switching table's [" +
                            num(temperatures_K.front()) + ", " + num(temperatures_K.back()) + "] K");
  const double i = std::min(current_A, currents_A.back());
  const double t = std::clamp(pulse_s, pulses_s.front(), pulses_s.back());
  if (temperatures_K.size() == 1) return p_at_temperature_row(0, i, t);
  const double temp = std::clamp(temperature_K, temperatures_K.front(), temperatures_K.back());
  const std::size_t it = bracket(temperatures_K, temp);
  const double w = (temp - temperatures_K[it]) / (temperatures_K[it + 1] - temperatures_K[it]);
  const double a = p_at_temperature_row(it, i, t), b = p_at_temperature_row(it + 1, i, t);
  return a + w * (b - a);
}

}  // namespace bayescim::hw
