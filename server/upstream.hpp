// The model upstream: any OpenAI-compatible /v1/chat/completions endpoint, streamed
// with server-sent events through libcurl.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "chat/protocol.hpp"
#include "core/bytes.hpp"

namespace confer::server {

// The request the client sent through the channel (lib/chat/protocol.hpp).
using chat::ChatMessage;
using chat::ChatRequest;
using chat::parse_chat_request;

// Server-sent events: feed bytes as they come, get each event's data field.
class SseParser {
 public:
  explicit SseParser(std::function<void(std::string_view data)> on_data) : on_data_(std::move(on_data)) {}
  // False once the buffered line would exceed the bound (a broken or hostile upstream).
  bool feed(std::string_view bytes);

 private:
  void line(std::string_view l);
  std::function<void(std::string_view)> on_data_;
  std::string pending_;
  std::string data_;
};

struct UpstreamDelta {
  std::string content;                 // token text, possibly empty
  std::optional<int64_t> total_tokens;  // from a usage object
  bool done = false;                   // "[DONE]"
  bool finished = false;               // a choice with a finish_reason
};
// One streamed chunk's data (an OpenAI chat.completion.chunk) or "[DONE]".
Result<UpstreamDelta> parse_upstream_chunk(std::string_view data);

struct UpstreamOptions {
  std::string url;  // resolved .../v1/chat/completions, or "demo" for the built-in demo
  std::string default_model;
  long connect_timeout_s = 10;
  long idle_timeout_s = 120;         // no byte for this long: give up (--upstream-timeout)
  long first_token_timeout_s = 60;   // no token this long after the request (--upstream-first-token-timeout)
  long total_timeout_s = 600;        // the whole answer (--upstream-total-timeout)
};
// "http://h:p" -> "http://h:p/v1/chat/completions"; ".../v1" and full paths are kept.
std::string chat_completions_url(std::string base);

struct UpstreamResult {
  std::string text;
  int64_t total_tokens = 0;
};

// Calls the upstream. For a stream, `on_token` gets each piece as it arrives and may
// return false to stop; `wanted` (if set) is asked at least once a second and ends the
// call when it says false (the client has gone). Errors name the upstream's status and
// message, or which timeout fired (by its option). A stream that ends before the model
// finished (no [DONE] and no finish_reason) is an error (Errc::protocol), so a cut
// answer is never taken for a whole one.
Result<UpstreamResult> call_upstream(const UpstreamOptions& options, const ChatRequest& request,
                                     const std::function<bool(std::string_view)>& on_token,
                                     const std::function<bool()>& wanted = {});

// The models the upstream lists (GET .../v1/models, OpenAI's {"data":[{"id":...}]}), at
// most 1000; {"demo"} for the demo upstream.
Result<std::vector<std::string>> list_upstream_models(const UpstreamOptions& options);
// The first of them, asked once per upstream and remembered: the model used when neither
// the client nor --model names one. Empty when the upstream lists none or cannot be asked.
std::string first_upstream_model(const UpstreamOptions& options);

}  // namespace confer::server
