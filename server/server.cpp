#include "server/server.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
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

using Clock = std::chrono::steady_clock;

struct Shared;

// One accepted TCP connection's place in the server's limits, from accept until its
// socket is gone (held by the HTTP session, then the WebSocket session). Until its Noise
// handshake completes it is "unproven": the oldest unproven connection is the one a new
// arrival evicts when every place is taken, so slow or silent peers cannot lock out
// clients that make progress.
struct Slot {
  std::shared_ptr<Shared> shared;
  std::string address;
  Clock::time_point accepted = Clock::now();
  std::atomic<bool> proven{false};
  bool evicting = false;                        // under Shared::slots_mu
  std::list<std::weak_ptr<Slot>>::iterator at;  // under Shared::slots_mu
  std::mutex cut_mu;
  std::function<void(const char* why)> cut_fn;  // closes the connection on its own executor

  Slot(std::shared_ptr<Shared> s, std::string a) : shared(std::move(s)), address(std::move(a)) {}
  ~Slot();
  void on_cut(std::function<void(const char*)> fn) {
    std::lock_guard<std::mutex> lock(cut_mu);
    cut_fn = std::move(fn);
  }
  void cut(const char* why) {
    std::function<void(const char*)> fn;
    {
      std::lock_guard<std::mutex> lock(cut_mu);
      fn = cut_fn;
    }
    if (fn) fn(why);
  }
};

struct Shared {
  ServerConfig config;
  std::unique_ptr<AttestationProvider> provider;
  noise::KeyPair static_key;
  std::string channel_evidence;  // message-2 payload: report_data = static key || zeros
  std::mutex evidence_mu;
  Clock::time_point evidence_made = Clock::now();
  std::mutex ping_mu;
  std::optional<Clock::time_point> ping_checked;
  bool ping_ok = false;
  net::thread_pool upstream_pool;
  std::unique_ptr<AccountService> accounts;  // null without a store

  // Connections, from accept (docs/security.md).
  std::mutex slots_mu;
  std::list<std::weak_ptr<Slot>> slots;  // in accept order
  std::map<std::string, size_t> per_address;
  size_t connections = 0;  // under slots_mu
  size_t evicting = 0;     // under slots_mu
  std::atomic<size_t> refusing{0};  // connections being told 503, outside the slots
  // Bytes held for clients: sealed responses not yet written, partial requests.
  std::atomic<size_t> buffered{0};
  std::atomic<size_t> active_streams{0};
  std::atomic<bool> stopping{false};

  Shared(ServerConfig c, std::unique_ptr<AttestationProvider> p, noise::KeyPair k, std::string ev)
      : config(std::move(c)), provider(std::move(p)), static_key(std::move(k)),
        channel_evidence(std::move(ev)), upstream_pool(static_cast<size_t>(config.upstream_threads)) {
    if (config.store)
      accounts = std::make_unique<AccountService>(config.store, config.accounts,
                                                  Bytes(static_key.pub.begin(), static_key.pub.end()));
  }

  // A place for a connection from `address`, or why there is none (the 503's text). At
  // capacity the oldest unproven connection is cut to make room.
  static std::variant<std::shared_ptr<Slot>, const char*> admit(const std::shared_ptr<Shared>& self,
                                                               const std::string& address) {
    std::shared_ptr<Slot> victim;
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard<std::mutex> lock(self->slots_mu);
      size_t& mine = self->per_address[address];
      if (mine >= self->config.max_connections_per_ip) {
        if (mine == 0) self->per_address.erase(address);
        return "Too many connections from this address\n";
      }
      if (self->connections - self->evicting >= self->config.max_connections) {
        for (auto it = self->slots.begin(); it != self->slots.end() && !victim; ++it) {
          auto candidate = it->lock();
          if (candidate && !candidate->proven && !candidate->evicting) victim = std::move(candidate);
        }
        if (!victim) {
          if (mine == 0) self->per_address.erase(address);
          return "Too many connections\n";
        }
        victim->evicting = true;
        ++self->evicting;
      }
      slot = std::make_shared<Slot>(self, address);
      slot->at = self->slots.insert(self->slots.end(), slot);
      ++self->connections;
      ++mine;
    }
    if (victim) victim->cut("evicted: the server is full and this connection had not completed its handshake");
    return slot;
  }

  void release(Slot& slot) noexcept {
    std::lock_guard<std::mutex> lock(slots_mu);
    slots.erase(slot.at);
    --connections;
    if (slot.evicting) --evicting;
    auto it = per_address.find(slot.address);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }

  // Every connection's slot, for cutting them all at the end of a drain.
  std::vector<std::shared_ptr<Slot>> live_slots() {
    std::lock_guard<std::mutex> lock(slots_mu);
    std::vector<std::shared_ptr<Slot>> out;
    for (auto& w : slots)
      if (auto s = w.lock()) out.push_back(std::move(s));
    return out;
  }

  size_t connection_count() {
    std::lock_guard<std::mutex> lock(slots_mu);
    return connections;
  }

  // GET /v1/ping answers from evidence made at most once a minute (it costs a report and
  // a signature, and anyone may ask).
  bool ping() {
    std::lock_guard<std::mutex> lock(ping_mu);
    auto now = Clock::now();
    if (!ping_checked || now - *ping_checked >= std::chrono::seconds(60)) {
      ping_ok = provider->evidence(Bytes(64, 0)).ok();
      ping_checked = now;
    }
    return ping_ok;
  }

  // Message 2's evidence, made again once the provider says it has aged (an ITA token,
  // re-read collateral). If remaking fails the last one is kept and the failure logged:
  // clients then judge its age themselves.
  std::string current_evidence() {
    std::lock_guard<std::mutex> lock(evidence_mu);
    int64_t lifetime = provider->evidence_lifetime_s();
    auto now = Clock::now();
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

Slot::~Slot() { shared->release(*this); }

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
  WsSession(tcp::socket&& socket, std::shared_ptr<Shared> shared, std::shared_ptr<ConnectionAuth> auth,
            std::shared_ptr<Slot> slot)
      : peer_(peer_of(socket)), ws_(std::move(socket)), shared_(std::move(shared)),
        assembler_(shared_->config.max_request_bytes, kMaxOpenGroups), auth_(std::move(auth)),
        slot_(std::move(slot)), timer_(ws_.get_executor()) {}

  ~WsSession() {
    size_t held = assembler_charge_;
    for (const auto& out : outbox_) held += out.charge;
    shared_->buffered -= held;
  }

  void start(http::request<http::string_body> upgrade) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = shared_->config.handshake_timeout;  // the WebSocket upgrade and close
    t.idle_timeout = websocket::stream_base::none();           // judged by whole messages: arm()
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.binary(true);
    ws_.read_message_max(noise::kMaxMessage);
    std::weak_ptr<WsSession> weak = shared_from_this();
    slot_->on_cut([weak, ex = ws_.get_executor()](const char* why) {
      net::post(ex, [weak, why] {
        if (auto s = weak.lock()) s->cut(why);
      });
    });
    arm(slot_->accepted + shared_->config.handshake_timeout);
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

  // Any thread: queue a response for encryption and sending, in call order per strand
  // post. Its bytes count against the connection's and the server's buffers at once.
  void send(transport::Response response) {
    size_t charge = response.body.size() + kResponseOverhead;
    queued_ += charge;
    shared_->buffered += charge;
    net::post(ws_.get_executor(),
              [self = shared_from_this(), r = std::move(response), charge] { self->send_now(r, charge); });
  }

  bool alive() const { return !closed_.load(); }

  // On an upstream thread: waits while this client has more unsent than its buffer (or
  // the server is over its total), so the upstream is not read faster than the client
  // reads. False once the connection has ended.
  bool wait_for_room() {
    std::unique_lock<std::mutex> lock(flow_mu_);
    while (alive() && (queued_ > shared_->config.max_send_buffer ||
                       shared_->buffered > shared_->config.max_total_buffer))
      flow_cv_.wait_for(lock, std::chrono::milliseconds(100));
    return alive();
  }

 private:
  static constexpr size_t kResponseOverhead = 128;  // the envelope, the frame, the tag

  void mark_closed() {
    closed_ = true;
    std::lock_guard<std::mutex> lock(flow_mu_);
    flow_cv_.notify_all();
  }

  // Ends the connection at once (a deadline, an eviction, the end of a drain).
  void cut(const char* why) {
    if (closed_.exchange(true)) return;
    mark_closed();
    shared_->log(peer_, handshake_ ? "handshake" : "transport", why);
    beast::error_code ec;
    timer_.cancel();
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // The connection's one deadline: the handshake's, then the idle one, pushed on by each
  // whole message read or written (a byte now and then is not progress).
  void arm(Clock::time_point when) {
    timer_.expires_at(when);
    timer_.async_wait([weak = std::weak_ptr<WsSession>(shared_from_this())](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      if (self->handshake_ && !self->awaiting_m3_)
        return self->cut("no Noise message 1 within the handshake timeout (--handshake-timeout)");
      if (self->handshake_)
        return self->cut("no Noise message 3 within the client's verification time (--client-verify-timeout)");
      auto due = self->last_progress_ + self->shared_->config.idle_timeout;
      if (Clock::now() >= due) return self->cut("no whole message for the idle timeout (--idle-timeout)");
      self->arm(due);
    });
  }

  void close_with(websocket::close_code code, const char* reason) {
    if (closed_.exchange(true)) return;
    mark_closed();
    shared_->log(peer_, handshake_ ? "handshake" : "transport", reason);
    ws_.async_close(websocket::close_reason(code, reason), [self = shared_from_this()](beast::error_code) {
      beast::error_code ec;
      self->timer_.cancel();
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

  void read_next() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        bool was_closed = self->closed_.load();
        self->mark_closed();
        self->timer_.cancel();
        if (was_closed) return;
        // A close or a hang-up after the handshake is how sessions end, not a failure.
        bool ended = ec == websocket::error::closed || ec == net::error::eof ||
                     ec == net::error::connection_reset || ec == net::error::operation_aborted;
        if (self->handshake_)
          self->shared_->log(self->peer_, "handshake", "the client left before completing it: " + ec.message());
        else if (!ended)
          self->shared_->log(self->peer_, "read", ec.message());
        return;
      }
      if (!self->ws_.got_binary()) {
        self->buffer_.consume(self->buffer_.size());
        return self->close_with(websocket::close_code::policy_error, "expected binary WebSocket messages, saw text");
      }
      self->last_progress_ = Clock::now();
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
        queue_write(std::move(m2).value(), 0);
        // The client now verifies the evidence: its own clock, not the handshake's.
        awaiting_m3_ = true;
        arm(Clock::now() + shared_->config.client_verify_timeout);
      } else {
        auto split = handshake_->split();
        if (!split) return close_with(websocket::close_code::internal_error, "Handshake failed");
        transport_.emplace(std::move(split).value());
        handshake_.reset();
        slot_->proven = true;
        arm(last_progress_ + shared_->config.idle_timeout);
      }
      return read_next();
    }
    auto frame = transport_->decrypt(message);
    if (!frame) return close_with(websocket::close_code::internal_error, "Decryption failed");
    auto whole = assembler_.add(*frame);
    if (!whole) return close_with(websocket::close_code::internal_error, "Frame decode failed");
    // Partial requests count against the server's total; one connection may hold at most
    // one whole request's worth (plus a frame) in pieces.
    size_t held = assembler_.buffered();
    shared_->buffered += held;
    shared_->buffered -= assembler_charge_;
    assembler_charge_ = held;
    if (held > shared_->config.max_request_bytes + transport::kMaxFramePayload)
      return close_with(websocket::close_code::policy_error, "Too many bytes in incomplete requests");
    if (held > 0 && shared_->buffered > shared_->config.max_total_buffer)
      return close_with(websocket::close_code::try_again_later, "Server buffers full");
    if (*whole) {
      auto request = transport::decode_request(**whole);
      if (!request) return close_with(websocket::close_code::bad_payload, "Invalid protobuf message");
      dispatch(std::move(request).value());
    }
    read_next();
  }

  void dispatch(transport::Request req) {
    if (req.verb == "GET" && req.path == "/ping") return send_now(text_response(req.id, 200, "PONG"));
    if (shared_->stopping) return send_now(text_response(req.id, 503, "confer-server is shutting down"));
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
    ++shared_->active_streams;
    std::weak_ptr<WsSession> weak = shared_from_this();
    net::post(shared_->upstream_pool, [weak, shared = shared_, peer = peer_, id = req.id,
                                       request = std::move(parsed).value()] {
      // Nothing may escape a pool thread: it would end the process and every session.
      try {
        // A request whose client left while it waited for a thread is not sent at all.
        if (auto s = weak.lock(); s && s->alive()) answer(weak, *shared, peer, id, request);
      } catch (...) {
        shared->log(peer, "request", "internal: " + current_exception_text());
        if (auto s = weak.lock()) s->send(text_response(id, 500, "Internal error"));
      }
      --shared->active_streams;
      if (auto s = weak.lock()) net::post(s->ws_.get_executor(), [s] { --s->active_streams_; });
    });
  }

  // On an upstream pool thread: calls the model and sends the answer back, streamed or
  // whole. The call ends within a second of the client going (or being cut).
  static void answer(const std::weak_ptr<WsSession>& weak, const Shared& shared, const std::string& peer, int64_t id,
                     const ChatRequest& request) {
    auto emit = [&](int32_t status, std::string body) {
      if (auto s = weak.lock()) s->send(text_response(id, status, body));
    };
    auto client_there = [&] {
      auto s = weak.lock();
      return s && s->alive();
    };
    auto result = call_upstream(
        shared.config.upstream, request,
        [&](std::string_view token) {
          auto s = weak.lock();
          if (!s || !s->alive()) return false;
          std::string event = chat::serialize_chat_event(chat::ChatEvent::token(token));
          if (shared.config.rewrite_event) event = shared.config.rewrite_event(std::move(event));
          s->send(text_response(id, 200, event));
          return s->wait_for_room();
        },
        client_there);
    if (!client_there()) return;
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

  void send_now(const transport::Response& r, size_t charge = 0) {
    if (closed_ || !transport_) return release(charge);
    auto frames = transport::encode_frames(transport::encode_response(r), transport::random_id());
    for (size_t i = 0; i < frames.size(); ++i) {
      auto ct = transport_->encrypt(frames[i]);
      if (!ct) {
        release(charge);
        return close_with(websocket::close_code::internal_error, "Failed");
      }
      queue_write(std::move(ct).value(), i + 1 == frames.size() ? charge : 0);
    }
  }

  void release(size_t charge) {
    if (charge == 0) return;
    queued_ -= charge;
    shared_->buffered -= charge;
    std::lock_guard<std::mutex> lock(flow_mu_);
    flow_cv_.notify_all();
  }

  void queue_write(Bytes message, size_t charge) {
    outbox_.push_back(Outgoing{std::move(message), charge});
    if (outbox_.size() == 1) write_next();
  }

  void write_next() {
    ws_.async_write(net::buffer(outbox_.front().bytes), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->mark_closed();
        return;
      }
      self->last_progress_ = Clock::now();
      size_t charge = self->outbox_.front().charge;
      self->outbox_.pop_front();
      self->release(charge);
      if (!self->outbox_.empty()) self->write_next();
    });
  }

  struct Outgoing {
    Bytes bytes;
    size_t charge = 0;  // what send() counted for the response this message ends
  };

  std::string peer_;
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<noise::HandshakeState> handshake_;
  bool awaiting_m3_ = false;  // message 2 sent: the client-verify clock runs
  std::optional<noise::TransportState> transport_;
  transport::FrameAssembler assembler_;
  size_t assembler_charge_ = 0;
  std::deque<Outgoing> outbox_;
  std::atomic<size_t> queued_{0};
  std::mutex flow_mu_;
  std::condition_variable flow_cv_;
  size_t active_streams_ = 0;
  std::atomic<bool> closed_{false};
  std::shared_ptr<ConnectionAuth> auth_;
  std::shared_ptr<Slot> slot_;
  net::steady_timer timer_;
  Clock::time_point last_progress_ = Clock::now();
};

// Reads one HTTP request: a WebSocket upgrade at /websocket, or GET /v1/ping. With a
// refusal (no slot for it) it reads the request only to answer 503 with that text.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<Shared> shared, std::shared_ptr<Slot> slot,
              const char* refusal = nullptr)
      : stream_(std::move(socket)), shared_(std::move(shared)), slot_(std::move(slot)), refusal_(refusal) {
    if (refusal_) ++shared_->refusing;
  }
  ~HttpSession() {
    if (refusal_) --shared_->refusing;
  }

  void start() {
    parser_.emplace();
    parser_->body_limit(8192);
    parser_->header_limit(8192);
    if (slot_) {
      stream_.expires_at(slot_->accepted + shared_->config.handshake_timeout);
      std::weak_ptr<HttpSession> weak = shared_from_this();
      slot_->on_cut([weak, ex = stream_.get_executor()](const char* why) {
        net::post(ex, [weak, why] {
          if (auto s = weak.lock()) {
            s->shared_->log(s->peer_, "http", why);
            s->stream_.cancel();
            s->stream_.close();
          }
        });
      });
    } else {
      stream_.expires_after(std::chrono::seconds(2));
    }
    peer_ = peer_of(stream_.socket());
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->on_request();
    });
  }

 private:
  void on_request() {
    auto req = parser_->release();
    if (refusal_) return reply(req, http::status::service_unavailable, refusal_);
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req)) {
      if (path != "/websocket") return reply(req, http::status::not_found, "Not found\n");
      if (shared_->stopping) return reply(req, http::status::service_unavailable, "confer-server is shutting down\n");
      // Confer's proxy takes its JWT as ?token= at the upgrade; here it is optional (a
      // client may sign in inside the channel instead), but one that is given must verify.
      auto auth = std::make_shared<ConnectionAuth>();
      if (auto token = query_value(target, "token")) {
        auto accepted = shared_->accounts ? shared_->accounts->accept_token(*auth, *token, now_utc())
                                          : Result<void>(make_error(Errc::key, "this server keeps no accounts"));
        if (!accepted) return reply(req, http::status::unauthorized, "Invalid token\n");
      }
      stream_.expires_never();
      slot_->on_cut({});
      std::make_shared<WsSession>(stream_.release_socket(), shared_, std::move(auth), std::move(slot_))
          ->start(std::move(req));
      return;
    }
    if (req.method() == http::verb::get && path == "/v1/ping") {
      bool ok = shared_->ping();
      return reply(req, ok ? http::status::ok : http::status::service_unavailable,
                   ok ? "PONG" : "Attestation unavailable");
    }
    reply(req, http::status::not_found, "Not found\n");
  }

  void reply(const http::request<http::string_body>& req, http::status status, std::string body) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req.version());
    res->set(http::field::content_type, "text/plain");
    res->set(http::field::server, "confer-server");
    if (status == http::status::service_unavailable) res->set(http::field::retry_after, "5");
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
  std::shared_ptr<Slot> slot_;
  const char* refusal_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

class Listener final : public Server {
 public:
  Listener(std::shared_ptr<Shared> shared, tcp::acceptor acceptor, std::unique_ptr<net::io_context> ioc)
      : shared_(std::move(shared)), ioc_(std::move(ioc)), acceptor_(std::move(acceptor)),
        strand_(net::make_strand(*ioc_)), backoff_(strand_), drain_timer_(strand_) {}

  unsigned short port() const override { return acceptor_.local_endpoint().port(); }
  const noise::PublicKey& static_key() const override { return shared_->static_key.pub; }

  void run() override {
    net::post(strand_, [this] { accept(); });
    std::vector<std::thread> threads;
    for (int i = 1; i < shared_->config.io_threads; ++i) threads.emplace_back([this] { run_io(); });
    run_io();
    for (auto& t : threads) t.join();
    // Calls still running see their clients gone and end within a second; queued ones
    // are dropped.
    shared_->upstream_pool.stop();
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
    net::post(strand_, [this] {
      if (shared_->stopping.exchange(true)) return;
      beast::error_code ec;
      acceptor_.close(ec);
      backoff_.cancel();
      drain_until_ = Clock::now() + shared_->config.grace;
      drain();
    });
  }

 private:
  // Every 50 ms while stopping: once no answer is streaming (or the grace period is
  // over) every connection is cut; once none is left (or a second later) the I/O ends.
  void drain() {
    auto now = Clock::now();
    if (!cut_all_ && (shared_->active_streams == 0 || now >= drain_until_)) {
      cut_all_ = true;
      cut_at_ = now;
      for (auto& slot : shared_->live_slots()) slot->cut("confer-server is stopping");
    }
    if (cut_all_ && ((shared_->connection_count() == 0 && shared_->refusing == 0) ||
                     now - cut_at_ >= std::chrono::seconds(1))) {
      ioc_->stop();
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(50));
    drain_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) drain();
    });
  }

  void accept() {
    // The accept loop, its back-off and the drain share one strand.
    acceptor_.async_accept(net::make_strand(*ioc_), net::bind_executor(strand_, [this](beast::error_code ec,
                                                                                    tcp::socket socket) {
      if (ec == net::error::operation_aborted || shared_->stopping) return;
      if (ec) {
        // Out of descriptors (or another accept failure): wait before trying again, so
        // the loop does not spin; connections that end free descriptors meanwhile.
        if (!backing_off_logged_) shared_->log("-", "accept", ec.message() + "; accepting again in 100 ms");
        backing_off_logged_ = true;
        backoff_.expires_after(std::chrono::milliseconds(100));
        backoff_.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && !shared_->stopping) accept();
        });
        return;
      }
      backing_off_logged_ = false;
      on_accepted(std::move(socket));
      accept();
    }));
  }

  void on_accepted(tcp::socket socket) {
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);  // streamed tokens are small writes: no Nagle delay
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return;
    auto admitted = Shared::admit(shared_, endpoint.address().to_string());
    if (auto* slot = std::get_if<std::shared_ptr<Slot>>(&admitted))
      return std::make_shared<HttpSession>(std::move(socket), shared_, std::move(*slot))->start();
    // Refused: told so in a 503 while that costs little, else closed at once.
    if (shared_->refusing >= shared_->config.max_connections) return;
    std::make_shared<HttpSession>(std::move(socket), shared_, nullptr, std::get<const char*>(admitted))->start();
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<net::io_context> ioc_;
  tcp::acceptor acceptor_;
  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer backoff_;
  net::steady_timer drain_timer_;
  bool backing_off_logged_ = false;
  bool cut_all_ = false;
  Clock::time_point drain_until_;
  Clock::time_point cut_at_;
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
