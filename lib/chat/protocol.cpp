#include "chat/protocol.hpp"

#include <fmt/format.h>

#include "core/json.hpp"

namespace confer::chat {

using nlohmann::json;

std::string serialize_chat_request(const ChatRequest& request) {
  json messages = json::array();
  for (const auto& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  json body = {{"messages", messages}, {"stream", request.stream}};
  if (!request.model.empty()) body["model"] = request.model;
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.max_tokens) body["maxTokens"] = *request.max_tokens;
  return dump_json(body);
}

namespace {

Result<ChatMessage> parse_message(const json& m) {
  if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
      !m["content"].is_string())
    return make_error(Errc::usage, "chat request: each message needs string \"role\" and \"content\"");
  std::string role = m["role"].get<std::string>();
  if (role != "user" && role != "assistant" && role != "system" && role != "developer")
    return make_error(Errc::usage, fmt::format("chat request: unsupported role \"{}\"", role));
  return ChatMessage{std::move(role), m["content"].get<std::string>()};
}

}  // namespace

Result<ChatRequest> parse_chat_request(ByteView body) {
  auto parsed = parse_json(body, "chat request", JsonLimits{body.size(), 64}, Errc::usage);
  if (!parsed || !parsed->is_object()) return make_error(Errc::usage, "chat request: expected a JSON object");
  json doc = std::move(parsed).value();
  if (!doc.contains("messages") || !doc["messages"].is_array() || doc["messages"].empty())
    return make_error(Errc::usage, "chat request: expected a non-empty \"messages\" array");
  ChatRequest r;
  for (const auto& m : doc["messages"]) {
    CONFER_TRY(ChatMessage message, parse_message(m));
    r.messages.push_back(std::move(message));
  }
  if (doc.contains("model") && doc["model"].is_string()) r.model = doc["model"].get<std::string>();
  if (doc.contains("temperature") && doc["temperature"].is_number()) r.temperature = doc["temperature"].get<double>();
  if (doc.contains("maxTokens") && doc["maxTokens"].is_number_integer()) r.max_tokens = doc["maxTokens"].get<int64_t>();
  if (!doc.contains("stream") || !doc["stream"].is_boolean())
    return make_error(Errc::usage, "chat request: expected a boolean \"stream\"");
  r.stream = doc["stream"].get<bool>();
  return r;
}

ChatEvent ChatEvent::token(std::string_view content) {
  ChatEvent e;
  e.type = "token";
  e.content = std::string(content);
  return e;
}

ChatEvent ChatEvent::completion(int64_t context_tokens, int64_t max_context_tokens) {
  ChatEvent e;
  e.type = "completion";
  e.context_tokens = context_tokens;
  e.max_context_tokens = max_context_tokens;
  return e;
}

std::string serialize_chat_event(const ChatEvent& event) {
  if (event.is_token()) return dump_json(json{{"type", "token"}, {"content", event.content}});
  if (event.is_completion())
    return dump_json(json{{"type", "completion"},
                          {"context_tokens", event.context_tokens},
                          {"max_context_tokens", event.max_context_tokens}});
  return dump_json(json{{"type", event.type}});
}

Result<ChatEvent> parse_chat_event(std::string_view payload) {
  auto parsed = parse_json(payload, "server event", JsonLimits{payload.size(), 64}, Errc::protocol);
  if (!parsed)
    return make_error(Errc::protocol, fmt::format("server sent an event that is not a JSON object with a type ({})",
                                                  parsed.error().message));
  ChatEvent e;
  e.json = std::move(parsed).value();
  if (!e.json.is_object() || !e.json.contains("type") || !e.json["type"].is_string())
    return make_error(Errc::protocol, "server sent an event that is not a JSON object with a type");
  e.type = e.json["type"].get<std::string>();
  if (e.is_token() && e.json.contains("content") && e.json["content"].is_string())
    e.content = e.json["content"].get<std::string>();
  auto integer = [&](const char* key) {
    return e.json.contains(key) && e.json[key].is_number_integer() ? e.json[key].get<int64_t>() : int64_t{0};
  };
  e.context_tokens = integer("context_tokens");
  e.max_context_tokens = integer("max_context_tokens");
  return e;
}

}  // namespace confer::chat
