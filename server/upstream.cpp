#include "server/upstream.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "net/http.hpp"

namespace confer::server {

using nlohmann::json;

namespace {
constexpr size_t kMaxSseLine = 1 << 20;
constexpr size_t kMaxErrorBody = 4096;
constexpr size_t kMaxBody = 16u << 20;
}  // namespace

bool SseParser::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      std::string_view l(pending_);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      line(l);
      pending_.clear();
    } else {
      pending_.push_back(c);
      if (pending_.size() > kMaxSseLine || data_.size() > kMaxSseLine) return false;
    }
  }
  return true;
}

void SseParser::line(std::string_view l) {
  if (l.empty()) {  // blank line: dispatch
    if (!data_.empty()) {
      if (data_.back() == '\n') data_.pop_back();
      on_data_(data_);
    }
    data_.clear();
    return;
  }
  if (l.front() == ':') return;  // comment
  size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  }
}

Result<UpstreamDelta> parse_upstream_chunk(std::string_view data) {
  UpstreamDelta d;
  if (data == "[DONE]") {
    d.done = true;
    return d;
  }
  auto parsed = parse_json(data, "upstream", JsonLimits{kMaxSseLine, 64}, Errc::protocol);
  if (!parsed)
    return make_error(Errc::protocol,
                      fmt::format("upstream: expected a JSON chunk in the event stream ({})", parsed.error().message));
  if (!parsed->is_object())
    return make_error(Errc::protocol, "upstream: expected a JSON chunk in the event stream");
  json doc = std::move(parsed).value();
  if (doc.contains("error")) {
    const auto& e = doc["error"];
    std::string msg = e.is_object() && e.contains("message") && e["message"].is_string()
                          ? e["message"].get<std::string>()
                          : dump_json(e);
    return make_error(Errc::protocol, "upstream error: " + msg);
  }
  if (doc.contains("choices") && doc["choices"].is_array()) {
    for (const auto& c : doc["choices"]) {
      if (!c.is_object() || !c.contains("delta") || !c["delta"].is_object()) continue;
      const auto& delta = c["delta"];
      if (delta.contains("content") && delta["content"].is_string()) d.content += delta["content"].get<std::string>();
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) d.finished = true;
    }
  }
  if (doc.contains("usage") && doc["usage"].is_object() && doc["usage"].contains("total_tokens") &&
      doc["usage"]["total_tokens"].is_number_integer())
    d.total_tokens = doc["usage"]["total_tokens"].get<int64_t>();
  return d;
}

std::string chat_completions_url(std::string base) {
  if (base == "demo") return base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto ends = [&](std::string_view s) { return base.size() >= s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0; };
  if (ends("/chat/completions")) return base;
  if (ends("/v1")) return base + "/chat/completions";
  return base + "/v1/chat/completions";
}

namespace {

std::string error_message(const std::string& body) {
  auto parsed = parse_json(body, "upstream error body", JsonLimits{kMaxErrorBody, 64});
  json doc = parsed ? std::move(parsed).value() : json();
  if (doc.is_object() && doc.contains("error")) {
    const auto& e = doc["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    if (e.is_string()) return e.get<std::string>();
  }
  std::string s = body.substr(0, 200);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s.empty() ? "no body" : s;
}

}  // namespace

namespace {

// The built-in demo upstream: no model, and it says so, word by word.
UpstreamResult demo_answer(const ChatRequest& request, const std::function<bool(std::string_view)>& on_token) {
  std::string last;
  for (const auto& m : request.messages)
    if (m.role == "user") last = m.content;
  std::string text = "This is confer-server's built-in demo upstream, not a model. Your message of " +
                     std::to_string(last.size()) +
                     " bytes crossed the attested channel intact. Start confer-server with --upstream "
                     "pointing at an OpenAI-compatible server (llama.cpp, Ollama, vLLM) for real answers.";
  UpstreamResult r;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start + 1);
    if (end == std::string::npos) end = text.size();
    std::string_view piece(text.data() + start, end - start);
    r.text.append(piece);
    if (request.stream && !on_token(piece)) break;
    start = end;
  }
  r.total_tokens = static_cast<int64_t>(r.text.size() / 4);
  return r;
}

}  // namespace

namespace {

std::string upstream_body(const UpstreamOptions& options, const ChatRequest& request) {
  json body;
  std::string model = !request.model.empty() ? request.model : options.default_model;
  if (model.empty()) model = first_upstream_model(options);  // neither side named one
  if (!model.empty()) body["model"] = model;
  json messages = json::array();
  for (const auto& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  body["messages"] = messages;
  body["stream"] = request.stream;
  if (request.stream) body["stream_options"] = {{"include_usage", true}};
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  return dump_json(body);
}

// A streamed answer: the event stream's chunks, folded into one result.
struct StreamState {
  UpstreamResult result;
  std::optional<Error> error;
  bool stopped = false;   // the consumer asked to stop
  bool done = false;      // "[DONE]"
  bool finished = false;  // a choice said why it ended (finish_reason)
  bool overflow = false;  // a line past the bound
  bool got_token = false;

  // Whether the transfer should go on.
  bool wanted() const { return !overflow && !error && !stopped; }

  void event(std::string_view data, const std::function<bool(std::string_view)>& on_token) {
    if (!wanted() || done) return;
    auto delta = parse_upstream_chunk(data);
    if (!delta) {
      error = std::move(delta).error();
      return;
    }
    if (delta->done) {
      done = true;
      return;
    }
    if (delta->total_tokens) result.total_tokens = *delta->total_tokens;
    if (delta->finished) finished = true;
    if (!delta->content.empty()) {
      got_token = true;
      result.text += delta->content;
      if (!on_token(delta->content)) stopped = true;
    }
  }
};

Result<UpstreamResult> parse_completion(const std::string& raw) {
  auto parsed = parse_json(raw, "upstream", JsonLimits{kMaxBody, 64}, Errc::protocol);
  json doc = parsed ? std::move(parsed).value() : json();
  if (!doc.is_object() || !doc.contains("choices") || !doc["choices"].is_array() || doc["choices"].empty())
    return make_error(Errc::protocol, "upstream: expected a chat.completion object with choices");
  UpstreamResult result;
  const auto& c = doc["choices"][0];
  if (c.is_object() && c.contains("message") && c["message"].is_object() && c["message"].contains("content") &&
      c["message"]["content"].is_string())
    result.text = c["message"]["content"].get<std::string>();
  if (doc.contains("usage") && doc["usage"].is_object() && doc["usage"].contains("total_tokens") &&
      doc["usage"]["total_tokens"].is_number_integer())
    result.total_tokens = doc["usage"]["total_tokens"].get<int64_t>();
  return result;
}

}  // namespace

Result<std::vector<std::string>> list_upstream_models(const UpstreamOptions& options) {
  if (options.url == "demo") return std::vector<std::string>{"demo"};
  std::string url = options.url;
  const std::string suffix = "/chat/completions";
  if (url.size() >= suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0)
    url.resize(url.size() - suffix.size());
  net::HttpRequest http;
  http.url = url + "/models";
  http.method = "GET";
  http.headers = {"Accept: application/json"};
  http.max_body = 1u << 20;
  http.max_error_body = kMaxErrorBody;
  http.connect_timeout_s = options.connect_timeout_s;
  http.idle_timeout_s = options.idle_timeout_s;
  CONFER_TRY(auto response, net::http_request(http));
  if (response.status != 200)
    return make_error(Errc::protocol, fmt::format("upstream answered HTTP {} for the model list: {}", response.status,
                                                  error_message(response.body)));
  CONFER_TRY(json doc, parse_json(response.body, "upstream model list", JsonLimits{1u << 20, 16}, Errc::protocol));
  std::vector<std::string> ids;
  if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
    return make_error(Errc::protocol, "upstream model list: expected {\"data\": [{\"id\": ...}, ...]}");
  for (const auto& m : doc["data"]) {
    if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
    if (ids.size() == 1000) break;
  }
  return ids;
}

std::string first_upstream_model(const UpstreamOptions& options) {
  static std::mutex mu;
  static std::map<std::string, std::string> known;
  {
    std::lock_guard lock(mu);
    if (auto it = known.find(options.url); it != known.end()) return it->second;
  }
  // Asked once per upstream: one that lists nothing (or has no such route) is left to
  // pick its own default, without a second round trip on every request.
  auto ids = list_upstream_models(options);
  std::string first = ids && !ids->empty() ? ids->front() : std::string();
  std::lock_guard lock(mu);
  return known.emplace(options.url, first).first->second;
}

Result<UpstreamResult> call_upstream(const UpstreamOptions& options, const ChatRequest& request,
                                     const std::function<bool(std::string_view)>& on_token,
                                     const std::function<bool()>& wanted) {
  if (options.url == "demo") return demo_answer(request, on_token);
  StreamState state;
  SseParser sse([&](std::string_view data) { state.event(data, on_token); });
  net::HttpRequest http;
  http.url = options.url;
  http.method = "POST";
  http.body = upstream_body(options, request);
  http.headers = {"Content-Type: application/json",
                  request.stream ? "Accept: text/event-stream" : "Accept: application/json"};
  http.max_body = kMaxBody;
  http.max_error_body = kMaxErrorBody;
  http.connect_timeout_s = options.connect_timeout_s;
  http.idle_timeout_s = options.idle_timeout_s;
  // The deadlines are judged by tokens, not bytes: keep-alive comments and empty
  // deltas reset the idle timer but never hold a slot past these.
  auto started = std::chrono::steady_clock::now();
  bool silent = false;
  http.idle_expired = &silent;
  std::optional<Error> expired;
  http.keep_going = [&] {
    if (wanted && !wanted()) {
      state.stopped = true;
      return false;
    }
    auto elapsed = std::chrono::steady_clock::now() - started;
    if (request.stream && !state.got_token && elapsed >= std::chrono::seconds(options.first_token_timeout_s)) {
      expired = Error{Errc::protocol, fmt::format("upstream sent no token within {} s (--upstream-first-token-timeout)",
                                                  options.first_token_timeout_s)};
      return false;
    }
    if (elapsed >= std::chrono::seconds(options.total_timeout_s)) {
      expired = Error{Errc::protocol, fmt::format("upstream did not finish the answer within {} s "
                                                  "(--upstream-total-timeout)", options.total_timeout_s)};
      return false;
    }
    return true;
  };
  if (request.stream)
    http.on_body = [&](std::string_view bytes) {
      if (!sse.feed(bytes)) state.overflow = true;
      return state.wanted();
    };
  auto response = net::http_request(http);
  if (expired) return std::move(*expired);
  if (state.stopped) return std::move(state.result);
  if (state.error) return std::move(*state.error);
  if (state.overflow) return make_error(Errc::protocol, "upstream: an event-stream line exceeded 1 MiB");
  if (!response) {
    if (silent)
      return make_error(Errc::protocol, fmt::format("upstream sent nothing for {} s (--upstream-timeout)",
                                                    options.idle_timeout_s));
    return Error{response.error().code, "upstream " + response.error().message};
  }
  if (response->status != 200)
    return make_error(Errc::protocol,
                      fmt::format("upstream answered HTTP {}: {}", response->status, error_message(response->body)));
  if (!request.stream) return parse_completion(response->body);
  if (!state.done && !state.finished)
    return make_error(Errc::protocol,
                      state.result.text.empty()
                          ? std::string("upstream: the event stream ended without data")
                          : fmt::format("upstream: the event stream ended before the answer was finished (no [DONE] "
                                        "or finish_reason after {} bytes of text)",
                                        state.result.text.size()));
  return std::move(state.result);
}

}  // namespace confer::server
