#include "sim/stats_ci.h"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/normal.hpp>
#include <stdexcept>
#include <string>

namespace bayescim::sim {

Interval clopper_pearson(std::uint64_t events, std::uint64_t trials, double level) {
  if (!(level > 0 && level < 1)) throw std::invalid_argument("confidence level must be in (0, 1), got " + std::to_string(level));
  if (events > trials)
    throw std::invalid_argument("clopper_pearson: " + std::to_string(events) + " events in " + std::to_string(trials) +
                                " trials");
  if (trials == 0) return {0.0, 1.0};
  using boost::math::binomial_distribution;
  const double tail = (1.0 - level) / 2;
  const auto n = static_cast<double>(trials), k = static_cast<double>(events);
  Interval ci;
  ci.lower = binomial_distribution<>::find_lower_bound_on_p(n, k, tail, binomial_distribution<>::clopper_pearson_exact_interval);
  ci.upper = binomial_distribution<>::find_upper_bound_on_p(n, k, tail, binomial_distribution<>::clopper_pearson_exact_interval);
  return ci;
}

double normal_cdf(double z) { return boost::math::cdf(boost::math::normal_distribution<>(), z); }

double normal_quantile(double p) {
  if (!(p > 0 && p < 1)) throw std::invalid_argument("normal_quantile: p must be in (0, 1), got " + std::to_string(p));
  return boost::math::quantile(boost::math::normal_distribution<>(), p);
}

}  // namespace bayescim::sim
