#include "skip.hpp"

#include <cstdio>
#include <mutex>
#include <vector>

#include <doctest/doctest.h>

namespace confer::test {

namespace {

std::mutex skip_mu;
std::vector<std::string>& skipped() {
  static std::vector<std::string> reasons;
  return reasons;
}

}  // namespace

void skip(const std::string& reason) {
  MESSAGE("skipped: " << reason);
  std::lock_guard<std::mutex> lock(skip_mu);
  skipped().push_back(reason);
}

void report_skips(int exit_code) {
  std::lock_guard<std::mutex> lock(skip_mu);
  if (exit_code != 0) return;
  for (const auto& reason : skipped()) std::printf("%s %s\n", kSkipMarker, reason.c_str());
  std::fflush(stdout);
}

}  // namespace confer::test
