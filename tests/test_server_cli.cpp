// confer-server's command line, and both binaries' process hardening.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/support.hpp"

using namespace confer;

namespace {

test::Run run_server(const std::vector<std::string>& args) {
  test::SpawnOptions options;
  options.capture = true;
  test::Process p(CONFER_SERVER_BIN, args, options);
  auto done = p.wait_for(std::chrono::seconds(60));
  REQUIRE_MESSAGE(done.has_value(), "confer-server did not exit");
  return *done;
}

// "Max core file size  0  0  bytes" in /proc/PID/limits.
std::string core_limit(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Max core file size", 0) == 0) return line;
  return {};
}

bool core_limit_is_zero(const std::string& line) {
  std::istringstream words(line.substr(std::string("Max core file size").size()));
  std::string soft, hard;
  words >> soft >> hard;
  return soft == "0" && hard == "0";
}

}  // namespace

TEST_CASE("confer-server: a manifest that is not JSON is a clear error and exit 1, not a signal") {
  test::TempDir dir;
  Bytes binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<uint8_t>((i * 131) ^ 0xA5));
  std::string manifest = dir.file("manifest.bin", binary);
  std::string bundle = dir.file("bundle.json", std::string("{}"));
  auto r = run_server({"--upstream", "demo", "--attestation", "dev", "--listen", "127.0.0.1:0", "--manifest", manifest,
                       "--manifest-bundle", bundle});
  MESSAGE(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("confer-server: error: --manifest " + manifest + ": the release manifest: expected JSON") !=
        std::string::npos);
  // The offending bytes are not echoed back.
  CHECK(r.err.find("last read") == std::string::npos);

  // Negative twins: a valid manifest with a bundle that is not JSON is refused by name;
  // one without the other is a usage error.
  std::string good = dir.file("manifest.json", std::string(R"({"imageVersion":"1"})"));
  std::string bad_bundle = dir.file("bundle.bin", binary);
  auto b = run_server({"--upstream", "demo", "--attestation", "dev", "--listen", "127.0.0.1:0", "--manifest", good,
                       "--manifest-bundle", bad_bundle});
  CHECK(b.exit_code == 1);
  CHECK(b.err.find("--manifest-bundle " + bad_bundle + ": the Sigstore bundle: expected JSON") != std::string::npos);
  auto alone = run_server({"--upstream", "demo", "--listen", "127.0.0.1:0", "--manifest", good});
  CHECK(alone.exit_code == 2);
  CHECK(alone.err.find("--manifest and --manifest-bundle go together") != std::string::npos);
  auto port = run_server({"--upstream", "demo", "--listen", "127.0.0.1:99999"});
  CHECK(port.exit_code == 2);
  CHECK(port.err.find("expected a port number (0-65535), saw '99999'") != std::string::npos);
}

TEST_CASE("confer-server and confer run with no core file allowed") {
  test::TempDir dir;
  test::Process server(CONFER_SERVER_BIN, {"--upstream", "demo", "--attestation", "dev", "--listen", "127.0.0.1:0",
                                           "--dev-root", dir.path() + "/root.pem", "--port-file",
                                           dir.path() + "/port"});
  test::wait_for_file(dir.path() + "/port");
  std::string line = core_limit(server.pid());
  MESSAGE("confer-server: ", line);
  CHECK(core_limit_is_zero(line));

  // confer, held waiting on a listener that never answers the WebSocket upgrade.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::string url = "ws://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  test::SpawnOptions quiet;
  quiet.capture = true;
  quiet.stdin_text = "";
  test::Process client(CONFER_BIN, {"chat", "--server", url, "--connect-timeout", "5", "-q", "hello"}, quiet);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(client.running());
  std::string client_line = core_limit(client.pid());
  MESSAGE("confer: ", client_line);
  CHECK(core_limit_is_zero(client_line));
  // The runner's own limit, for comparison (a machine may already forbid core files).
  MESSAGE("runner: ", core_limit(static_cast<int>(::getpid())));
  client.stop();
  ::close(fd);
}
