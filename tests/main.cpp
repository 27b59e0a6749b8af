// doctest's main, plus the run-time skip marker (support/skip.hpp) once the run is over.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/skip.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit()) return rc;
  confer::test::report_skips(rc);
  return rc;
}
