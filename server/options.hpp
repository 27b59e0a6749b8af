// confer-server's options: one table (declare_options), then turned into the server's
// configuration, the release manifest and the attestation provider. main() is only
// the order of these steps.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "server/attestation.hpp"
#include "server/server.hpp"

namespace confer::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";
  std::string upstream;
  std::string model;
  std::string attestation = "tsm";
  std::string manifest_path;
  std::string bundle_path;
  std::string dev_root;
  std::string dev_product = "milan";
  std::string tsm_root = "/sys/kernel/config/tsm/report";
  std::string tdx_collateral;  // TDX: Intel collateral directory sent with each quote
  std::string ita_url;         // TDX: Intel Trust Authority to appraise each quote (its token is sent)
  std::string ita_api_key_file;
  std::string port_file;
  int threads = 2;
  // Limits (docs/security.md lists each with its default).
  int64_t max_connections = 256;
  int64_t max_connections_per_ip = 32;
  int handshake_timeout_s = 10;
  int client_verify_timeout_s = 120;
  int idle_timeout_s = 300;
  int upstream_concurrency = 64;
  int upstream_timeout_s = 120;
  int upstream_first_token_timeout_s = 60;
  int upstream_total_timeout_s = 600;
  int64_t max_send_buffer = 1 << 20;
  int64_t max_total_buffer = int64_t{256} << 20;
  int grace_s = 10;
  std::string store;           // empty: store::default_store_spec(); "none": no accounts
  std::string token_key_file;  // empty: a random key for this process
  std::string rp_id = "confer.to";
  std::string origin;          // empty: https://<rp_id>
};

void declare_options(CLI::App& app, ServerOptions& o);

// The development provider's measurement: SHA-384 of the running binary, so that a
// developer can pin exactly what they started.
Bytes self_measurement();

// Where --attestation dev writes its root without --dev-root: $XDG_RUNTIME_DIR/confer-server/
// (else $XDG_STATE_HOME, else ~/.local/state), the folder made 0700.
Result<std::string> default_dev_root();
// Why the upstream cannot be reached now (a TCP connect, two seconds at most), if it cannot.
std::optional<std::string> upstream_unreachable(const std::string& url);
// Binds and listens on --listen before seconds go into generating keys, so a taken port
// fails at once; the server takes the socket over (ServerConfig::listen_fd).
Result<int> listen_socket(const ServerConfig& config);

// --listen, timeouts and the upstream URL; errors name the option and what was seen.
Result<ServerConfig> server_config(const ServerOptions& o);

// --store, --token-key-file, --rp-id and --origin: the store opened (and migrated), or
// none for --store none. Errors name the option.
Result<void> open_accounts(const ServerOptions& o, ServerConfig& config);

// The signed release manifest and its bundle, read and checked to be JSON (so a wrong
// file is refused here, not sent to clients), or nothing when neither is given.
Result<std::optional<ReleaseManifest>> load_manifest(const ServerOptions& o);

// The evidence provider --attestation names.
Result<std::unique_ptr<AttestationProvider>> make_provider(const ServerOptions& o,
                                                           std::optional<ReleaseManifest> manifest);

}  // namespace confer::server
