// confer-server: runs inside the confidential VM. Attestation provider + Noise responder +
// OpenAI-compatible upstream proxy. It never logs message content.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "crypto/x509.hpp"
#include "core/bytes.hpp"
#include "server/server.hpp"

using namespace confer;

namespace {

int fail(const std::string& what, const std::string& hint = {}) {
  std::fprintf(stderr, "confer-server: error: %s\n", what.c_str());
  if (!hint.empty()) std::fprintf(stderr, "confer-server: hint: %s\n", hint.c_str());
  return 1;
}

// The development provider's measurement: SHA-384 of the running binary, so that a
// developer can pin exactly what they started.
Bytes self_measurement() {
  auto exe = read_file("/proc/self/exe");
  if (!exe) return Bytes(48, 0);
  return crypto::sha384(*exe);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"confer-server: the attested end of confer's channel, in front of an OpenAI-compatible model"};
  std::string listen = "127.0.0.1:8080", upstream, model, attestation = "tsm", manifest_path, bundle_path,
              dev_root, dev_product = "milan", tsm_root = "/sys/kernel/config/tsm/report", port_file;
  server::ServerConfig config;
  int idle = 300, upstream_idle = 120;
  app.add_option("--listen", listen, "Address and port to listen on (HOST:PORT; port 0 picks one)");
  app.add_option("--upstream", upstream, "OpenAI-compatible base URL (e.g. http://127.0.0.1:8000), or 'demo'")->required();
  app.add_option("--model", model, "Model name sent upstream when the client names none");
  app.add_option("--attestation", attestation, "Evidence provider: tsm (configfs-tsm) or dev (local test chain, NOT AMD)")
      ->check(CLI::IsMember({"tsm", "dev"}));
  app.add_option("--manifest", manifest_path, "Signed release manifest to send with the evidence");
  app.add_option("--manifest-bundle", bundle_path, "Sigstore bundle of the manifest");
  app.add_option("--dev-root", dev_root, "With --attestation dev: write the development root certificate here");
  app.add_option("--dev-product", dev_product, "With --attestation dev: milan, genoa or turin")
      ->check(CLI::IsMember({"milan", "genoa", "turin"}));
  app.add_option("--tsm-root", tsm_root, "configfs-tsm report directory");
  app.add_option("--threads", config.io_threads, "I/O threads")->check(CLI::Range(1, 64));
  app.add_option("--max-connections", config.max_connections, "Concurrent connections");
  app.add_option("--idle-timeout", idle, "Seconds a connection may stay silent")->check(CLI::Range(1, 86400));
  app.add_option("--upstream-timeout", upstream_idle, "Seconds the upstream may stay silent")->check(CLI::Range(1, 3600));
  app.add_option("--port-file", port_file, "Write the bound port here once listening (for scripts and tests)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "confer-server: error: %s\n", e.what());
    return 2;
  }
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return fail("--listen: expected HOST:PORT, saw '" + listen + "'");
  config.host = listen.substr(0, colon);
  if (config.host.size() > 2 && config.host.front() == '[') config.host = config.host.substr(1, config.host.size() - 2);
  try {
    config.port = static_cast<unsigned short>(std::stoul(listen.substr(colon + 1)));
  } catch (...) {
    return fail("--listen: expected a port number, saw '" + listen.substr(colon + 1) + "'");
  }
  config.idle_timeout = std::chrono::seconds(idle);
  config.upstream.url = server::chat_completions_url(upstream);
  config.upstream.default_model = model;
  config.upstream.idle_timeout_s = upstream_idle;

  std::optional<server::ReleaseManifest> manifest;
  if (manifest_path.empty() != bundle_path.empty())
    return fail("--manifest and --manifest-bundle go together");
  if (!manifest_path.empty()) {
    auto m = read_file(manifest_path);
    auto b = read_file(bundle_path);
    if (!m) return fail(m.error().message);
    if (!b) return fail(b.error().message);
    manifest = server::ReleaseManifest{std::string(m->begin(), m->end()), std::string(b->begin(), b->end())};
  }

  std::unique_ptr<server::AttestationProvider> provider;
  if (attestation == "dev") {
    std::fprintf(stderr, "confer-server: generating a development attestation chain (NOT AMD; clients refuse it "
                         "unless told to trust it)\n");
    auto p = server::make_dev_provider(dev_product, dev_root, self_measurement(), manifest);
    if (!p) return fail(p.error().message);
    provider = std::move(p).value();
  } else {
    provider = server::make_tsm_provider(tsm_root, manifest);
  }
  std::string description = provider->describe();
  auto srv = server::make_server(config, std::move(provider));
  if (!srv) return fail(srv.error().message, attestation == "tsm" ? "inside a confidential VM configfs-tsm must be mounted; for development use --attestation dev" : "");
  // Signals are taken by one thread with sigwait, so stopping runs in ordinary code.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  server::Server* running = srv->get();
  std::thread([stop_signals, running] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    running->stop();
  }).detach();
  std::fprintf(stderr, "confer-server: attestation: %s\n", description.c_str());
  if (!dev_root.empty()) std::fprintf(stderr, "confer-server: development root written to %s\n", dev_root.c_str());
  std::fprintf(stderr, "confer-server: static key %s (bound into the evidence)\n", to_hex((*srv)->static_key()).c_str());
  std::fprintf(stderr, "confer-server: listening on %s:%u, upstream %s\n", config.host.c_str(), (*srv)->port(),
               config.upstream.url.c_str());
  if (!port_file.empty()) {
    std::string text = std::to_string((*srv)->port()) + "\n";
    if (auto w = write_file_atomic(port_file, as_bytes(text)); !w) return fail(w.error().message);
  }
  (*srv)->run();
  std::fprintf(stderr, "confer-server: stopped\n");
  return 0;
}
