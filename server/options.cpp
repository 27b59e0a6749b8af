#include "server/options.hpp"

#include <fmt/format.h>

#include <charconv>

#include "core/bytes.hpp"
#include "core/json.hpp"
#include "crypto/hash.hpp"

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
  app.add_option("--dev-root", o.dev_root, "With --attestation dev: write the development root certificate here");
  app.add_option("--dev-product", o.dev_product, "With --attestation dev: milan, genoa or turin")
      ->check(CLI::IsMember({"milan", "genoa", "turin"}));
  app.add_option("--tsm-root", o.tsm_root, "configfs-tsm report directory");
  app.add_option("--threads", o.threads, "I/O threads")->check(CLI::Range(1, 64));
  app.add_option("--max-connections", o.max_connections, "Concurrent connections");
  app.add_option("--idle-timeout", o.idle_timeout_s, "Seconds a connection may stay silent")
      ->check(CLI::Range(1, 86400));
  app.add_option("--upstream-timeout", o.upstream_timeout_s, "Seconds the upstream may stay silent")
      ->check(CLI::Range(1, 3600));
  app.add_option("--port-file", o.port_file, "Write the bound port here once listening (for scripts and tests)");
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
  config.max_connections = o.max_connections;
  config.idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  config.upstream.url = chat_completions_url(o.upstream);
  config.upstream.default_model = o.model;
  config.upstream.idle_timeout_s = o.upstream_timeout_s;
  return config;
}

namespace {

Result<std::string> read_json_file(std::string_view option, const std::string& path, std::string_view what) {
  CONFER_TRY(Bytes bytes, read_file(path));
  auto parsed = parse_json(bytes, what, JsonLimits{1 << 20, 64}, Errc::parse);
  if (!parsed) return make_error(Errc::parse, fmt::format("{} {}: {}", option, path, parsed.error().message));
  return std::string(bytes.begin(), bytes.end());
}

// The development provider's measurement: SHA-384 of the running binary, so that a
// developer can pin exactly what they started.
Bytes self_measurement() {
  auto exe = read_file("/proc/self/exe");
  if (!exe) return Bytes(48, 0);
  return crypto::sha384(*exe);
}

}  // namespace

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
  return make_tsm_provider(o.tsm_root, std::move(manifest));
}

}  // namespace confer::server
