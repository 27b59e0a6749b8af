// The client end of the attested channel: WebSocket (ws:// or wss://), the Noise XX
// handshake as initiator, and RPC over NoiseTransportFrames.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "noise/noise.hpp"
#include "transport/frames.hpp"

namespace confer::transport {

struct ServerUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, default "/websocket"
  std::string text() const;
};

// ws://, wss://, http:// (= ws://) or https:// (= wss://); the path defaults to /websocket.
Result<ServerUrl> parse_server_url(std::string_view url);

// Judges message 2 before anything else is sent: the server's static key and the
// payload (the attestation JSON). An error refuses the session; message 3 is never sent.
using HandshakeVerifier = std::function<Result<void>(const noise::PublicKey& server_static, ByteView payload)>;

struct ChannelOptions {
  std::chrono::seconds connect_timeout{15};
  std::string proxy;  // "http://host:port" for an HTTP CONNECT tunnel, or empty
};

class ClientChannel {
 public:
  virtual ~ClientChannel() = default;
  // Queues a request; never blocks on the network.
  virtual void send(const Request& request) = 0;
  // The next complete response, in arrival order. Errc::network when the connection
  // closed or failed; Errc::protocol for a peer that broke the framing; empty result
  // (nullopt) when `timeout` passed first.
  virtual Result<std::optional<Response>> next(std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
  virtual const noise::PublicKey& server_static() const = 0;
};

Result<std::unique_ptr<ClientChannel>> connect_channel(const ServerUrl& url, const HandshakeVerifier& verify,
                                                       const ChannelOptions& options = {});

// The proxy to use for `url` from HTTPS_PROXY / https_proxy (wss) or HTTP_PROXY /
// http_proxy (ws), unless NO_PROXY / no_proxy names the host. Empty for none.
std::string proxy_for(const ServerUrl& url);

}  // namespace confer::transport
