// JSON from outside the process (peers, upstreams, evidence, bundles, config, files):
// one bounded parse, type-checked access, and a dump that cannot throw.
//
// nlohmann's DOM is built recursively enough that a document nested a few hundred
// thousand deep overflows the stack (in parsing, dumping or destroying it), so every
// parse of outside bytes goes through parse_json(), which refuses over-deep or
// oversized input before nlohmann sees it.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer {

struct JsonLimits {
  size_t max_bytes = 1 << 20;
  size_t max_depth = 64;  // nested arrays and objects
};

// Parses `text` as one JSON document. Errors (with `code`) name `what`, and say whether
// the text was too large, too deep, or not JSON (with the byte offset).
Result<nlohmann::json> parse_json(std::string_view text, std::string_view what, JsonLimits limits = {},
                                  Errc code = Errc::parse);
Result<nlohmann::json> parse_json(ByteView bytes, std::string_view what, JsonLimits limits = {},
                                  Errc code = Errc::parse);
// A JSON object, else an error naming what was seen.
Result<nlohmann::json> parse_json_object(std::string_view text, std::string_view what, JsonLimits limits = {},
                                         Errc code = Errc::parse);

// Never throws: invalid UTF-8 in strings is replaced with U+FFFD.
std::string dump_json(const nlohmann::json& j, int indent = -1) noexcept;
std::string dump_json(const nlohmann::ordered_json& j, int indent = -1) noexcept;

namespace json_detail {
using nlohmann::json;

inline Error parse_error(std::string message) { return make_error(Errc::parse, std::move(message)); }

inline const char* json_type(const json& j) { return j.type_name(); }

// The member `key` of object `obj`, or nullptr when absent or null.
inline const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline Result<const json*> required_object(const json& obj, const char* key, std::string_view where) {
  const json* m = member(obj, key);
  if (m == nullptr) return parse_error(fmt::format("{}: expected an object '{}', saw none", where, key));
  if (!m->is_object())
    return parse_error(fmt::format("{}: expected '{}' to be an object, saw {}", where, key, json_type(*m)));
  return m;
}

inline Result<std::string> required_string(const json& obj, const char* key, std::string_view where) {
  const json* m = member(obj, key);
  if (m == nullptr) return parse_error(fmt::format("{}: expected a string '{}', saw none", where, key));
  if (!m->is_string())
    return parse_error(fmt::format("{}: expected '{}' to be a string, saw {}", where, key, json_type(*m)));
  return m->get<std::string>();
}

inline Result<std::optional<std::string>> optional_string(const json& obj, const char* key,
                                                          std::string_view where) {
  const json* m = member(obj, key);
  if (m == nullptr) return std::optional<std::string>{};
  if (!m->is_string())
    return parse_error(fmt::format("{}: expected '{}' to be a string, saw {}", where, key, json_type(*m)));
  return std::optional<std::string>(m->get<std::string>());
}

inline Result<Bytes> required_base64(const json& obj, const char* key, std::string_view where) {
  CONFER_TRY(std::string text, required_string(obj, key, where));
  auto bytes = from_base64(text);
  if (!bytes) return parse_error(fmt::format("{}: '{}' is not valid base64", where, key));
  return std::move(bytes).value();
}

// protobuf-JSON int64: a decimal string or a JSON integer. Negative values are refused.
inline Result<int64_t> to_int64(const json& v, std::string_view what) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max()))
      return parse_error(fmt::format("{}: expected a 63-bit integer, saw {}", what, u));
    return int64_t(u);
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (i < 0) return parse_error(fmt::format("{}: expected a non-negative integer, saw {}", what, i));
    return i;
  }
  if (!v.is_string())
    return parse_error(fmt::format("{}: expected an integer or a decimal string, saw {}", what, json_type(v)));
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 19)
    return parse_error(fmt::format("{}: expected a non-negative decimal integer, saw '{}'", what, s));
  uint64_t out = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return parse_error(fmt::format("{}: expected a non-negative decimal integer, saw '{}'", what, s));
    out = out * 10 + uint64_t(c - '0');
  }
  if (out > uint64_t(std::numeric_limits<int64_t>::max()))
    return parse_error(fmt::format("{}: expected a 63-bit integer, saw '{}'", what, s));
  return int64_t(out);
}

inline Result<int64_t> required_int64(const json& obj, const char* key, std::string_view where) {
  const json* m = member(obj, key);
  if (m == nullptr) return parse_error(fmt::format("{}: expected an integer '{}', saw none", where, key));
  return to_int64(*m, fmt::format("{}.{}", where, key));
}

}  // namespace json_detail

using json_detail::member;
using json_detail::required_object;
using json_detail::required_string;
using json_detail::optional_string;
using json_detail::required_base64;
using json_detail::to_int64;
using json_detail::required_int64;

}  // namespace confer
