// The upstream's event stream (server side), the chat request body, and the server's
// chat events as the client reads them (lib/chat/protocol).
#include <string_view>

#include "chat/protocol.hpp"
#include "server/upstream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  using namespace confer::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  SseParser parser([](std::string_view event) { (void)parse_upstream_chunk(event); });
  (void)parser.feed(text);
  (void)parse_upstream_chunk(text);
  auto request = confer::chat::parse_chat_request({data, size});
  if (request) (void)confer::chat::parse_chat_request(confer::as_bytes(confer::chat::serialize_chat_request(*request)));
  auto event = confer::chat::parse_chat_event(text);
  if (event) (void)confer::chat::serialize_chat_event(*event);
  return 0;
}
