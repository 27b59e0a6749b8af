#include <doctest/doctest.h>

#include <unistd.h>

#include "transport/client.hpp"
#include "transport/frames.hpp"

using namespace confer;
using namespace confer::transport;

TEST_CASE("frames: small and large messages round trip, chunking at 65,489 bytes") {
  for (size_t size : {size_t(0), size_t(1), kMaxFramePayload, kMaxFramePayload + 1, 3 * kMaxFramePayload + 17}) {
    Bytes message(size);
    for (size_t i = 0; i < size; ++i) message[i] = uint8_t(i * 7);
    auto frames = encode_frames(message, 42);
    CHECK(frames.size() == (size == 0 ? 1 : (size + kMaxFramePayload - 1) / kMaxFramePayload));
    for (const auto& f : frames) CHECK(f.size() <= 65519);  // fits one Noise transport message
    FrameAssembler a(1 << 20, 4);
    std::optional<Bytes> done;
    // Deliver in reverse order: reassembly is by index, not arrival.
    for (size_t i = frames.size(); i-- > 0;) {
      auto r = a.add(frames[i]);
      REQUIRE(r.ok());
      if (i != 0) CHECK_FALSE(r->has_value());
      else done = *r;
    }
    REQUIRE(done.has_value());
    CHECK(*done == message);
  }
}

TEST_CASE("frames: interleaved messages, and the bounds") {
  Bytes a(100000, 'a'), b(70000, 'b');
  auto fa = encode_frames(a, 1), fb = encode_frames(b, 2);
  FrameAssembler asm1(1 << 20, 4);
  CHECK_FALSE(asm1.add(fa[0])->has_value());
  CHECK_FALSE(asm1.add(fb[0])->has_value());
  CHECK(*asm1.add(fb[1])->value().data() == 'b');
  CHECK(asm1.add(fa[1])->value() == a);

  FrameAssembler small(100000, 4);  // too large a message
  auto big = encode_frames(Bytes(300000, 'x'), 9);
  CHECK_FALSE(small.add(big[0]).ok());
  FrameAssembler one_group(1 << 20, 1);  // too many open groups
  CHECK(one_group.add(fa[0]).ok());
  CHECK_FALSE(one_group.add(fb[0]).ok());
  FrameAssembler any(1 << 20, 4);
  CHECK_FALSE(any.add(Bytes{0xff, 0xff, 0xff}).ok());  // not protobuf
}

TEST_CASE("RPC envelopes round trip and reject what the protocol forbids") {
  Request r{7, "POST", "/v1/vllm/chat/completions", Bytes{'{', '}'}};
  auto back = decode_request(encode_request(r));
  REQUIRE(back.ok());
  CHECK(back->id == 7);
  CHECK(back->path == r.path);
  CHECK(back->body == r.body);
  Request no_verb{8, "", "/x", {}};
  CHECK_FALSE(decode_request(encode_request(no_verb)).ok());
  CHECK_FALSE(decode_request(Bytes{}).ok());  // no id
  Response resp{-5, 200, Bytes{'o', 'k'}, {{"Content-Type", "text/plain"}}};
  auto rb = decode_response(encode_response(resp));
  REQUIRE(rb.ok());
  CHECK(rb->id == -5);
  CHECK(rb->headers.at("Content-Type") == "text/plain");
}

TEST_CASE("server URLs") {
  auto u = parse_server_url("https://confer.example");
  REQUIRE(u.ok());
  CHECK(u->tls);
  CHECK(u->port == "443");
  CHECK(u->target == "/websocket");
  auto v = parse_server_url("ws://127.0.0.1:8080/custom?token=abc");
  REQUIRE(v.ok());
  CHECK_FALSE(v->tls);
  CHECK(v->target == "/custom?token=abc");
  CHECK(parse_server_url("http://h:1?token=t")->target == "/websocket?token=t");
  CHECK(parse_server_url("wss://[::1]:9443")->host == "::1");
  CHECK_FALSE(parse_server_url("ftp://x").ok());
  CHECK_FALSE(parse_server_url("ws://").ok());
  CHECK_FALSE(parse_server_url("ws://h:port").ok());
  CHECK_FALSE(parse_server_url("ws://user@h").ok());
}

TEST_CASE("proxies from the environment, with NO_PROXY") {
  auto url = *parse_server_url("wss://confer.example:443");
  ::setenv("HTTPS_PROXY", "http://proxy.local:3128", 1);
  ::setenv("NO_PROXY", "localhost,.internal", 1);
  CHECK(proxy_for(url) == "http://proxy.local:3128");
  CHECK(proxy_for(*parse_server_url("wss://a.internal")) == "");
  CHECK(proxy_for(*parse_server_url("ws://confer.example")) == "");  // HTTP_PROXY unset
  ::setenv("NO_PROXY", "*", 1);
  CHECK(proxy_for(url) == "");
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("NO_PROXY");
}

TEST_CASE("hostile frames are refused without writing to stderr") {
  // WebsocketRequest {id: 1, verb: "GET", path: "\xff"}: invalid UTF-8 in a string field.
  Bytes hostile{0x08, 0x01, 0x12, 0x03, 'G', 'E', 'T', 0x1a, 0x01, 0xff};
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  int saved = ::dup(2);
  ::dup2(pipefd[1], 2);
  auto r = decode_request(hostile);
  auto frame = FrameAssembler(1 << 20, 4).add(encode_frames(hostile, 3)[0]);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(pipefd[1]);
  char buf[256];
  ssize_t n = ::read(pipefd[0], buf, sizeof buf);
  ::close(pipefd[0]);
  CHECK_FALSE(r.ok());
  CHECK(frame.ok());  // the frame itself is fine; its payload is what is refused
  CHECK(n == 0);
}
