#include <doctest/doctest.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/bytes.hpp"
#include "core/hardening.hpp"
#include "core/time.hpp"
#include "support/support.hpp"

using namespace confer;

TEST_CASE("hex round trip and errors") {
  Bytes b{0x00, 0x7f, 0xab, 0xff};
  CHECK(to_hex(b) == "007fabff");
  CHECK(*from_hex("007FabFF") == b);
  auto odd = from_hex("abc");
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.error().message.find("even number") != std::string::npos);
  auto bad = from_hex("zz");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("saw 'z'") != std::string::npos);
}

TEST_CASE("base64 round trip, whitespace, and non-canonical input") {
  for (size_t n = 0; n < 10; ++n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 37 + 1);
    auto back = from_base64(to_base64(b));
    REQUIRE(back.ok());
    CHECK(*back == b);
  }
  CHECK(*from_base64("aGVs\nbG8=") == Bytes{'h', 'e', 'l', 'l', 'o'});
  CHECK_FALSE(from_base64("aGVsbG8=x").ok());   // data after padding
  CHECK_FALSE(from_base64("aGVsbG9=").ok());    // non-zero trailing bits
  CHECK_FALSE(from_base64("a").ok());           // a lone sextet
  CHECK_FALSE(from_base64("aGV*").ok());
}

TEST_CASE("RFC 3339 parsing") {
  CHECK(*parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(*parse_rfc3339("2025-06-01T00:00:00Z") == 1748736000);
  CHECK(*parse_rfc3339("2025-06-01T02:00:00+02:00") == 1748736000);
  CHECK(*parse_rfc3339("2025-06-01T00:00:00.123Z") == 1748736000);
  CHECK(*parse_rfc3339("2024-02-29T12:00:00Z") == 1709208000);
  CHECK(format_rfc3339(1748736000) == "2025-06-01T00:00:00Z");
  for (const char* bad : {"2025-06-01", "2025-06-01T00:00:00", "2025-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                          "2025-06-01T24:00:00Z", "2025-06-01T00:00:00Zjunk", "yesterday"}) {
    auto r = parse_rfc3339(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.error().message.find("RFC 3339") != std::string::npos);
  }
}

TEST_CASE("atomic writes leave no partial or temporary files") {
  test::TempDir dir;
  std::string p = dir.path() + "/f";
  REQUIRE(write_file_atomic(p, as_bytes("one")).ok());
  REQUIRE(write_file_atomic(p, as_bytes("two")).ok());
  CHECK(*read_file(p) == Bytes{'t', 'w', 'o'});
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
  CHECK_FALSE(write_file_atomic(dir.path() + "/missing/f", as_bytes("x")).ok());
  CHECK_FALSE(read_file(dir.path() + "/nope").ok());
  auto d = read_file(dir.path());
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message.find("directory") != std::string::npos);
}

TEST_CASE("harden_process: no core file and not dumpable, in a child so the test runner is untouched") {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!confer::harden_process()) ::_exit(10);
    rlimit core{};
    if (::getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) ::_exit(11);
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) ::_exit(12);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The runner itself is still dumpable: the check above is not vacuous.
  CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
}
