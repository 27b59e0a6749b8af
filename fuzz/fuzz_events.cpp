// The upstream's event stream (server side) and the chat request body.
#include <string_view>

#include "server/upstream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace confer::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  SseParser parser([](std::string_view event) { (void)parse_upstream_chunk(event); });
  (void)parser.feed(text);
  (void)parse_upstream_chunk(text);
  (void)parse_chat_request({data, size});
  return 0;
}
