#pragma once

#include <stdexcept>

namespace bayescim::sim {

// Bad user input (a file, a config, a dataset): the message says what was expected and where.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace bayescim::sim
