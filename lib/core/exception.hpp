// For the few places that must catch everything (the top of main, a thread's body):
// what the exception in flight says, without a catch clause per type.
#pragma once

#include <exception>
#include <string>

namespace confer {

// Call only inside a catch block: the in-flight exception's what(), or a fixed text for
// one that is not a std::exception.
inline std::string current_exception_text() noexcept {
  try {
    try {
      throw;
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "an unknown exception";
    }
  } catch (...) {
    return {};  // copying the text itself failed (out of memory)
  }
}

}  // namespace confer
