// Confidence intervals for the probabilities a run measures (dropout bits drawn, write errors,
// read disturbs), on Boost.Math. Plain C++: no SystemC, no JSON.
#pragma once
#include <cstdint>

namespace bayescim::sim {

// The confidence level of every interval in report.json.
constexpr double kConfidenceLevel = 0.95;

struct Interval {
  double lower = 0, upper = 1;
};

// Clopper-Pearson ("exact") two-sided interval for a binomial probability from `events` in
// `trials` independent Bernoulli trials, at confidence `level` in (0, 1): the set of p whose
// two one-sided tail tests at (1 - level) / 2 do not reject. Coverage is at least `level` for
// every p. For trials = 0 it is [0, 1]. Throws std::invalid_argument if events > trials or the
// level is outside (0, 1).
Interval clopper_pearson(std::uint64_t events, std::uint64_t trials, double level = kConfidenceLevel);

// Standard normal distribution: Phi(z), and its inverse for p in (0, 1) (std::invalid_argument
// otherwise).
double normal_cdf(double z);
double normal_quantile(double p);

}  // namespace bayescim::sim
