// confer-server: runs inside the confidential VM. Attestation provider + Noise responder +
// OpenAI-compatible upstream proxy. It never logs message content.
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/bytes.hpp"
#include "core/exception.hpp"
#include "core/hardening.hpp"
#include "server/options.hpp"

using namespace confer;

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int fail(const Error& e, const std::string& hint = {}) {
  std::fprintf(stderr, "confer-server: error: %s\n", e.message.c_str());
  if (!hint.empty()) std::fprintf(stderr, "confer-server: hint: %s\n", hint.c_str());
  return e.code == Errc::usage ? kExitUsage : kExitError;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Before any thread exists (libcurl's, the pools'), so that every thread inherits the
// mask and SIGTERM is only ever taken by sigwait below, never by default action.
void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

// Signals are taken by one thread with sigwait, so stopping (a drain: ServerConfig::grace)
// runs in ordinary code. A second signal during the drain is not needed: the drain ends
// by itself within the grace period.
void stop_on_signals(server::Server* running) {
  std::thread([running] {
    sigset_t set = stop_signals();
    int sig = 0;
    sigwait(&set, &sig);
    running->stop();
  }).detach();
}

// Each connection costs a descriptor (two while its answer streams): take what the hard
// limit allows rather than the usual soft 1024.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
    std::fprintf(stderr, "confer-server: warning: cannot raise the descriptor limit to %llu\n",
                 static_cast<unsigned long long>(limit.rlim_max));
}

// A word as the shell reads it back: quoted only when it has to be.
std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:-+=@") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The URL a client on this machine uses for `host`.
std::string client_url(const std::string& host, unsigned port) {
  std::string h = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return fmt::format("ws://{}:{}", h, port);
}

int serve(server::ServerOptions o) {
  auto config = server::server_config(o);
  if (!config) return fail(config.error());
  // Bound first: a taken port fails now, not after seconds of key generation.
  auto listening = server::listen_socket(*config);
  if (!listening) return fail(listening.error(), "another confer-server may be running; choose another port with --listen");
  config->listen_fd = *listening;
  if (auto accounts = server::open_accounts(o, *config); !accounts) return fail(accounts.error());
  if (auto why = server::upstream_unreachable(config->upstream.url))
    std::fprintf(stderr, "confer-server: warning: the upstream is not reachable now (%s); chats fail until it is\n",
                 why->c_str());
  if (o.attestation == "dev" && o.dev_root.empty()) {
    auto path = server::default_dev_root();
    if (!path) return fail(path.error());
    o.dev_root = *path;
  }
  auto manifest = server::load_manifest(o);
  if (!manifest) return fail(manifest.error());
  if (o.attestation == "dev")
    std::fprintf(stderr, "confer-server: generating a development attestation chain (NOT AMD; clients refuse it "
                         "unless told to trust it)\n");
  auto provider = server::make_provider(o, std::move(manifest).value());
  if (!provider) return fail(provider.error());
  std::string description = (*provider)->describe();
  auto srv = server::make_server(*config, std::move(provider).value());
  if (!srv)
    return fail(srv.error(), o.attestation == "tsm" ? "inside a confidential VM configfs-tsm must be mounted; for "
                                                      "development use --attestation dev"
                                                    : "");
  stop_on_signals(srv->get());
  std::fprintf(stderr, "confer-server: attestation: %s\n", description.c_str());
  if (!o.dev_root.empty()) std::fprintf(stderr, "confer-server: development root written to %s\n", o.dev_root.c_str());
  std::fprintf(stderr, "confer-server: static key %s (bound into the evidence)\n",
               to_hex((*srv)->static_key()).c_str());
  if (config->store) {
    std::fprintf(stderr, "confer-server: accounts and records in %s\n", config->store->describe().c_str());
    if (o.token_key_file.empty() && config->store->describe().rfind("postgresql://", 0) == 0)
      std::fprintf(stderr, "confer-server: warning: without --token-key-file, sessions signed in here are not "
                           "accepted by other servers on the same store\n");
  }
  std::fprintf(stderr, "confer-server: listening on %s:%u, upstream %s\n", config->host.c_str(), (*srv)->port(),
               config->upstream.url.c_str());
  if (o.attestation == "dev")
    std::fprintf(stderr, "confer-server: chat with it (a development root, NOT AMD's: for testing only):\n  confer chat "
                         "--server %s --trust-root %s --expect-measurement %s\n",
                 client_url(config->host, (*srv)->port()).c_str(), shell_word(o.dev_root).c_str(),
                 to_hex(server::self_measurement()).c_str());
  if (!o.port_file.empty()) {
    std::string text = std::to_string((*srv)->port()) + "\n";
    if (auto w = write_file_atomic(o.port_file, as_bytes(text)); !w) return fail(w.error());
  }
  (*srv)->run();
  std::fprintf(stderr, "confer-server: stopped\n");
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"confer-server: the attested end of confer's channel, in front of an OpenAI-compatible model"};
  app.name("confer-server");
  server::ServerOptions options;
  server::declare_options(app, options);
  app.set_version_flag("--version", "confer-server " CONFER_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion& v) {
    std::printf("%s\n", v.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "confer-server: error: %s\n", e.what());
    return kExitUsage;
  }
  return serve(options);
}

}  // namespace

int main(int argc, char** argv) {
  block_stop_signals();
  raise_fd_limit();
  // The static key and every prompt live in this process: no core file, no ptrace by others.
  if (auto hardened = harden_process(); !hardened)
    std::fprintf(stderr, "confer-server: warning: cannot harden the process: %s\n", hardened.error().message.c_str());
  try {
    return run(argc, argv);
  } catch (...) {
    std::fprintf(stderr, "confer-server: error: internal: %s\n", current_exception_text().c_str());
  }
  return kExitError;
}
