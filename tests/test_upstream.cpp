#include <doctest/doctest.h>

#include "server/upstream.hpp"

using namespace confer;
using namespace confer::server;

TEST_CASE("SSE parser: events split across reads, comments, CRLF, multi-line data") {
  std::vector<std::string> events;
  SseParser p([&](std::string_view d) { events.emplace_back(d); });
  std::string stream = ": keep-alive\r\ndata: {\"a\":1}\r\n\r\ndata: x\ndata: y\n\nevent: ignored\ndata: [DONE]\n\n";
  for (char c : stream) REQUIRE(p.feed(std::string_view(&c, 1)));
  REQUIRE(events.size() == 3);
  CHECK(events[0] == "{\"a\":1}");
  CHECK(events[1] == "x\ny");
  CHECK(events[2] == "[DONE]");
  SseParser bounded([](std::string_view) {});
  CHECK_FALSE(bounded.feed(std::string(2 << 20, 'x')));
}

TEST_CASE("upstream chunks") {
  auto d = parse_upstream_chunk(R"({"choices":[{"index":0,"delta":{"content":"hi"}}]})");
  REQUIRE(d.ok());
  CHECK(d->content == "hi");
  auto u = parse_upstream_chunk(R"({"choices":[],"usage":{"total_tokens":12}})");
  CHECK(*u->total_tokens == 12);
  CHECK(parse_upstream_chunk("[DONE]")->done);
  auto e = parse_upstream_chunk(R"({"error":{"message":"overloaded"}})");
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("overloaded") != std::string::npos);
  CHECK_FALSE(parse_upstream_chunk("not json").ok());
  CHECK(parse_upstream_chunk(R"({"choices":[{"delta":{"role":"assistant"}}]})")->content.empty());
}

TEST_CASE("chat requests from the client") {
  auto ok = parse_chat_request(confer::as_bytes(
      R"({"messages":[{"role":"user","content":"x"}],"model":"m","temperature":0.2,"maxTokens":5,"stream":true})"));
  REQUIRE(ok.ok());
  CHECK(ok->stream);
  CHECK(*ok->max_tokens == 5);
  CHECK_FALSE(parse_chat_request(confer::as_bytes(R"({"messages":[],"stream":true})")).ok());
  CHECK_FALSE(parse_chat_request(confer::as_bytes(R"({"messages":[{"role":"user","content":"x"}]})")).ok());
  CHECK_FALSE(parse_chat_request(confer::as_bytes(R"({"messages":[{"role":"root","content":"x"}],"stream":false})")).ok());
  CHECK(chat_completions_url("http://h:1") == "http://h:1/v1/chat/completions");
  CHECK(chat_completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions");
  CHECK(chat_completions_url("http://h:1/x/chat/completions") == "http://h:1/x/chat/completions");
}

TEST_CASE("the demo upstream says it is not a model") {
  ChatRequest r;
  r.messages = {{"user", "hello"}};
  r.stream = true;
  UpstreamOptions o;
  o.url = "demo";
  std::string streamed;
  auto res = call_upstream(o, r, [&](std::string_view t) {
    streamed += t;
    return true;
  });
  REQUIRE(res.ok());
  CHECK(res->text == streamed);
  CHECK(streamed.find("not a model") != std::string::npos);
}
