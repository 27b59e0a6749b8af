// doctest's main, plus the run-time skip marker (support/skip.hpp) once the run is over.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/skip.hpp"

int main(int argc, char** argv) {
  // The tests and every binary they start keep their config, history and cache in one
  // fresh folder, never in the user's: a test that creates an account must not make
  // another test's chat ask for a key, nor touch the real history.
  std::string home = std::filesystem::temp_directory_path() / "confer-tests-XXXXXX";
  if (::mkdtemp(home.data()) == nullptr) return 1;
  for (const char* var : {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"})
    ::setenv(var, (home + "/" + var).c_str(), 1);
  doctest::Context context(argc, argv);
  int rc = context.run();
  std::error_code ec;
  std::filesystem::remove_all(home, ec);
  if (context.shouldExit()) return rc;
  confer::test::report_skips(rc);
  return rc;
}
