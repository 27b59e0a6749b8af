// Skipping a test at run time. Doctest 2.4.9 has none, so a test that cannot run here
// (the vectors are absent) calls skip() and returns. Once the run is over, main() prints
// "CONFER-SKIP: <reason>" if nothing failed, and ctest, which runs each test case on its
// own with SKIP_REGULAR_EXPRESSION "CONFER-SKIP:", reports that case as skipped rather
// than passed. A run that also failed prints no marker, so a skip never hides a failure.
#pragma once

#include <string>

namespace confer::test {

inline constexpr const char* kSkipMarker = "CONFER-SKIP:";

// Notes that the running test case is skipped (and says so in its output).
void skip(const std::string& reason);
// For main(): prints the marker line for each noted reason when `exit_code` is 0.
void report_skips(int exit_code);

}  // namespace confer::test
