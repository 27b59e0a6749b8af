// The chat protocol inside the channel (DESIGN §3, CONFER-PROTOCOL §17), written once for
// both ends: the client's request body and the server's streamed events.
#pragma once

#include <cstdint>
#include <optional>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"

namespace confer::chat {

inline constexpr std::string_view kChatPath = "/v1/vllm/chat/completions";
// The upstream's models, proxied (OpenAI's {"object":"list","data":[{"id":...}]}).
inline constexpr std::string_view kModelsPath = "/v1/models";
// The largest request body confer-server takes (its default); clients refuse bigger ones
// before sending, naming the limit.
inline constexpr size_t kMaxRequestBytes = 1u << 20;

struct ChatMessage {
  std::string role;  // user, assistant, system or developer
  std::string content;
};

// {messages, model, temperature, maxTokens, stream}
struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::string model;  // empty: the server's default
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
  bool stream = false;
};

std::string serialize_chat_request(const ChatRequest& request);
// Errors (Errc::usage) name the field that was wrong. The body's size is bounded by the
// channel's frame assembler; nesting depth is bounded here.
Result<ChatRequest> parse_chat_request(ByteView body);

// One streamed event: {"type":"token","content":...} or {"type":"completion",
// "context_tokens":N,"max_context_tokens":M}. Other types are kept (type and json)
// so a client can ignore them, as the protocol asks.
struct ChatEvent {
  std::string type;
  std::string content;  // token
  int64_t context_tokens = 0;
  int64_t max_context_tokens = 0;
  nlohmann::json json;  // the event as received (parse_chat_event only)

  static ChatEvent token(std::string_view content);
  static ChatEvent completion(int64_t context_tokens, int64_t max_context_tokens);
  bool is_token() const { return type == "token"; }
  bool is_completion() const { return type == "completion"; }
};

std::string serialize_chat_event(const ChatEvent& event);
// Errc::protocol unless a bounded JSON object with a string "type".
Result<ChatEvent> parse_chat_event(std::string_view payload);

}  // namespace confer::chat
