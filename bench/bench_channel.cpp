// The channel's costs, measured in one process against one fake upstream:
//  - handshake + verification per session, against verification alone;
//  - sessions per second (sequential, one client);
//  - added latency per streamed token through confer-server, against calling the
//    upstream directly.
// Usage: confer_bench_channel FAKE_UPSTREAM_BIN [sessions] [tokens]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "chat/protocol.hpp"
#include "client/session.hpp"
#include "server/server.hpp"
#include "transport/client.hpp"
#include "bench_support.hpp"

using namespace confer;
using namespace confer::bench;

namespace {

// What confer chat does with message 2's payload: the library's verify_payload, with the
// development root trusted and nothing fetched.
attest::Verification verify(ByteView payload, const noise::PublicKey& key, const client::TrustConfig& trust) {
  auto v = client::verify_payload(payload, key, trust, std::nullopt);
  return v ? std::move(v).value() : attest::Verification{};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: confer_bench_channel FAKE_UPSTREAM_BIN [sessions] [tokens]\n");
    return 2;
  }
  int sessions = argc > 2 ? std::atoi(argv[2]) : 50;
  int tokens = argc > 3 ? std::atoi(argv[3]) : 400;
  std::string dir = std::filesystem::temp_directory_path() / ("confer-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  Child upstream({argv[1], "--port-file", dir + "/port", "--log", "/dev/null", "--tokens", std::to_string(tokens)});
  auto port_text = upstream.wait_for_port(dir + "/port");
  if (!port_text) {
    std::fprintf(stderr, "bench: fake upstream: %s\n", port_text.error().message.c_str());
    return 1;
  }
  std::string port = *port_text;

  std::fprintf(stderr, "bench: upstream on port %s; generating the development chain\n", port.c_str());
  server::ServerConfig config;
  config.port = 0;
  config.upstream.url = server::chat_completions_url("http://127.0.0.1:" + port);
  auto provider = server::make_dev_provider("milan", dir + "/root.pem", Bytes(48, 7), std::nullopt);
  auto srv = server::make_server(config, std::move(provider).value());
  if (!srv) return 1;
  std::thread serving([&] { (*srv)->run(); });
  client::TrustConfig root;
  root.extra_roots = {*crypto::Cert::from_der_or_pem(*read_file(dir + "/root.pem"))};
  root.offline = true;
  root.require_release = false;
  auto url = *transport::parse_server_url("ws://127.0.0.1:" + std::to_string((*srv)->port()));

  std::fprintf(stderr, "bench: server on port %u\n", (*srv)->port());
  // 1. Sessions: connect, handshake, verify message 2.
  Bytes last_payload;
  noise::PublicKey last_key{};
  auto verifier = [&](const noise::PublicKey& key, ByteView payload) -> Result<void> {
    if (!verify(payload, key, root).verified()) return make_error(Errc::attestation, "refused");
    last_payload.assign(payload.begin(), payload.end());
    last_key = key;
    return {};
  };
  for (int i = 0; i < 3; ++i) (void)transport::connect_channel(url, verifier);  // warm up
  auto t0 = Clock::now();
  for (int i = 0; i < sessions; ++i) {
    auto ch = transport::connect_channel(url, verifier);
    if (!ch) return 1;
  }
  double per_session = since(t0) / sessions;
  t0 = Clock::now();
  for (int i = 0; i < sessions; ++i)
    if (!verify(last_payload, last_key, root).verified()) return 1;
  double per_verify = since(t0) / sessions;

  std::fprintf(stderr, "bench: sessions measured\n");
  // 2. Tokens: direct upstream call against the same call through the channel.
  chat::ChatRequest request;
  request.messages = {{"user", "a b c d"}};
  request.stream = true;
  int direct_tokens = 0;
  auto direct_once = [&] {
    direct_tokens = 0;
    auto r = server::call_upstream(config.upstream, request, [&](std::string_view) { return ++direct_tokens > 0; });
    return r.ok();
  };
  auto channel = transport::connect_channel(url, verifier);
  if (!channel) return 1;
  std::string body = chat::serialize_chat_request(request);
  int proxied_tokens = 0;
  auto proxied_once = [&] {
    proxied_tokens = 0;
    transport::Request req{transport::random_id(), "POST", std::string(chat::kChatPath), Bytes(body.begin(), body.end())};
    (*channel)->send(req);
    for (;;) {
      auto next = (*channel)->next(std::chrono::seconds(30));
      if (!next || !*next) return false;
      if ((*next)->status != 200) return false;
      auto ev = chat::parse_chat_event(std::string_view(reinterpret_cast<const char*>((*next)->body.data()),
                                                        (*next)->body.size()));
      if (!ev) return false;
      if (ev->is_token()) ++proxied_tokens;
      if (ev->is_completion()) return true;
    }
  };
  direct_once();
  proxied_once();
  const int rounds = 10;
  double direct = 0, proxied = 0;
  for (int i = 0; i < rounds; ++i) {  // interleaved, so drift hits both alike
    t0 = Clock::now();
    if (!direct_once()) return 1;
    direct += since(t0);
    t0 = Clock::now();
    if (!proxied_once()) return 1;
    proxied += since(t0);
  }
  direct /= rounds;
  proxied /= rounds;

  std::printf("sessions                              %d\n", sessions);
  std::printf("handshake + verification per session  %.2f ms\n", per_session * 1e3);
  std::printf("verification alone                    %.2f ms\n", per_verify * 1e3);
  std::printf("ratio session / verification          %.2f\n", per_session / per_verify);
  std::printf("sessions per second (one client)      %.0f\n", 1.0 / per_session);
  std::printf("tokens per answer                     %d direct, %d proxied\n", direct_tokens, proxied_tokens);
  std::printf("direct upstream call                  %.2f ms (%.1f us/token)\n", direct * 1e3, direct / tokens * 1e6);
  std::printf("through confer-server                 %.2f ms (%.1f us/token)\n", proxied * 1e3, proxied / tokens * 1e6);
  std::printf("added latency per token               %.1f us\n", (proxied - direct) / tokens * 1e6);
  std::printf("ratio proxied / direct                %.2f\n", proxied / direct);

  channel->reset();
  (*srv)->stop();
  serving.join();
  upstream.stop();
  std::filesystem::remove_all(dir);
  return 0;
}
