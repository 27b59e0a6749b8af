#include "transport/client.hpp"

#include <sys/socket.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>

#include "core/exception.hpp"
#include "net/watchdog.hpp"

namespace confer::transport {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

std::string ServerUrl::text() const {
  return fmt::format("{}://{}:{}{}", tls ? "wss" : "ws", host, port, target);
}

Result<ServerUrl> parse_server_url(std::string_view url) {
  ServerUrl out;
  std::string_view rest;
  auto take = [&](std::string_view scheme, bool tls) {
    if (url.rfind(scheme, 0) != 0) return false;
    rest = url.substr(scheme.size());
    out.tls = tls;
    return true;
  };
  if (!take("wss://", true) && !take("https://", true) && !take("ws://", false) && !take("http://", false))
    return make_error(Errc::usage, fmt::format("server URL: expected ws://, wss://, http:// or https://, saw '{}'", url));
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/websocket" : std::string(rest.substr(slash));
  if (out.target.front() == '?') out.target = "/websocket" + out.target;
  if (out.target == "/") out.target = "/websocket";
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return make_error(Errc::usage, fmt::format("server URL: expected a host, saw '{}'", url));
  if (authority.front() == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return make_error(Errc::usage, "server URL: unclosed '[' in host");
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') out.port = std::string(authority.substr(1));
    else if (!authority.empty()) return make_error(Errc::usage, "server URL: junk after ']'");
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.port.empty()) out.port = out.tls ? "443" : "80";
  for (char c : out.port)
    if (c < '0' || c > '9') return make_error(Errc::usage, fmt::format("server URL: bad port '{}'", out.port));
  if (out.host.empty()) return make_error(Errc::usage, fmt::format("server URL: expected a host, saw '{}'", url));
  return out;
}

std::string proxy_for(const ServerUrl& url) {
  auto env = [](const char* a, const char* b) -> std::string {
    const char* v = std::getenv(a);
    if (v == nullptr || *v == '\0') v = std::getenv(b);
    return v != nullptr ? v : "";
  };
  std::string no_proxy = env("NO_PROXY", "no_proxy");
  size_t start = 0;
  while (start <= no_proxy.size() && !no_proxy.empty()) {
    size_t comma = no_proxy.find(',', start);
    std::string item = no_proxy.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty() && item.front() == '.') item.erase(item.begin());
    if (item == "*") return {};
    if (!item.empty() && (url.host == item || (url.host.size() > item.size() &&
                                                url.host.compare(url.host.size() - item.size(), item.size(), item) == 0 &&
                                                url.host[url.host.size() - item.size() - 1] == '.')))
      return {};
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return url.tls ? env("HTTPS_PROXY", "https_proxy") : env("HTTP_PROXY", "http_proxy");
}

namespace {

constexpr size_t kMaxResponseMessage = 16 * 1024 * 1024;
constexpr size_t kMaxOpenGroups = 16;

// Opens TCP to the server, or through an HTTP CONNECT proxy.
Result<void> open_tcp(net::io_context& ioc, tcp::socket& socket, const ServerUrl& url, const std::string& proxy,
                      std::chrono::seconds timeout) {
  std::string host = url.host, port = url.port;
  if (!proxy.empty()) {
    auto p = parse_server_url(proxy.rfind("http://", 0) == 0 || proxy.rfind("https://", 0) == 0 ? proxy
                                                                                               : "http://" + proxy);
    if (!p) return make_error(Errc::usage, "proxy URL: " + p.error().message);
    host = p->host;
    port = p->port == "443" && proxy.rfind("https://", 0) != 0 ? "80" : p->port;
  }
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port, ec);
  if (ec) return make_error(Errc::network, fmt::format("resolving {}: {}", host, ec.message()));
  // Connect with a deadline: a black-holed address must not hang the user for minutes.
  bool connected = false;
  net::async_connect(socket, results, [&](const beast::error_code& e, const tcp::endpoint&) {
    ec = e;
    connected = true;
  });
  ioc.run_for(timeout);
  ioc.restart();
  if (!connected) {
    socket.close(ec);
    return make_error(Errc::network, fmt::format("connecting to {}:{}: no answer within {} s (--connect-timeout)", host, port,
                                                 timeout.count()));
  }
  if (ec) return make_error(Errc::network, fmt::format("connecting to {}:{}: {}", host, port, ec.message()));
  // Small Noise messages back to back: Nagle plus delayed ACKs would add ~40 ms each.
  socket.set_option(tcp::no_delay(true), ec);
  if (proxy.empty()) return {};
  http::request<http::empty_body> req{http::verb::connect, url.host + ":" + url.port, 11};
  req.set(http::field::host, url.host + ":" + url.port);
  http::write(socket, req, ec);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a CONNECT answer has no body
  if (!ec) http::read_header(socket, buffer, parser, ec);
  if (ec) return make_error(Errc::network, fmt::format("proxy {}: {}", proxy, ec.message()));
  if (parser.get().result_int() != 200)
    return make_error(Errc::network, fmt::format("proxy {}: CONNECT answered {}", proxy, parser.get().result_int()));
  return {};
}

// The handshake runs on blocking calls; if the server goes silent, the watchdog shuts the
// socket down so that they return instead of waiting forever. The clock counts the
// server's time only: it is paused while the client verifies the evidence (which has its
// own deadlines for any fetch).
class HandshakeWatchdog : public confer::net::Watchdog {
 public:
  HandshakeWatchdog(int fd, std::chrono::seconds timeout) : Watchdog(fd, timeout), timeout_(timeout) {}
  // The error to report: `e` itself, unless the deadline is what ended the handshake.
  Error explain(Error e) {
    if (!fired()) return e;
    return Error{Errc::network, fmt::format("the server did not complete the handshake within {} s "
                                            "(--connect-timeout)", timeout_.count())};
  }

 private:
  std::chrono::seconds timeout_;
};

template <class Ws>
class Channel final : public ClientChannel, public std::enable_shared_from_this<Channel<Ws>> {
 public:
  Channel(std::unique_ptr<net::io_context> ioc, std::unique_ptr<Ws> ws, noise::TransportState transport,
          noise::PublicKey server_static)
      : ioc_(std::move(ioc)), ws_(std::move(ws)), transport_(std::move(transport)),
        server_static_(server_static), assembler_(kMaxResponseMessage, kMaxOpenGroups) {}

  ~Channel() override { close(); }

  void start() {
      read_next();
    thread_ = std::thread([this] { run_io(); });
  }

  // The I/O thread: a handler that throws ends this channel with an error, never the
  // process (an exception leaving a std::thread calls std::terminate).
  void run_io() noexcept {
    try {
      ioc_->run();
    } catch (...) {
      fail(make_error(Errc::internal, "channel: internal: " + current_exception_text()));
    }
  }

  void send(const Request& request) override {
    Bytes message = encode_request(request);
    net::post(ws_->get_executor(), [this, message = std::move(message)] {
      if (failed_) return;
      for (auto& frame : encode_frames(message, random_id())) {
        auto ct = transport_.encrypt(frame);
        if (!ct) return fail(std::move(ct).error());
        outbox_.push_back(std::move(ct).value());
      }
      if (!writing_) write_next();
    });
  }

  Result<std::optional<Response>> next(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return !inbox_.empty() || error_.has_value(); });
    if (!inbox_.empty()) {
      Response r = std::move(inbox_.front());
      inbox_.pop_front();
      return std::optional<Response>(std::move(r));
    }
    if (error_) return *error_;
    return std::optional<Response>();
  }

  void close() override {
    if (thread_.joinable()) {
      net::post(ws_->get_executor(), [this] {
        beast::error_code ec;
        beast::get_lowest_layer(*ws_).close(ec);
      });
      ioc_->stop();
      thread_.join();
    }
  }

  const noise::PublicKey& server_static() const override { return server_static_; }

 private:
  void fail(Error e) {
    failed_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::move(e);
    }
    cv_.notify_all();
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).close(ec);
  }

  void read_next() {
    ws_->async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      if (ec) return fail(make_error(Errc::network, "connection closed: " + ec.message()));
      auto data = buffer_.data();
      Bytes ct(static_cast<const uint8_t*>(data.data()), static_cast<const uint8_t*>(data.data()) + data.size());
      buffer_.consume(buffer_.size());
      auto frame = transport_.decrypt(ct);
      if (!frame) return fail(make_error(Errc::protocol, "decryption failed: " + frame.error().message));
      auto message = assembler_.add(*frame);
      if (!message) return fail(std::move(message).error());
      if (*message) {
        auto response = decode_response(**message);
        if (!response) return fail(std::move(response).error());
        {
          std::lock_guard<std::mutex> lock(mu_);
          inbox_.push_back(std::move(response).value());
        }
        cv_.notify_all();
      }
      read_next();
    });
  }

  void write_next() {
    if (outbox_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    ws_->async_write(net::buffer(outbox_.front()), [this](beast::error_code ec, std::size_t) {
      if (ec) return fail(make_error(Errc::network, "sending failed: " + ec.message()));
      outbox_.pop_front();
      write_next();
    });
  }

  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<Ws> ws_;
  noise::TransportState transport_;
  noise::PublicKey server_static_;
  FrameAssembler assembler_;
  beast::flat_buffer buffer_;
  std::deque<Bytes> outbox_;
  bool writing_ = false;
  bool failed_ = false;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Response> inbox_;
  std::optional<Error> error_;
};

template <class Ws>
Result<std::unique_ptr<ClientChannel>> handshake(std::unique_ptr<net::io_context> ioc, std::unique_ptr<Ws> ws,
                                                 const ServerUrl& url, const HandshakeVerifier& verify,
                                                 HandshakeWatchdog& watchdog) {
  // On every early return the stream must go before the io_context it was built on.
  struct StreamFirst {
    std::unique_ptr<Ws>& ws;
    ~StreamFirst() { ws.reset(); }
  } stream_first{ws};
  beast::error_code ec;
  ws->binary(true);
  ws->read_message_max(noise::kMaxMessage);
  ws->set_option(websocket::stream_base::decorator(
      [](websocket::request_type& req) { req.set(http::field::user_agent, "confer/" CONFER_VERSION); }));
  websocket::response_type upgrade;
  ws->handshake(upgrade, url.host, url.target, ec);
  if (ec == websocket::error::upgrade_declined && upgrade.result() == http::status::service_unavailable)
    return make_error(Errc::protocol, fmt::format("{} is full or stopping (503 {}); try again later", url.text(),
                                                  std::string(upgrade.reason())));
  // (Boost 1.74 leaves the response unset when the upgrade is declined: its status is
  // then unknown, and a declined upgrade is most often a full or stopping server.)
  if (ec == websocket::error::upgrade_declined && upgrade.result() != http::status::ok)
    return make_error(Errc::protocol, fmt::format("WebSocket upgrade at {}: the server answered {} {}", url.text(),
                                                  upgrade.result_int(), std::string(upgrade.reason())));
  if (ec == websocket::error::upgrade_declined)
    return make_error(Errc::protocol, fmt::format("{} declined the WebSocket upgrade: it is full or stopping (or not "
                                                  "confer-server); try again later", url.text()));
  if (ec)
    return watchdog.explain(
        make_error(Errc::network, fmt::format("WebSocket upgrade at {}: {}", url.text(), ec.message())));

  CONFER_TRY(auto client_key, noise::KeyPair::generate());
  CONFER_TRY(auto hs, noise::HandshakeState::create(noise::Role::initiator, std::move(client_key), {}));
  CONFER_TRY(Bytes m1, hs.write_message({}));
  ws->write(net::buffer(m1), ec);
  if (ec) return watchdog.explain(make_error(Errc::network, "sending handshake message 1: " + ec.message()));
  beast::flat_buffer buffer;
  ws->read(buffer, ec);
  if (ec) return watchdog.explain(make_error(Errc::protocol, "reading handshake message 2: " + ec.message()));
  auto data = buffer.data();
  Bytes m2(static_cast<const uint8_t*>(data.data()), static_cast<const uint8_t*>(data.data()) + data.size());
  auto payload = hs.read_message(m2);
  if (!payload) return make_error(Errc::protocol, "handshake message 2: " + payload.error().message);
  noise::PublicKey server_static = hs.remote_static();
  // Verification decides before message 3: a refused server never sees our key or a request.
  watchdog.pause();
  auto verdict = verify(server_static, *payload);
  watchdog.resume();
  if (!verdict) {
    ws->close(websocket::close_code::policy_error, ec);
    return std::move(verdict).error();
  }
  CONFER_TRY(Bytes m3, hs.write_message({}));
  ws->write(net::buffer(m3), ec);
  if (ec) return watchdog.explain(make_error(Errc::network, "sending handshake message 3: " + ec.message()));
  CONFER_TRY(auto transport, hs.split());
  auto channel = std::make_shared<Channel<Ws>>(std::move(ioc), std::move(ws), std::move(transport), server_static);
  channel->start();
  // Ownership: the facade keeps the shared channel alive until it is destroyed.
  struct Holder final : ClientChannel {
    std::shared_ptr<Channel<Ws>> c;
    explicit Holder(std::shared_ptr<Channel<Ws>> p) : c(std::move(p)) {}
    ~Holder() override { c->close(); }
    void send(const Request& r) override { c->send(r); }
    Result<std::optional<Response>> next(std::chrono::milliseconds t) override { return c->next(t); }
    void close() override { c->close(); }
    const noise::PublicKey& server_static() const override { return c->server_static(); }
  };
  return std::unique_ptr<ClientChannel>(std::make_unique<Holder>(std::move(channel)));
}

}  // namespace

Result<std::unique_ptr<ClientChannel>> connect_channel(const ServerUrl& url, const HandshakeVerifier& verify,
                                                       const ChannelOptions& options) {
  auto ioc = std::make_unique<net::io_context>(1);
  std::string proxy = options.proxy;
  if (!url.tls) {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(*ioc);
    CONFER_TRY_VOID(open_tcp(*ioc, ws->next_layer(), url, proxy, options.connect_timeout));
    HandshakeWatchdog watchdog(ws->next_layer().native_handle(), options.connect_timeout);
    return handshake(std::move(ioc), std::move(ws), url, verify, watchdog);
  }
  static net::ssl::context tls_ctx = [] {
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(net::ssl::verify_peer);
    return ctx;
  }();
  auto ws = std::make_unique<websocket::stream<beast::ssl_stream<tcp::socket>>>(*ioc, tls_ctx);
  CONFER_TRY_VOID(open_tcp(*ioc, beast::get_lowest_layer(*ws), url, proxy, options.connect_timeout));
  HandshakeWatchdog watchdog(beast::get_lowest_layer(*ws).native_handle(), options.connect_timeout);
  auto& tls = ws->next_layer();
  if (!SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str()))
    return make_error(Errc::internal, "TLS: setting SNI failed");
  tls.set_verify_callback(net::ssl::host_name_verification(url.host));
  beast::error_code ec;
  tls.handshake(net::ssl::stream_base::client, ec);
  if (ec) return watchdog.explain(make_error(Errc::network, fmt::format("TLS with {}: {}", url.host, ec.message())));
  return handshake(std::move(ioc), std::move(ws), url, verify, watchdog);
}

}  // namespace confer::transport
