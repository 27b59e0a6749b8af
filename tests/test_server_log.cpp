// confer-server's log: one line per failed connection or request, naming the peer, the
// stage and the reason, and never what the user said.
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "chat/protocol.hpp"
#include "server/attestation.hpp"
#include "server/server.hpp"
#include "support/support.hpp"
#include "transport/client.hpp"

using namespace confer;

namespace {

struct LoggedServer {
  test::TempDir dir;
  std::mutex mu;
  std::vector<std::string> lines;
  std::unique_ptr<server::Server> srv;
  std::thread serving;

  explicit LoggedServer(const std::string& upstream) {
    server::ServerConfig config;
    config.port = 0;
    config.upstream.url = server::chat_completions_url(upstream);
    config.upstream.connect_timeout_s = 2;
    config.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu);
      lines.push_back(line);
    };
    auto provider = server::make_dev_provider("milan", dir.path() + "/root.pem", Bytes(48, 1), std::nullopt);
    REQUIRE(provider.ok());
    auto made = server::make_server(config, std::move(provider).value());
    REQUIRE(made.ok());
    srv = std::move(made).value();
    serving = std::thread([this] { srv->run(); });
  }
  ~LoggedServer() {
    srv->stop();
    serving.join();
  }
  transport::ServerUrl url() const {
    return *transport::parse_server_url("ws://127.0.0.1:" + std::to_string(srv->port()));
  }
  // Waits (bounded) for a line containing `what`; returns all lines so far.
  std::string wait_for(const std::string& what) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        std::string all;
        for (const auto& l : lines) all += l + "\n";
        if (all.find(what) != std::string::npos) return all;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::lock_guard<std::mutex> lock(mu);
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
  }
};

}  // namespace

TEST_CASE("server log: a client that refuses the evidence is one handshake line with its peer") {
  LoggedServer s("http://127.0.0.1:1");
  auto refused = transport::connect_channel(s.url(), [](const noise::PublicKey&, ByteView) -> Result<void> {
    return make_error(Errc::attestation, "refused by the test");
  });
  CHECK_FALSE(refused.ok());
  std::string log = s.wait_for(": handshake: ");
  MESSAGE(log);
  CHECK(log.find("confer-server: connection 127.0.0.1:") != std::string::npos);
  CHECK(log.find(": handshake: ") != std::string::npos);
}

TEST_CASE("server log: a failed upstream call logs its kind, never the prompt or the upstream's text") {
  LoggedServer s("http://127.0.0.1:1");  // nothing listens on port 1
  auto channel = transport::connect_channel(s.url(), [](const noise::PublicKey&, ByteView) -> Result<void> { return {}; });
  REQUIRE(channel.ok());
  chat::ChatRequest request;
  request.messages = {{"user", "SECRET-PROMPT-7f3a"}};
  request.stream = true;
  std::string body = chat::serialize_chat_request(request);
  transport::Request req{transport::random_id(), "POST", std::string(chat::kChatPath), Bytes(body.begin(), body.end())};
  (*channel)->send(req);
  auto response = (*channel)->next(std::chrono::seconds(20));
  REQUIRE(response.ok());
  REQUIRE(response->has_value());
  CHECK((*response)->status == 502);
  std::string log = s.wait_for("upstream: request failed");
  MESSAGE(log);
  CHECK(log.find(": upstream: request failed (network)") != std::string::npos);
  CHECK(log.find("SECRET-PROMPT") == std::string::npos);
  CHECK(log.find("127.0.0.1:1:") == std::string::npos);  // no upstream error text either
  // A session that ends cleanly after a good handshake is not a failure: no line for it.
  (*channel)->close();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::lock_guard<std::mutex> lock(s.mu);
  CHECK(s.lines.size() == 1);
}
