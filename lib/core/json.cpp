#include "core/json.hpp"

namespace confer {

namespace {

// Nesting depth and well-formed brackets, scanning strings and escapes only: a linear
// pass that bounds the recursion nlohmann would do. Errors name the byte offset.
Result<void> check_depth(std::string_view text, std::string_view what, size_t max_depth, Errc code) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return make_error(code, fmt::format("{}: expected JSON nested at most {} deep, saw deeper at byte {}", what,
                                            max_depth, i));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return {};
}

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, std::string_view what, JsonLimits limits, Errc code) {
  if (text.size() > limits.max_bytes)
    return make_error(code, fmt::format("{}: expected JSON of at most {} bytes, saw {}", what, limits.max_bytes,
                                        text.size()));
  CONFER_TRY_VOID(check_depth(text, what, limits.max_depth, code));
  std::string detail;
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    detail = e.what();
  } catch (const std::exception& e) {
    detail = e.what();
  }
  // nlohmann's text: "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
  if (auto at = detail.find("] "); at != std::string::npos) detail = detail.substr(at + 2);
  // "...; last read: '<bytes>'" quotes the input, which may be a secret or not text.
  if (auto at = detail.find("; last read:"); at != std::string::npos) detail.resize(at);
  return make_error(code, fmt::format("{}: expected JSON, saw text that is not ({})", what, detail));
}

Result<nlohmann::json> parse_json(ByteView bytes, std::string_view what, JsonLimits limits, Errc code) {
  return parse_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), what, limits, code);
}

Result<nlohmann::json> parse_json_object(std::string_view text, std::string_view what, JsonLimits limits, Errc code) {
  CONFER_TRY(nlohmann::json doc, parse_json(text, what, limits, code));
  if (!doc.is_object()) return make_error(code, fmt::format("{}: expected a JSON object, saw {}", what, doc.type_name()));
  return doc;
}

std::string dump_json(const nlohmann::json& j, int indent) noexcept {
  try {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (...) {
    return "null";
  }
}

std::string dump_json(const nlohmann::ordered_json& j, int indent) noexcept {
  try {
    return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  } catch (...) {
    return "null";
  }
}

}  // namespace confer
