#include "server/server.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "attest/snp_verify.hpp"
#include "core/exception.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "transport/frames.hpp"

namespace confer::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

constexpr size_t kMaxHandshakeMessage = 4096;
constexpr size_t kMaxOpenGroups = 8;

struct Shared {
  ServerConfig config;
  std::unique_ptr<AttestationProvider> provider;
  noise::KeyPair static_key;
  std::string channel_evidence;  // message-2 payload: report_data = static key || zeros
  std::mutex evidence_mu;
  std::chrono::steady_clock::time_point evidence_made = std::chrono::steady_clock::now();
  net::thread_pool upstream_pool;
  std::atomic<size_t> connections{0};
  std::unique_ptr<AccountService> accounts;  // null without a store

  Shared(ServerConfig c, std::unique_ptr<AttestationProvider> p, noise::KeyPair k, std::string ev)
      : config(std::move(c)), provider(std::move(p)), static_key(std::move(k)),
        channel_evidence(std::move(ev)), upstream_pool(static_cast<size_t>(config.upstream_threads)) {
    if (config.store)
      accounts = std::make_unique<AccountService>(config.store, config.accounts,
                                                  Bytes(static_key.pub.begin(), static_key.pub.end()));
  }

  // Message 2's evidence, made again once the provider says it has aged (an ITA token,
  // re-read collateral). If remaking fails the last one is kept and the failure logged:
  // clients then judge its age themselves.
  std::string current_evidence() {
    std::lock_guard<std::mutex> lock(evidence_mu);
    int64_t lifetime = provider->evidence_lifetime_s();
    auto now = std::chrono::steady_clock::now();
    if (lifetime > 0 && now - evidence_made > std::chrono::seconds(lifetime)) {
      Bytes report_data(64, 0);
      std::copy(static_key.pub.begin(), static_key.pub.end(), report_data.begin());
      auto fresh = provider->evidence(report_data);
      evidence_made = now;
      if (fresh && fresh->size() <= noise::kMaxMessage - 96) channel_evidence = std::move(fresh).value();
      else log("-", "evidence", fresh ? "remade evidence does not fit one Noise message" : errc_name(fresh.error().code));
    }
    return channel_evidence;
  }

  // "connection PEER: STAGE: REASON". Callers pass reasons of their own words or error
  // codes, never bytes from the peer or the upstream.
  void log(std::string_view peer, std::string_view stage, std::string_view reason) const noexcept {
    try {
      std::string line = fmt::format("confer-server: connection {}: {}: {}", peer, stage, reason);
      if (config.log) return config.log(line);
      std::fprintf(stderr, "%s\n", line.c_str());
    } catch (...) {
      // Logging must never take the server down.
    }
  }
};

std::string peer_of(const tcp::socket& socket) {
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// The value of `key` in the target's query string, as given (tokens are base64url: no escapes).
std::optional<std::string> query_value(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (part.size() > key.size() && part.substr(0, key.size()) == key && part[key.size()] == '=')
      return std::string(part.substr(key.size() + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

transport::Response text_response(int64_t id, int32_t status, std::string_view body) {
  transport::Response r;
  r.id = id;
  r.status = status;
  r.body.assign(body.begin(), body.end());
  return r;
}

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, std::shared_ptr<Shared> shared, std::shared_ptr<ConnectionAuth> auth)
      : peer_(peer_of(socket)), ws_(std::move(socket)), shared_(std::move(shared)),
        assembler_(shared_->config.max_request_bytes, kMaxOpenGroups), auth_(std::move(auth)) {}

  ~WsSession() { --shared_->connections; }

  void start(http::request<http::string_body> upgrade) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = shared_->config.handshake_timeout;
    t.idle_timeout = shared_->config.idle_timeout;
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.binary(true);
    ws_.read_message_max(noise::kMaxMessage);
    auto key = noise::KeyPair::from_private(shared_->static_key.priv.view());
    if (!key) return shared_->log(peer_, "handshake", key.error().message);
    auto hs = noise::HandshakeState::create(noise::Role::responder, std::move(key).value(), {});
    if (!hs) return shared_->log(peer_, "handshake", hs.error().message);
    handshake_.emplace(std::move(hs).value());
    ws_.async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->shared_->log(self->peer_, "websocket", ec.message());
      self->read_next();
    });
  }

  // Any thread: queue a response for encryption and sending, in call order per strand post.
  void send(transport::Response response) {
    net::post(ws_.get_executor(), [self = shared_from_this(), r = std::move(response)] { self->send_now(r); });
  }

  bool alive() const { return !closed_.load(); }

 private:
  void close_with(websocket::close_code code, const char* reason) {
    if (closed_.exchange(true)) return;
    shared_->log(peer_, handshake_ ? "handshake" : "transport", reason);
    ws_.async_close(websocket::close_reason(code, reason), [self = shared_from_this()](beast::error_code) {});
  }

  void read_next() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        // A close or a hang-up after the handshake is how sessions end, not a failure.
        bool ended = ec == websocket::error::closed || ec == net::error::eof ||
                     ec == net::error::connection_reset || ec == net::error::operation_aborted;
        if (self->handshake_)
          self->shared_->log(self->peer_, "handshake", "the client left before completing it: " + ec.message());
        else if (!ended)
          self->shared_->log(self->peer_, "read", ec.message());
        return;
      }
      self->on_message();
    });
  }

  void on_message() {
    auto data = buffer_.data();
    Bytes message(static_cast<const uint8_t*>(data.data()), static_cast<const uint8_t*>(data.data()) + data.size());
    buffer_.consume(buffer_.size());
    if (handshake_) {
      if (message.size() > kMaxHandshakeMessage) return close_with(websocket::close_code::bad_payload, "Handshake message too large");
      auto payload = handshake_->read_message(message);
      // Messages 1 and 3 carry empty payloads (CONFER-PROTOCOL §3).
      if (!payload || !payload->empty()) return close_with(websocket::close_code::internal_error, "Handshake failed");
      if (!handshake_->complete()) {
        std::string evidence = shared_->current_evidence();
        auto m2 = handshake_->write_message(as_bytes(evidence));
        if (!m2) return close_with(websocket::close_code::internal_error, "Handshake failed");
        queue_write(std::move(m2).value());
      } else {
        auto split = handshake_->split();
        if (!split) return close_with(websocket::close_code::internal_error, "Handshake failed");
        transport_.emplace(std::move(split).value());
        handshake_.reset();
      }
      return read_next();
    }
    auto frame = transport_->decrypt(message);
    if (!frame) return close_with(websocket::close_code::internal_error, "Decryption failed");
    auto whole = assembler_.add(*frame);
    if (!whole) return close_with(websocket::close_code::internal_error, "Frame decode failed");
    if (*whole) {
      auto request = transport::decode_request(**whole);
      if (!request) return close_with(websocket::close_code::bad_payload, "Invalid protobuf message");
      dispatch(std::move(request).value());
    }
    read_next();
  }

  void dispatch(transport::Request req) {
    if (req.verb == "GET" && req.path == "/ping") return send_now(text_response(req.id, 200, "PONG"));
    if (req.verb == "POST" && req.path == "/v1/attestation" && shared_->config.offer_fresh_attestation)
      return fresh_attestation(req);
    if (req.verb == "POST" && req.path == chat::kChatPath) return chat(std::move(req));
    if (req.verb == "GET" && req.path == chat::kModelsPath) return models(req.id);
    if (AccountService::handles(req.path)) return account(std::move(req));
    send_now(text_response(req.id, 404, "Route not found"));
  }

  // Accounts and storage, on a pool thread: the store may block on disk or PostgreSQL.
  void account(transport::Request req) {
    if (!shared_->accounts) return send_now(text_response(req.id, 404, "this server keeps no accounts (--store none)"));
    std::weak_ptr<WsSession> weak = shared_from_this();
    net::post(shared_->upstream_pool, [weak, shared = shared_, auth = auth_, peer = peer_, req = std::move(req)] {
      std::string log_line;
      Reply reply = shared->accounts->handle(*auth, req.verb, req.path, req.body, now_utc(), &log_line);
      if (!log_line.empty()) shared->log(peer, "account", log_line);
      if (auto s = weak.lock()) s->send(text_response(req.id, reply.status, reply.body));
    });
  }

  // The upstream's model list, asked on a pool thread (it is an HTTP call).
  void models(int64_t id) {
    std::weak_ptr<WsSession> weak = shared_from_this();
    net::post(shared_->upstream_pool, [weak, shared = shared_, peer = peer_, id] {
      try {
        auto ids = list_upstream_models(shared->config.upstream);
        json out = {{"object", "list"}, {"data", json::array()}};
        if (ids)
          for (const auto& m : *ids) out["data"].push_back({{"id", m}, {"object", "model"}});
        if (!ids) shared->log(peer, "upstream", std::string("model list failed (") + errc_name(ids.error().code) + ")");
        if (auto s = weak.lock()) s->send(text_response(id, ids ? 200 : 502, ids ? dump_json(out) : ids.error().message));
      } catch (...) {
        shared->log(peer, "request", "internal: " + current_exception_text());
        if (auto s = weak.lock()) s->send(text_response(id, 500, "Internal error"));
      }
    });
  }

  void fresh_attestation(const transport::Request& req) {
    auto parsed = parse_json(req.body, "attestation request", JsonLimits{4096, 8}, Errc::usage);
    json doc = parsed ? std::move(parsed).value() : json();
    Result<Bytes> nonce = make_error(Errc::usage, "");
    if (doc.is_object() && doc.contains("nonce") && doc["nonce"].is_string())
      nonce = from_hex(doc["nonce"].get<std::string>());
    if (!nonce || nonce->size() != 32)
      return send_now(text_response(req.id, 400, "expected {\"nonce\": 32 bytes as hex}"));
    Bytes rd = attest::fresh_report_data(shared_->static_key.pub, *nonce);
    auto evidence = shared_->provider->evidence(rd);
    if (!evidence) return send_now(text_response(req.id, 503, "Attestation unavailable"));
    send_now(text_response(req.id, 200, *evidence));
  }

  void chat(transport::Request req) {
    auto parsed = parse_chat_request(req.body);
    if (!parsed) return send_now(text_response(req.id, 400, parsed.error().message));
    if (active_streams_ >= shared_->config.max_streams_per_connection)
      return send_now(text_response(req.id, 429, fmt::format("at most {} requests at once per connection",
                                                             shared_->config.max_streams_per_connection)));
    ++active_streams_;
    std::weak_ptr<WsSession> weak = shared_from_this();
    net::post(shared_->upstream_pool, [weak, shared = shared_, peer = peer_, id = req.id,
                                       request = std::move(parsed).value()] {
      // Nothing may escape a pool thread: it would end the process and every session.
      try {
        answer(weak, *shared, peer, id, request);
      } catch (...) {
        shared->log(peer, "request", "internal: " + current_exception_text());
        if (auto s = weak.lock()) s->send(text_response(id, 500, "Internal error"));
      }
      if (auto s = weak.lock()) net::post(s->ws_.get_executor(), [s] { --s->active_streams_; });
    });
  }

  // On an upstream pool thread: calls the model and sends the answer back, streamed or whole.
  static void answer(const std::weak_ptr<WsSession>& weak, const Shared& shared, const std::string& peer, int64_t id,
                     const ChatRequest& request) {
    auto emit = [&](int32_t status, std::string body) {
      if (auto s = weak.lock()) s->send(text_response(id, status, body));
    };
    auto result = call_upstream(shared.config.upstream, request, [&](std::string_view token) {
      auto s = weak.lock();
      if (!s || !s->alive()) return false;
      std::string event = chat::serialize_chat_event(chat::ChatEvent::token(token));
      if (shared.config.rewrite_event) event = shared.config.rewrite_event(std::move(event));
      s->send(text_response(id, 200, event));
      return true;
    });
    if (!result) {
      // The upstream's message may quote the conversation: the log gets its kind only.
      shared.log(peer, "upstream", std::string("request failed (") + errc_name(result.error().code) + ")");
      emit(502, result.error().message);
    } else if (request.stream) {
      emit(200, chat::serialize_chat_event(
                    chat::ChatEvent::completion(result->total_tokens, shared.config.max_context_tokens)));
    } else {
      emit(200, result->text);
    }
  }

  void send_now(const transport::Response& r) {
    if (closed_ || !transport_) return;
    for (auto& frame : transport::encode_frames(transport::encode_response(r), transport::random_id())) {
      auto ct = transport_->encrypt(frame);
      if (!ct) return close_with(websocket::close_code::internal_error, "Failed");
      queue_write(std::move(ct).value());
    }
  }

  void queue_write(Bytes message) {
    outbox_.push_back(std::move(message));
    if (outbox_.size() == 1) write_next();
  }

  void write_next() {
    ws_.async_write(net::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        return;
      }
      self->outbox_.pop_front();
      if (!self->outbox_.empty()) self->write_next();
    });
  }

  std::string peer_;
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<noise::HandshakeState> handshake_;
  std::optional<noise::TransportState> transport_;
  transport::FrameAssembler assembler_;
  std::deque<Bytes> outbox_;
  size_t active_streams_ = 0;
  std::atomic<bool> closed_{false};
  std::shared_ptr<ConnectionAuth> auth_;
};

// Reads one HTTP request: a WebSocket upgrade at /websocket, or GET /v1/ping.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  void start() {
    parser_.emplace();
    parser_->body_limit(8192);
    stream_.expires_after(shared_->config.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->on_request();
    });
  }

 private:
  void on_request() {
    auto req = parser_->release();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req)) {
      if (path != "/websocket") return reply(req, http::status::not_found, "Not found\n");
      if (++shared_->connections > shared_->config.max_connections) {
        --shared_->connections;
        return reply(req, http::status::service_unavailable, "Too many connections\n");
      }
      // Confer's proxy takes its JWT as ?token= at the upgrade; here it is optional (a
      // client may sign in inside the channel instead), but one that is given must verify.
      auto auth = std::make_shared<ConnectionAuth>();
      if (auto token = query_value(target, "token")) {
        auto accepted = shared_->accounts ? shared_->accounts->accept_token(*auth, *token, now_utc())
                                          : Result<void>(make_error(Errc::key, "this server keeps no accounts"));
        if (!accepted) {
          --shared_->connections;
          return reply(req, http::status::unauthorized, "Invalid token\n");
        }
      }
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), shared_, std::move(auth))->start(std::move(req));
      return;
    }
    if (req.method() == http::verb::get && path == "/v1/ping") {
      bool ok = shared_->provider->evidence(Bytes(64, 0)).ok();
      return reply(req, ok ? http::status::ok : http::status::service_unavailable,
                   ok ? "PONG" : "Attestation unavailable");
    }
    reply(req, http::status::not_found, "Not found\n");
  }

  void reply(const http::request<http::string_body>& req, http::status status, std::string body) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req.version());
    res->set(http::field::content_type, "text/plain");
    res->set(http::field::server, "confer-server");
    res->keep_alive(false);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

class Listener final : public Server {
 public:
  Listener(std::shared_ptr<Shared> shared, tcp::acceptor acceptor, std::unique_ptr<net::io_context> ioc)
      : shared_(std::move(shared)), ioc_(std::move(ioc)), acceptor_(std::move(acceptor)) {}

  unsigned short port() const override { return acceptor_.local_endpoint().port(); }
  const noise::PublicKey& static_key() const override { return shared_->static_key.pub; }

  void run() override {
    accept();
    std::vector<std::thread> threads;
    for (int i = 1; i < shared_->config.io_threads; ++i) threads.emplace_back([this] { run_io(); });
    run_io();
    for (auto& t : threads) t.join();
    shared_->upstream_pool.join();
  }

  // A handler that throws ends that handler's connection, never the I/O thread.
  void run_io() {
    for (;;) {
      try {
        ioc_->run();
        return;
      } catch (...) {
        shared_->log("-", "handler", "internal: " + current_exception_text());
      }
    }
  }

  void stop() override {
    net::post(*ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    shared_->upstream_pool.stop();
    ioc_->stop();
  }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(*ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        beast::error_code nodelay_ec;  // streamed tokens are small writes: no Nagle delay
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        std::make_shared<HttpSession>(std::move(socket), shared_)->start();
      }
      accept();
    });
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<net::io_context> ioc_;
  tcp::acceptor acceptor_;
};

}  // namespace

Result<std::unique_ptr<Server>> make_server(const ServerConfig& config, std::unique_ptr<AttestationProvider> provider) {
  CONFER_TRY(auto key, noise::KeyPair::generate());
  Bytes report_data(64, 0);
  std::copy(key.pub.begin(), key.pub.end(), report_data.begin());
  CONFER_TRY(std::string evidence, provider->evidence(report_data));
  if (evidence.size() > noise::kMaxMessage - 96)
    return make_error(Errc::internal, fmt::format("message-2 evidence of {} bytes does not fit one Noise message",
                                                  evidence.size()));
  auto shared = std::make_shared<Shared>(config, std::move(provider), std::move(key), std::move(evidence));
  auto ioc = std::make_unique<net::io_context>(config.io_threads);
  beast::error_code ec;
  auto address = net::ip::make_address(config.host, ec);
  if (ec) return make_error(Errc::usage, fmt::format("--listen: expected an IP address, saw '{}'", config.host));
  tcp::acceptor acceptor(*ioc);
  tcp::endpoint endpoint(address, config.port);
  if (config.listen_fd >= 0) {
    acceptor.assign(endpoint.protocol(), config.listen_fd, ec);
  } else {
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) return make_error(Errc::io, fmt::format("listening on {}:{}: {}", config.host, config.port, ec.message()));
  return std::unique_ptr<Server>(std::make_unique<Listener>(std::move(shared), std::move(acceptor), std::move(ioc)));
}

}  // namespace confer::server
