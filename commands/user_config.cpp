#include "commands/user_config.hpp"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"

#include "core/bytes.hpp"
#include "core/paths.hpp"

namespace confer::cli {

namespace {

Result<void> assign(UserConfig& c, const std::string& key, const std::vector<std::string>& values, bool is_list) {
  auto one = [&]() -> Result<std::string> {
    if (is_list || values.size() != 1)
      return make_error(Errc::usage, fmt::format("config: \"{}\" takes one string", key));
    return values[0];
  };
  if (key == "server") {
    CONFER_TRY(c.server, one());
  } else if (key == "model") {
    CONFER_TRY(c.model, one());
  } else if (key == "policy") {
    CONFER_TRY(c.policy, one());
  } else if (key == "sigstore_root") {
    CONFER_TRY(c.sigstore_root, one());
  } else if (key == "release_identity") {
    CONFER_TRY(c.release_identity, one());
  } else if (key == "release_issuer") {
    CONFER_TRY(c.release_issuer, one());
  } else if (key == "trust_root") {
    c.trust_roots = values;
  } else if (key == "expect_measurement") {
    c.measurements = values;
  } else {
    return make_error(Errc::usage, fmt::format("config: unknown key \"{}\"", key));
  }
  return {};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<std::string> toml_string(std::string_view v, size_t line) {
  v = trim(v);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"' || v.substr(1, v.size() - 2).find('"') != std::string_view::npos)
    return make_error(Errc::usage, fmt::format("config line {}: expected a \"string\"", line));
  return std::string(v.substr(1, v.size() - 2));
}

}  // namespace

Result<UserConfig> parse_user_config(std::string_view text, bool json) {
  UserConfig c;
  if (json) {
    auto parsed = parse_json(text, "config", JsonLimits{}, Errc::usage);
    if (!parsed || !parsed->is_object()) return make_error(Errc::usage, "config: expected a JSON object");
    nlohmann::json doc = std::move(parsed).value();
    for (const auto& [key, v] : doc.items()) {
      std::vector<std::string> values;
      bool list = v.is_array();
      for (const auto& item : list ? v : nlohmann::json::array({v})) {
        if (!item.is_string()) return make_error(Errc::usage, fmt::format("config: \"{}\" must hold strings", key));
        values.push_back(item.get<std::string>());
      }
      CONFER_TRY_VOID(assign(c, key, values, list));
    }
    return c;
  }
  size_t line_no = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    ++line_no;
    start = end == std::string_view::npos ? text.size() + 1 : end + 1;
    bool quoted = false;  // a '#' outside a string starts a comment
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"') quoted = !quoted;
      if (line[i] == '#' && !quoted) {
        line = line.substr(0, i);
        break;
      }
    }
    line = trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return make_error(Errc::usage, fmt::format("config line {}: expected key = value", line_no));
    std::string key(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    std::vector<std::string> values;
    bool list = !value.empty() && value.front() == '[';
    if (list) {
      if (value.back() != ']') return make_error(Errc::usage, fmt::format("config line {}: unclosed [", line_no));
      std::string_view inner = value.substr(1, value.size() - 2);
      size_t at = 0;
      while (at < inner.size()) {
        size_t comma = inner.find(',', at);
        std::string_view item = trim(inner.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
        if (!item.empty()) {
          CONFER_TRY(std::string s, toml_string(item, line_no));
          values.push_back(std::move(s));
        }
        if (comma == std::string_view::npos) break;
        at = comma + 1;
      }
    } else {
      CONFER_TRY(std::string s, toml_string(value, line_no));
      values.push_back(std::move(s));
    }
    CONFER_TRY_VOID(assign(c, key, values, list));
  }
  return c;
}

Result<UserConfig> load_user_config() {
  UserConfig c;
  namespace fs = std::filesystem;
  for (const char* name : {"config.toml", "config.json"}) {
    fs::path p = fs::path(config_dir()) / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    CONFER_TRY(Bytes text, read_file(p.string()));
    auto parsed = parse_user_config(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                                    std::string_view(name) == "config.json");
    if (!parsed) return make_error(Errc::usage, p.string() + ": " + parsed.error().message);
    c = std::move(parsed).value();
    c.source = p.string();
    break;
  }
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
  };
  if (const char* v = env("CONFER_SERVER")) c.server = v;
  if (const char* v = env("CONFER_MODEL")) c.model = v;
  if (const char* v = env("CONFER_TRUST_ROOT")) c.trust_roots = {v};
  if (const char* v = env("CONFER_EXPECT_MEASUREMENT")) c.measurements = {v};
  if (const char* v = env("CONFER_POLICY")) c.policy = v;
  return c;
}

}  // namespace confer::cli
