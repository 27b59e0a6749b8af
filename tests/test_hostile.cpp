// Hostile JSON: an upstream (or a server) that sends a document nested far deeper than
// nlohmann's recursive parser can take must get a clean error, never a dead process.
#include <doctest/doctest.h>


#include <string>

#include "server/upstream.hpp"
#include "crypto/hash.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

constexpr size_t kDeep = 450000;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct HostileUpstream {
  test::TempDir dir;
  std::unique_ptr<test::Process> child;
  std::string url;
  explicit HostileUpstream(std::vector<std::string> extra) {
    std::vector<std::string> args{"--port-file", dir.path() + "/port", "--log", dir.path() + "/upstream.log"};
    args.insert(args.end(), extra.begin(), extra.end());
    child = std::make_unique<test::Process>(FAKE_UPSTREAM_BIN, args);
    url = "http://127.0.0.1:" + trim(test::wait_for_file(dir.path() + "/port"));
  }
};

struct DevServer {
  test::TempDir dir;
  std::string root = dir.path() + "/dev-root.pem";
  std::unique_ptr<test::Process> child;
  std::string url;
  std::string measurement;
  // The real confer-server, or tests/evil_server in `evil_mode` (which measures 0x42...).
  explicit DevServer(const std::string& upstream, const std::string& evil_mode = {}) {
    std::vector<std::string> args{"--dev-root", root, "--upstream", upstream, "--port-file", dir.path() + "/port"};
    if (evil_mode.empty()) {
      args.insert(args.end(), {"--listen", "127.0.0.1:0", "--attestation", "dev"});
      child = std::make_unique<test::Process>(CONFER_SERVER_BIN, args);
      measurement = to_hex(crypto::sha384(*read_file(CONFER_SERVER_BIN)));
    } else {
      args.insert(args.end(), {"--mode", evil_mode});
      child = std::make_unique<test::Process>(EVIL_SERVER_BIN, args);
      measurement = to_hex(Bytes(48, 0x42));
    }
    url = "ws://127.0.0.1:" + trim(test::wait_for_file(dir.path() + "/port"));
  }
  std::vector<std::string> chat(const std::string& prompt) const {
    return {"chat", "--server", url, "--trust-root", root, "--expect-measurement", measurement, "-q", prompt};
  }
};

}  // namespace

TEST_CASE("hostile: parse_upstream_chunk refuses an error nested 450,000 deep") {
  std::string deep = "{\"error\": " + std::string(kDeep, '[') + std::string(kDeep, ']') + "}";
  auto r = server::parse_upstream_chunk(deep);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::protocol);
  CHECK(r.error().message.find("nested at most 64 deep") != std::string::npos);
  MESSAGE(r.error().message);
}

TEST_CASE("hostile: a deep upstream event fails one chat with exit 5, and the server serves the next") {
  HostileUpstream upstream({"--deep-error", std::to_string(kDeep)});
  DevServer server(upstream.url);
  auto first = test::run_confer(server.chat("hello"));
  MESSAGE("first chat: exit ", first.exit_code, ", stderr: ", first.err);
  CHECK(first.exit_code == 5);
  CHECK(first.err.find("502") != std::string::npos);
  CHECK(first.err.find("nested at most 64 deep") != std::string::npos);

  CHECK(server.child->running());
  auto second = test::run_confer(server.chat("still alive"));
  CHECK(second.exit_code == 0);
  CHECK(second.out.find("echo: still alive") != std::string::npos);
}

TEST_CASE("hostile: a lying server's event nested 450,000 deep gives the client exit 5, not a crash") {
  HostileUpstream upstream({});
  DevServer server(upstream.url, "deep-event");
  auto r = test::run_confer(server.chat("hello"));
  MESSAGE("chat: exit ", r.exit_code, ", stderr: ", r.err);
  CHECK(r.exit_code == 5);
  CHECK(r.err.find("server sent an event that is not a JSON object with a type") != std::string::npos);
  CHECK(r.err.find("nested at most 64 deep") != std::string::npos);
}
