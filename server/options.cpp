#include "server/options.hpp"

#include <fmt/format.h>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/bytes.hpp"
#include "core/json.hpp"
#include "crypto/hash.hpp"
#include "crypto/secret.hpp"
#include "server/store/store.hpp"

namespace confer::server {

void declare_options(CLI::App& app, ServerOptions& o) {
  app.add_option("--listen", o.listen, "Address and port to listen on (HOST:PORT; port 0 picks one)");
  app.add_option("--upstream", o.upstream, "OpenAI-compatible base URL (e.g. http://127.0.0.1:8000), or 'demo'")
      ->required();
  app.add_option("--model", o.model, "Model name sent upstream when the client names none");
  app.add_option("--attestation", o.attestation,
                 "Evidence provider: tsm (configfs-tsm) or dev (local test chain, NOT AMD)")
      ->check(CLI::IsMember({"tsm", "dev"}));
  app.add_option("--manifest", o.manifest_path, "Signed release manifest to send with the evidence");
  app.add_option("--manifest-bundle", o.bundle_path, "Sigstore bundle of the manifest");
  app.add_option("--dev-root", o.dev_root,
                 "With --attestation dev: write the development root certificate here (default "
                 "$XDG_RUNTIME_DIR/confer-server/dev-root.pem, else under $XDG_STATE_HOME)");
  app.add_option("--dev-product", o.dev_product, "With --attestation dev: milan, genoa or turin")
      ->check(CLI::IsMember({"milan", "genoa", "turin"}));
  app.add_option("--tsm-root", o.tsm_root, "configfs-tsm report directory");
  app.add_option("--tdx-collateral", o.tdx_collateral,
                 "TDX: a directory of Intel collateral sent with each quote, re-read on every quote (tcb_info.json, "
                 "qe_identity.json, the CRLs and issuer chains)");
  app.add_option("--ita-url", o.ita_url,
                 "TDX: send each quote to this Intel Trust Authority (e.g. https://api.trustauthority.intel.com) and "
                 "the token it issues instead of the quote");
  app.add_option("--ita-api-key-file", o.ita_api_key_file, "TDX: file holding the Intel Trust Authority API key");
  app.add_option("--threads", o.threads, "I/O threads")->check(CLI::Range(1, 64));
  app.add_option("--max-connections", o.max_connections,
                 "Connections at once, counted from accept; when full, the oldest one without a finished "
                 "handshake makes room")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  app.add_option("--max-connections-per-ip", o.max_connections_per_ip, "Connections at once from one address")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  app.add_option("--handshake-timeout", o.handshake_timeout_s,
                 "Seconds from accept until the client's Noise message 1 must have arrived")
      ->check(CLI::Range(1, 3600));
  app.add_option("--client-verify-timeout", o.client_verify_timeout_s,
                 "Seconds the client may take to verify the evidence (message 2 sent until message 3 arrives)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--idle-timeout", o.idle_timeout_s,
                 "Seconds a connection may go without a whole message in either direction")
      ->check(CLI::Range(1, 86400));
  app.add_option("--upstream-concurrency", o.upstream_concurrency, "Upstream calls at once (queued beyond)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--upstream-timeout", o.upstream_timeout_s, "Seconds the upstream may send nothing")
      ->check(CLI::Range(1, 3600));
  app.add_option("--upstream-first-token-timeout", o.upstream_first_token_timeout_s,
                 "Seconds the upstream may take to its first token")
      ->check(CLI::Range(1, 3600));
  app.add_option("--upstream-total-timeout", o.upstream_total_timeout_s, "Seconds one answer may take in all")
      ->check(CLI::Range(1, 86400));
  app.add_option("--max-send-buffer", o.max_send_buffer,
                 "Bytes waiting for one slow client before the upstream is read no further")
      ->check(CLI::Range(int64_t{65536}, int64_t{1} << 30));
  app.add_option("--max-total-buffer", o.max_total_buffer,
                 "Bytes waiting for all clients, and in their partial requests")
      ->check(CLI::Range(int64_t{1} << 20, int64_t{1} << 40));
  app.add_option("--grace", o.grace_s,
                 "On SIGTERM or SIGINT: seconds answers in flight get to finish before they are cut")
      ->check(CLI::Range(0, 3600));
  app.add_option("--port-file", o.port_file, "Write the bound port here once listening (for scripts and tests)");
  app.add_option("--store", o.store,
                 "Accounts and records: sqlite:PATH (default $XDG_STATE_HOME/confer-server/store.db), "
                 "postgresql://... (shared by several servers), or none");
  app.add_option("--token-key-file", o.token_key_file,
                 "Key (32+ bytes) that signs session tokens; servers sharing a store share it (default: random "
                 "per process)");
  app.add_option("--rp-id", o.rp_id, "WebAuthn relying party id that assertions must name");
  app.add_option("--origin", o.origin, "WebAuthn origin that clientDataJSON must name (default https://RP-ID)");
}

Result<void> open_accounts(const ServerOptions& o, ServerConfig& config) {
  if (o.store == "none") return {};
  std::string spec = o.store.empty() ? store::default_store_spec() : o.store;
  auto opened = store::open_store(spec);
  if (!opened) {
    if (opened.error().code == Errc::usage) return std::move(opened).error();
    return make_error(opened.error().code, "--store: " + opened.error().message);
  }
  config.store = std::shared_ptr<store::Store>(std::move(opened).value());
  config.accounts.rp_id = o.rp_id;
  config.accounts.origin = o.origin.empty() ? "https://" + o.rp_id : o.origin;
  if (!o.token_key_file.empty()) {
    auto key = read_file(o.token_key_file);
    if (!key) return make_error(Errc::io, "--token-key-file: " + key.error().message);
    if (key->size() < 32)
      return make_error(Errc::usage, fmt::format("--token-key-file {}: expected at least 32 bytes, saw {}",
                                                 o.token_key_file, key->size()));
    config.accounts.token_key = std::move(key).value();
  } else {
    config.accounts.token_key.resize(32);
    CONFER_TRY_VOID(crypto::fill_random(config.accounts.token_key.data(), 32));
  }
  return {};
}

Result<ServerConfig> server_config(const ServerOptions& o) {
  ServerConfig config;
  size_t colon = o.listen.rfind(':');
  if (colon == std::string::npos)
    return make_error(Errc::usage, "--listen: expected HOST:PORT, saw '" + o.listen + "'");
  config.host = o.listen.substr(0, colon);
  if (config.host.size() > 2 && config.host.front() == '[') config.host = config.host.substr(1, config.host.size() - 2);
  std::string port = o.listen.substr(colon + 1);
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return make_error(Errc::usage, "--listen: expected a port number (0-65535), saw '" + port + "'");
  config.port = static_cast<unsigned short>(value);
  config.io_threads = o.threads;
  config.max_connections = static_cast<size_t>(o.max_connections);
  config.max_connections_per_ip = static_cast<size_t>(o.max_connections_per_ip);
  config.handshake_timeout = std::chrono::seconds(o.handshake_timeout_s);
  config.client_verify_timeout = std::chrono::seconds(o.client_verify_timeout_s);
  config.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  config.upstream_threads = o.upstream_concurrency;
  config.max_send_buffer = static_cast<size_t>(o.max_send_buffer);
  config.max_total_buffer = static_cast<size_t>(o.max_total_buffer);
  config.grace = std::chrono::seconds(o.grace_s);
  if (o.upstream != "demo" && o.upstream.rfind("http://", 0) != 0 && o.upstream.rfind("https://", 0) != 0)
    return make_error(Errc::usage, "--upstream: expected an http:// or https:// base URL, or 'demo', saw '" +
                                       o.upstream + "'");
  config.upstream.url = chat_completions_url(o.upstream);
  config.upstream.default_model = o.model;
  config.upstream.idle_timeout_s = o.upstream_timeout_s;
  config.upstream.first_token_timeout_s = o.upstream_first_token_timeout_s;
  config.upstream.total_timeout_s = o.upstream_total_timeout_s;
  return config;
}

namespace {

Result<std::string> read_json_file(std::string_view option, const std::string& path, std::string_view what) {
  CONFER_TRY(Bytes bytes, read_file(path));
  auto parsed = parse_json(bytes, what, JsonLimits{1 << 20, 64}, Errc::parse);
  if (!parsed) return make_error(Errc::parse, fmt::format("{} {}: {}", option, path, parsed.error().message));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

Bytes self_measurement() {
  static const Bytes measured = [] {
    auto exe = read_file("/proc/self/exe");
    return exe ? crypto::sha384(*exe) : Bytes(48, 0);
  }();
  return measured;
}

Result<std::optional<ReleaseManifest>> load_manifest(const ServerOptions& o) {
  if (o.manifest_path.empty() != o.bundle_path.empty())
    return make_error(Errc::usage, "--manifest and --manifest-bundle go together");
  if (o.manifest_path.empty()) return std::optional<ReleaseManifest>();
  CONFER_TRY(std::string manifest, read_json_file("--manifest", o.manifest_path, "the release manifest"));
  CONFER_TRY(std::string bundle, read_json_file("--manifest-bundle", o.bundle_path, "the Sigstore bundle"));
  return std::optional<ReleaseManifest>(ReleaseManifest{std::move(manifest), std::move(bundle)});
}

Result<std::unique_ptr<AttestationProvider>> make_provider(const ServerOptions& o,
                                                           std::optional<ReleaseManifest> manifest) {
  if (o.attestation == "dev") return make_dev_provider(o.dev_product, o.dev_root, self_measurement(), manifest);
  TsmOptions tsm;
  tsm.tdx_collateral = o.tdx_collateral;
  tsm.ita_url = o.ita_url;
  if (!o.ita_api_key_file.empty() && o.ita_url.empty())
    return make_error(Errc::usage, "--ita-api-key-file goes with --ita-url");
  if (!o.ita_url.empty() && !o.tdx_collateral.empty())
    return make_error(Errc::usage, "--ita-url sends Intel Trust Authority's token, not the quote: --tdx-collateral "
                                   "would never be sent");
  if (!o.ita_api_key_file.empty()) {
    CONFER_TRY(Bytes key, read_file(o.ita_api_key_file));
    std::string text(key.begin(), key.end());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    if (text.empty() || text.find_first_of("\r\n") != std::string::npos)
      return make_error(Errc::usage, "--ita-api-key-file: expected one line holding the API key");
    tsm.ita_api_key = std::move(text);
  }
  return make_tsm_provider(o.tsm_root, std::move(manifest), tsm);
}

Result<std::string> default_dev_root() {
  std::string base;
  if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run) {
    base = run;
  } else if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) {
    base = state;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::string(home) + "/.local/state";
  } else {
    return make_error(Errc::usage, "no $XDG_RUNTIME_DIR, $XDG_STATE_HOME or $HOME for the development root: "
                                   "give --dev-root PATH");
  }
  std::string dir = base + "/confer-server";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, fmt::format("creating {}: {}", dir, ec.message()));
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  return dir + "/dev-root.pem";
}

Result<int> listen_socket(const ServerConfig& config) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(config.port);
  if (::getaddrinfo(config.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr)
    return make_error(Errc::usage, fmt::format("--listen: expected a numeric address, saw '{}'", config.host));
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = fd < 0 ? -1 : ::bind(fd, found->ai_addr, found->ai_addrlen);
  if (rc == 0) rc = ::listen(fd, SOMAXCONN);
  int err = errno;
  ::freeaddrinfo(found);
  if (rc != 0) {
    if (fd >= 0) ::close(fd);
    return make_error(Errc::usage, fmt::format("--listen {}:{}: cannot bind: {}", config.host, config.port,
                                               std::strerror(err)));
  }
  return fd;
}

std::optional<std::string> upstream_unreachable(const std::string& url) {
  if (url == "demo") return std::nullopt;
  bool tls = url.rfind("https://", 0) == 0;
  std::string rest = url.substr(tls ? 8 : 7);
  std::string authority = rest.substr(0, rest.find('/'));
  std::string host = authority, port = tls ? "443" : "80";
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || found == nullptr)
    return fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc));
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = fd < 0 ? -1 : ::connect(fd, found->ai_addr, found->ai_addrlen);
  int err = rc == 0 ? 0 : errno;
  ::freeaddrinfo(found);
  if (rc != 0 && err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    err = ::poll(&p, 1, 2000) == 1 ? 0 : ETIMEDOUT;
    socklen_t len = sizeof err;
    if (err == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  if (fd >= 0) ::close(fd);
  if (err != 0) return fmt::format("{}:{}: {}", host, port, std::strerror(err));
  return std::nullopt;
}

}  // namespace confer::server
