// confer-server's command line, and both binaries' process hardening.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include <thread>

#include "support/e2e.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

test::Run run_server(const std::vector<std::string>& args, std::chrono::seconds limit = std::chrono::seconds(60)) {
  test::SpawnOptions options;
  options.capture = true;
  test::Process p(CONFER_SERVER_BIN, args, options);
  auto done = p.wait_for(limit);
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

TEST_CASE("confer-server --attestation dev prints a chat line that, pasted into a shell, gets a verified answer") {
  test::Upstream upstream;
  test::TempDir dir;
  std::string log = dir.path() + "/server.log", port_file = dir.path() + "/port";
  // No --dev-root: the root goes under $XDG_RUNTIME_DIR, and the line says where.
  std::string command = fmt::format("exec '{}' --attestation dev --listen 127.0.0.1:0 --upstream '{}' --port-file '{}' "
                                    "2> '{}'",
                                    CONFER_SERVER_BIN, upstream.url, port_file, log);
  test::SpawnOptions o;
  o.env = {{"XDG_RUNTIME_DIR", dir.path() + "/run"}};
  REQUIRE(::mkdir((dir.path() + "/run").c_str(), 0700) == 0);
  test::Process server("/bin/sh", {"-c", command}, o);
  std::string line;
  for (int i = 0; i < 600 && line.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto text = read_file(log);
    if (!text) continue;
    std::string s(text->begin(), text->end());
    size_t at = s.find("\n  confer chat ");
    if (at != std::string::npos && s.find('\n', at + 1) != std::string::npos)
      line = s.substr(at + 3, s.find('\n', at + 1) - at - 3);
  }
  REQUIRE_MESSAGE(!line.empty(), "no chat line in the server's output");
  CHECK(line.find(dir.path() + "/run/confer-server/dev-root.pem") != std::string::npos);
  CHECK(line.find(test::server_measurement()) != std::string::npos);
  // Pasted as printed, with `confer` found on PATH, and a prompt after it.
  std::string bin_dir = std::string(CONFER_BIN).substr(0, std::string(CONFER_BIN).rfind('/'));
  test::SpawnOptions shell;
  shell.capture = true;
  shell.stdin_text = "";
  shell.env = {{"PATH", bin_dir + ":" + std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin")},
               {"XDG_CONFIG_HOME", dir.path() + "/config"}, {"XDG_DATA_HOME", dir.path() + "/data"},
               {"XDG_CACHE_HOME", dir.path() + "/cache"}};
  test::Process chat("/bin/sh", {"-c", line + " 'hello from a paste'"}, shell);
  auto r = chat.wait();
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("echo: hello from a paste") != std::string::npos);
  CHECK(r.err.find("verified") != std::string::npos);
}

TEST_CASE("confer-server: --version and --help need no --upstream, a bad --upstream or a taken port fail at once") {
  auto version = test::Process(CONFER_SERVER_BIN, {"--version"}, {{}, {}, std::nullopt, true}).wait();
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("confer-server ") == 0);
  auto help = test::Process(CONFER_SERVER_BIN, {"--help"}, {{}, {}, std::nullopt, true}).wait();
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--upstream") != std::string::npos);
  auto scheme = test::Process(CONFER_SERVER_BIN, {"--upstream", "ftp://x"}, {{}, {}, std::nullopt, true}).wait();
  CHECK(scheme.exit_code == 2);
  CHECK(scheme.err.find("expected an http:// or https:// base URL") != std::string::npos);
  // A port in use is refused before any key is generated (no "generating" line).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string listen = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto taken = test::Process(CONFER_SERVER_BIN, {"--attestation", "dev", "--upstream", "demo", "--listen", listen},
                             {{}, {}, std::nullopt, true})
                   .wait();
  ::close(fd);
  CHECK(taken.exit_code == 2);
  CHECK(taken.err.find("cannot bind") != std::string::npos);
  CHECK(taken.err.find("generating") == std::string::npos);
}

// (--listen 127.0.0.1:99999 is refused, naming the port, in the manifest case above.)
TEST_CASE("load: confer-server refuses out-of-range load limits with exit 2, naming the flag") {
  test::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> refused = {{"--max-connections", "-1"},
                                                                    {"--max-connections", "0"},
                                                                    {"--upstream-concurrency", "0"},
                                                                    {"--grace", "-1"},
                                                                    {"--client-verify-timeout", "0"},
                                                                    {"--client-verify-timeout", "3601"},
                                                                    {"--max-send-buffer", "10"}};
  for (const auto& bad : refused) {
    // A value taken by mistake would start a server: it is stopped after 15 s, and fails.
    auto r = run_server({"--attestation", "dev", "--dev-root", dir.path() + "/root.pem", "--store", "none", "--listen",
                         "127.0.0.1:0", "--upstream", "demo", bad.first, bad.second},
                        std::chrono::seconds(15));
    MESSAGE(bad.first, " ", bad.second, ": exit ", r.exit_code, ", stderr: ", r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(bad.first) != std::string::npos);
  }
}
