// Helpers for tests of error messages.
#pragma once
#include <gtest/gtest.h>

#include <exception>
#include <string>

namespace bayescim::testing {

// Runs f, which must throw an exception of type E, and returns its message.
template <typename E, typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception, nothing was thrown";
  return {};
}

inline ::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not found in:\n  " << text;
}

}  // namespace bayescim::testing
