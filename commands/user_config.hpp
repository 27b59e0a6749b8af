// The user's defaults: $XDG_CONFIG_HOME/confer/config.toml or config.json, then
// environment overrides. Flags override both.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"

namespace confer::cli {

struct UserConfig {
  std::string server;                     // server = "wss://..."     CONFER_SERVER
  std::string model;                      // model = "..."            CONFER_MODEL
  std::vector<std::string> trust_roots;   // trust_root = "path"      CONFER_TRUST_ROOT
  std::vector<std::string> measurements;  // expect_measurement = ["hex", ...]  CONFER_EXPECT_MEASUREMENT
  std::string policy;                     // policy = "path"          CONFER_POLICY
  std::string sigstore_root;              // sigstore_root = "trusted_root.json"
  std::string release_identity;           // release_identity = "releases@example.iam..."
  std::string release_issuer;             // release_issuer = "https://accounts.google.com"
  std::string source;                     // the file read, if any
};

// A flat TOML subset (key = "string" | ["strings"], # comments) or the same keys in JSON.
Result<UserConfig> parse_user_config(std::string_view text, bool json);
Result<UserConfig> load_user_config();

}  // namespace confer::cli
