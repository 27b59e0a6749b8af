// confer-server's listener: plain HTTP GET /v1/ping, and the attested channel at
// /websocket (Noise XX responder, framed RPC, routes).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "chat/protocol.hpp"
#include "noise/noise.hpp"
#include "server/accounts.hpp"
#include "server/attestation.hpp"
#include "server/upstream.hpp"

namespace confer::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  int listen_fd = -1;  // a socket already bound and listening on host:port, taken over; else bound here
  UpstreamOptions upstream;
  int io_threads = 2;
  // Every limit below is listed, with its default and what happens past it, in
  // docs/security.md. Keep the two in step.
  int upstream_threads = 64;           // concurrent upstream calls across all sessions
  size_t max_connections = 256;        // every accepted TCP connection, from accept
  size_t max_connections_per_ip = 32;  // the same, per client address
  size_t max_streams_per_connection = 4;
  size_t max_request_bytes = chat::kMaxRequestBytes;
  size_t max_send_buffer = 1u << 20;     // sealed bytes waiting for one slow client
  size_t max_total_buffer = 256u << 20;  // the same plus partial requests, all connections
  // No complete WebSocket message in either direction for this long: closed.
  std::chrono::seconds idle_timeout{300};
  // From accept until the client's Noise message 1 (the HTTP upgrade included), and
  // the limit on the WebSocket upgrade and close.
  std::chrono::seconds handshake_timeout{10};
  // From sending message 2 until message 3 arrives: the client verifies the evidence in
  // between, and may fetch collateral (AMD KDS, Intel PCS) to do so.
  std::chrono::seconds client_verify_timeout{120};
  // On stop(): streams in flight get this long to finish before they are cut.
  std::chrono::seconds grace{10};
  int64_t max_context_tokens = 262144;
  // Accounts and storage (server/accounts.hpp); none: those routes answer 404.
  std::shared_ptr<store::Store> store;
  AccountConfig accounts;
  // POST /v1/attestation (DESIGN §3). Off only to imitate servers without it in tests.
  bool offer_fresh_attestation = true;
  // One line per failed connection or request (peer, stage, reason; never content).
  // Unset: standard error.
  std::function<void(const std::string& line)> log;
  // Tests only (tests/evil_server.cpp): rewrites each streamed token event before it is
  // sealed, to imitate a lying server. Unset in confer-server.
  std::function<std::string(std::string event)> rewrite_event;
};

class Server {
 public:
  virtual ~Server() = default;
  virtual unsigned short port() const = 0;  // the bound port (useful with port 0)
  virtual void run() = 0;                   // blocks until stop()
  // Stops accepting, lets answers in flight finish for up to ServerConfig::grace, then
  // cuts what is left; run() returns once every connection is gone. Any thread.
  virtual void stop() = 0;
  virtual const noise::PublicKey& static_key() const = 0;
};

// Generates the process's static X25519 key (guarded memory), asks `provider` for the
// evidence binding it, and binds the listener.
Result<std::unique_ptr<Server>> make_server(const ServerConfig& config, std::unique_ptr<AttestationProvider> provider);

}  // namespace confer::server
