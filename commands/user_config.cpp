#include "commands/user_config.hpp"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

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
    return make_error(Errc::usage, fmt::format("config: unknown key \"{}\" (known: server, model, trust_root, "
                                               "expect_measurement, policy, sigstore_root, release_identity, "
                                               "release_issuer)", key));
  }
  return {};
}

// "~/x" is $HOME/x, as a shell would have it.
std::string expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home != nullptr && *home != '\0') return std::string(home) + path.substr(1);
  }
  return path;
}

void expand_paths(UserConfig& c) {
  for (auto& r : c.trust_roots) r = expand_home(r);
  c.policy = expand_home(c.policy);
  c.sigstore_root = expand_home(c.sigstore_root);
}

const char* toml_type(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

Result<UserConfig> parse_toml(std::string_view text) {
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view("config.toml"));
  } catch (const toml::parse_error& e) {
    return make_error(Errc::usage, fmt::format("config line {}, column {}: {}", e.source().begin.line,
                                               e.source().begin.column, e.description()));
  }
  UserConfig c;
  for (auto&& [k, v] : doc) {
    std::string key(k.str());
    std::vector<std::string> values;
    bool list = v.is_array();
    auto wrong = [&](const toml::node& n) {
      return make_error(Errc::usage, fmt::format("config line {}: \"{}\" takes {}, saw {}", n.source().begin.line, key,
                                                 list ? "strings" : "a string", toml_type(n)));
    };
    if (const auto* a = v.as_array()) {
      for (const auto& item : *a) {
        if (!item.is_string()) return wrong(item);
        values.push_back(item.as_string()->get());
      }
    } else if (v.is_string()) {
      values.push_back(v.as_string()->get());
    } else {
      return wrong(v);
    }
    CONFER_TRY_VOID(assign(c, key, values, list));
  }
  return c;
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
    expand_paths(c);
    return c;
  }
  CONFER_TRY(c, parse_toml(text));
  expand_paths(c);
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
    if (text.size() > (1u << 20))
      return make_error(Errc::usage, fmt::format("{}: expected a configuration file, saw {} bytes", p.string(),
                                                 text.size()));
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
  if (const char* v = env("CONFER_TRUST_ROOT")) c.trust_roots = {expand_home(v)};
  if (const char* v = env("CONFER_EXPECT_MEASUREMENT")) c.measurements = {v};
  if (const char* v = env("CONFER_POLICY")) c.policy = expand_home(v);
  return c;
}

}  // namespace confer::cli
