#include <doctest/doctest.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "attest/tsm.hpp"
#include "support/support.hpp"

using namespace confer;
using namespace confer::attest;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool dir_is_empty(const std::string& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) && !ec;
}

Bytes sample_report_data() {
  Bytes data(64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(0xa0 ^ i);
  return data;
}

// Plays the kernel's part on a plain directory: waits for a new "confer-*" entry whose
// inblob holds 64 bytes, then writes the attributes configfs would show, outblob last
// (each by rename, so the reader never sees a partial file). It reports through fields
// read after join(), never with assertions from its own thread.
class FakeKernel {
 public:
  struct Options {
    std::string generation = "1";
    bool outblob = true;
    bool auxblob = true;
  };

  FakeKernel(std::string root, Options options) : root_(std::move(root)), options_(std::move(options)) {
    thread_ = std::thread([this] { run(); });
  }
  ~FakeKernel() { join(); }

  void join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Valid after join().
  std::string entry;
  Bytes inblob;
  unsigned entry_mode = 0;
  std::string problem;

  static Bytes outblob_for(ByteView in) {
    Bytes out{'R', 'E', 'P', 'O', 'R', 'T', ':'};
    out.insert(out.end(), in.begin(), in.end());
    return out;
  }
  static Bytes auxblob_bytes() { return Bytes{0x00, 0x01, 0xfe, 0xff, 'c', 'e', 'r', 't'}; }

 private:
  void run() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.rfind("confer-", 0) != 0) continue;
        std::string in_path = it->path().string() + "/inblob";
        std::error_code size_ec;
        if (fs::file_size(in_path, size_ec) != 64 || size_ec) continue;
        respond(it->path().string(), in_path);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    problem = "no confer-* entry with a 64-byte inblob appeared";
  }

  void respond(const std::string& dir, const std::string& in_path) {
    entry = dir;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) entry_mode = st.st_mode & 07777;
    auto in = read_file(in_path);
    if (!in) {
      problem = in.error().message;
      return;
    }
    inblob = *in;
    auto put = [&](const std::string& name, ByteView bytes) {
      auto w = write_file_atomic(dir + "/" + name, bytes);
      if (!w && problem.empty()) problem = w.error().message;
    };
    put("generation", as_bytes(options_.generation + "\n"));
    put("provider", as_bytes("sev_guest\n"));
    if (options_.auxblob) put("auxblob", auxblob_bytes());
    if (options_.outblob) put("outblob", outblob_for(inblob));
  }

  std::string root_;
  Options options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("configfs-tsm: a report through a mimic of configfs, and the entry is removed") {
  test::TempDir root;
  Bytes data = sample_report_data();

  SUBCASE("with an auxblob") {
    FakeKernel kernel(root.path(), {});
    auto report = tsm_report(root.path(), data);
    kernel.join();
    REQUIRE_MESSAGE(report.ok(), report.error().message);
    CHECK_MESSAGE(kernel.problem.empty(), kernel.problem);
    CHECK(kernel.inblob == data);  // the report data went to inblob unchanged
    CHECK(report->outblob == FakeKernel::outblob_for(data));
    CHECK(report->provider == "sev_guest");  // trailing newline removed
    CHECK(report->auxblob == FakeKernel::auxblob_bytes());
    CHECK(report->generation == 1);

    std::string name = fs::path(kernel.entry).filename().string();
    CHECK(name.size() == std::string("confer-").size() + 16);
    CHECK(name.find_first_not_of("0123456789abcdef", 7) == std::string::npos);
    CHECK(kernel.entry_mode == 0700);
    CHECK_FALSE(fs::exists(kernel.entry));
    CHECK(dir_is_empty(root.path()));
  }

  SUBCASE("without an auxblob") {
    FakeKernel kernel(root.path(), {.generation = "1", .outblob = true, .auxblob = false});
    auto report = tsm_report(root.path(), data);
    kernel.join();
    REQUIRE_MESSAGE(report.ok(), report.error().message);
    CHECK(report->auxblob.empty());
    CHECK(report->outblob == FakeKernel::outblob_for(data));
    CHECK(dir_is_empty(root.path()));
  }

  SUBCASE("two reports in a row use fresh entries") {
    Bytes other = data;
    other[0] ^= 0xff;
    std::string first_entry;
    {
      FakeKernel kernel(root.path(), {});
      auto report = tsm_report(root.path(), data);
      kernel.join();
      REQUIRE_MESSAGE(report.ok(), report.error().message);
      first_entry = kernel.entry;
    }
    FakeKernel kernel(root.path(), {});
    auto report = tsm_report(root.path(), other);
    kernel.join();
    REQUIRE_MESSAGE(report.ok(), report.error().message);
    CHECK(report->outblob == FakeKernel::outblob_for(other));
    CHECK(kernel.entry != first_entry);
    CHECK(dir_is_empty(root.path()));
  }
}

TEST_CASE("configfs-tsm: a missing root is an error naming the path") {
  test::TempDir dir;
  std::string root = dir.path() + "/no-such-tsm/report";
  auto report = tsm_report(root, sample_report_data());
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == Errc::io);
  CHECK_MESSAGE(contains(report.error().message, root), report.error().message);
  CHECK_MESSAGE(contains(report.error().message, "No such file or directory"), report.error().message);
}

TEST_CASE("configfs-tsm: report data must be exactly 64 bytes") {
  test::TempDir root;
  for (size_t size : {size_t(0), size_t(63), size_t(65)}) {
    CAPTURE(size);
    Bytes data(size, 0x42);
    auto report = tsm_report(root.path(), data);
    REQUIRE_FALSE(report.ok());
    CHECK(report.error().code == Errc::usage);
    CHECK_MESSAGE(contains(report.error().message, "64"), report.error().message);
    CHECK(dir_is_empty(root.path()));  // refused before any entry was made
  }
}

TEST_CASE("configfs-tsm: an outblob that never appears times out and the entry is still removed") {
  test::TempDir root;
  // The fake kernel writes provider, generation and auxblob but never outblob.
  FakeKernel kernel(root.path(), {.generation = "1", .outblob = false, .auxblob = true});
  auto started = std::chrono::steady_clock::now();
  auto report = tsm_report(root.path(), sample_report_data());
  auto waited = std::chrono::steady_clock::now() - started;
  kernel.join();
  REQUIRE_FALSE(report.ok());
  CHECK_MESSAGE(kernel.problem.empty(), kernel.problem);
  CHECK(report.error().code == Errc::io);
  CHECK_MESSAGE(contains(report.error().message, "outblob did not appear under " + kernel.entry + " within 2 s"),
                report.error().message);
  CHECK(waited >= std::chrono::milliseconds(1900));
  CHECK_FALSE(fs::exists(kernel.entry));
  CHECK(dir_is_empty(root.path()));
}

TEST_CASE("configfs-tsm: a generation that moved by more than our write is refused") {
  test::TempDir root;
  FakeKernel kernel(root.path(), {.generation = "3", .outblob = true, .auxblob = true});
  auto report = tsm_report(root.path(), sample_report_data());
  kernel.join();
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == Errc::attestation);
  const std::string& msg = report.error().message;
  CHECK_MESSAGE(contains(msg, "is 3"), msg);
  CHECK_MESSAGE(contains(msg, "expected 1"), msg);
  CHECK_MESSAGE(contains(msg, kernel.entry), msg);
  CHECK_FALSE(fs::exists(kernel.entry));
  CHECK(dir_is_empty(root.path()));
}

TEST_CASE("configfs-tsm: a generation that is not a number is a parse error") {
  test::TempDir root;
  FakeKernel kernel(root.path(), {.generation = "one", .outblob = true, .auxblob = false});
  auto report = tsm_report(root.path(), sample_report_data());
  kernel.join();
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == Errc::parse);
  CHECK_MESSAGE(contains(report.error().message, "'one'"), report.error().message);
  CHECK(dir_is_empty(root.path()));
}
