// Load and faults: confer-server under many connections, slow and vanishing clients,
// exhausted file descriptors, upstreams that hang, stall or stop early, and shutdown
// mid-stream; and what `confer chat` says about each. Every case is bounded, and each
// prints what it measured (MESSAGE) so a number can be quoted.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "chat/protocol.hpp"
#include "net/watchdog.hpp"
#include "noise/noise.hpp"
#include "support/e2e.hpp"
#include "support/support.hpp"
#include "transport/frames.hpp"

using namespace confer;
using namespace std::chrono_literals;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `done` every 10 ms for up to `limit`.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

int port_of(const test::Server& s) { return std::stoi(s.url.substr(s.url.rfind(':') + 1)); }

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// ---- A process, seen through /proc.

// A "Name:   N kB" field of /proc/PID/status, in KiB; -1 when absent.
long status_kib(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// utime + stime from /proc/PID/stat (fields 14 and 15, in clock ticks), in seconds; -1
// when the process is gone.
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t name_end = text.rfind(')');  // field 2, the command, is in parentheses and may hold spaces
  if (name_end == std::string::npos) return -1;
  std::istringstream fields(text.substr(name_end + 1));
  std::string field;
  unsigned long long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14) ticks += std::stoull(field);
  return double(ticks) / double(::sysconf(_SC_CLK_TCK));
}

size_t open_fds(int pid) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// ---- Raw TCP and HTTP.

// File descriptors closed together when the holder goes (or by close_all()).
struct Sockets {
  std::vector<int> fds;
  Sockets() = default;
  Sockets(const Sockets&) = delete;
  Sockets& operator=(const Sockets&) = delete;
  ~Sockets() { close_all(); }
  void close_all() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }
};

// A blocking TCP connection to 127.0.0.1:`port` from `source` (bound before connecting),
// with a receive buffer of `rcvbuf` bytes when > 0. Fails the test if it cannot.
int connect_from(int port, const char* source = "127.0.0.1", int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
            ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  int err = errno;
  if (!ok) ::close(fd);
  REQUIRE_MESSAGE(ok, "connecting from " << source << " to port " << port << ": " << std::strerror(err));
  return fd;
}

// A listening socket on 127.0.0.1 that nobody answers; its port into `port`.
int silent_listener(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 4) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (!ok) ::close(fd);
  REQUIRE(ok);
  port = ntohs(addr.sin_port);
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

// A complete, valid WebSocket upgrade request for /websocket (RFC 6455 §4.1).
std::string upgrade_request(int port) {
  return "GET /websocket HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\nUser-Agent: confer-load-test\r\n\r\n";
}

struct HttpAnswer {
  int status = 0;  // 0: no status line before the deadline
  std::string text;
};

// The HTTP answer on `fd`: a 101's head only (WebSocket follows it); any other answer to
// the end of the connection (the server closes after it), or to `deadline`.
HttpAnswer read_answer(int fd, Clock::time_point deadline) {
  HttpAnswer a;
  for (;;) {
    if (a.status == 0 && a.text.find("\r\n\r\n") != std::string::npos && a.text.rfind("HTTP/1.1 ", 0) == 0)
      a.status = std::atoi(a.text.c_str() + 9);
    if (a.status == 101) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    a.text.append(buf, size_t(n));
  }
  return a;
}

// `count` WebSockets upgraded at /websocket from `source`; a thread then sends each of
// them one byte a second of a binary frame the size of Noise message 1, so none ever
// completes its handshake and none is ever silent.
class Drippers {
 public:
  Drippers(int port, const char* source, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      int fd = connect_from(port, source);
      sockets_.fds.push_back(fd);
      REQUIRE(send_all(fd, upgrade_request(port)));
      HttpAnswer answer = read_answer(fd, Clock::now() + 10s);
      REQUIRE_MESSAGE(answer.status == 101, "dripper " << i << " was not upgraded: " << answer.text);
    }
    thread_ = std::thread([this] { drip(); });
  }
  ~Drippers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Drippers(const Drippers&) = delete;
  Drippers& operator=(const Drippers&) = delete;

  // Whether the server has closed dripper `i` (its end of stream, or a close frame, waits).
  bool closed(size_t i) const {
    pollfd p{sockets_.fds.at(i), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1;
  }
  size_t closed_count() const {
    size_t n = 0;
    for (size_t i = 0; i < sockets_.fds.size(); ++i) n += closed(i) ? 1 : 0;
    return n;
  }

 private:
  void drip() {
    // FIN + binary; masked, 32 bytes (message 1 is the 32-byte ephemeral key); the mask.
    std::string frame{'\x82', static_cast<char>(0x80 | 32), 'k', 'e', 'y', 's'};
    frame.append(32, 'x');
    std::unique_lock<std::mutex> lock(mu_);
    for (size_t at = 0; at < frame.size(); ++at) {
      for (int fd : sockets_.fds) (void)::send(fd, &frame[at], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (cv_.wait_for(lock, 1s, [this] { return stop_; })) return;
    }
  }

  Sockets sockets_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// ---- A WebSocket and Noise client of our own (no attestation judged).

// A WebSocket at /websocket from 127.0.0.1, on blocking calls each bounded by a confer::net::Watchdog.
struct WsClient {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};

  explicit WsClient(int port, int rcvbuf = 0) {
    ws.next_layer().assign(tcp::v4(), connect_from(port, "127.0.0.1", rcvbuf));
    ws.read_message_max(noise::kMaxMessage);
    confer::net::Watchdog deadline(fd(), 10s);
    beast::error_code ec;
    ws.handshake("127.0.0.1:" + std::to_string(port), "/websocket", ec);
    REQUIRE_MESSAGE(!ec, "WebSocket upgrade: " << ec.message());
  }
  int fd() { return ws.next_layer().native_handle(); }
  void write(ByteView message, bool binary = true) {
    ws.binary(binary);
    beast::error_code ec;
    ws.write(net::buffer(message.data(), message.size()), ec);
    REQUIRE_MESSAGE(!ec, "WebSocket write: " << ec.message());
  }
  // One message, or the error that ended the wait (the watchdog's shows as a broken stream).
  Bytes read(std::chrono::milliseconds limit, beast::error_code& ec) {
    confer::net::Watchdog deadline(fd(), limit);
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    auto data = buffer.data();
    const auto* p = static_cast<const uint8_t*>(data.data());
    return Bytes(p, p + data.size());
  }
};

// Noise XX as initiator, messages 1 and 2 (lib/transport/client.cpp handshake(), without
// judging the evidence): the handshake state, ready for message 3; message 2's payload,
// the server's evidence, into `evidence`.
noise::HandshakeState noise_hello(WsClient& c, std::string& evidence) {
  auto key = noise::KeyPair::generate();
  REQUIRE(key.ok());
  auto hs = noise::HandshakeState::create(noise::Role::initiator, std::move(key).value(), {});
  REQUIRE(hs.ok());
  auto m1 = hs->write_message({});
  REQUIRE(m1.ok());
  c.write(*m1);
  beast::error_code ec;
  Bytes m2 = c.read(10s, ec);
  REQUIRE_MESSAGE(!ec, "reading handshake message 2: " << ec.message());
  auto payload = hs->read_message(m2);
  REQUIRE_MESSAGE(payload.ok(), "handshake message 2: " << payload.error().message);
  evidence.assign(payload->begin(), payload->end());
  return std::move(hs).value();
}

// The whole handshake: the transport keys.
noise::TransportState noise_handshake(WsClient& c) {
  std::string evidence;
  noise::HandshakeState hs = noise_hello(c, evidence);
  auto m3 = hs.write_message({});
  REQUIRE(m3.ok());
  c.write(*m3);
  auto transport = hs.split();
  REQUIRE(transport.ok());
  return std::move(transport).value();
}

// A request sealed and framed as the client's channel sends it.
void send_request(WsClient& c, noise::TransportState& transport, const transport::Request& request) {
  for (const auto& frame : transport::encode_frames(transport::encode_request(request), transport::random_id())) {
    auto sealed = transport.encrypt(frame);
    REQUIRE(sealed.ok());
    c.write(*sealed);
  }
}

transport::Request chat_request(const std::string& prompt) {
  chat::ChatRequest chat;
  chat.messages.push_back({"user", prompt});
  chat.stream = true;
  std::string body = chat::serialize_chat_request(chat);
  transport::Request r;
  r.id = transport::random_id();
  r.verb = "POST";
  r.path = std::string(chat::kChatPath);
  r.body.assign(body.begin(), body.end());
  return r;
}

// ---- confer, the fake upstream's log and events.

test::SpawnOptions captured() {
  test::SpawnOptions o;
  o.capture = true;
  o.stdin_text = "";  // an immediate end of input: the prompt is the argument
  return o;
}

// Waits for `p` to exit; fails the test if it runs past `limit`.
test::Run finished(test::Process& p, std::chrono::seconds limit, const char* what) {
  auto r = p.wait_for(limit);
  REQUIRE_MESSAGE(r.has_value(), what << " still running after " << limit.count() << " s");
  return *r;
}

// confer with `args`, to its end, bounded by `limit`.
test::Run confer_run(const std::vector<std::string>& args, std::chrono::seconds limit = 30s) {
  test::Process p(CONFER_BIN, args, captured());
  return finished(p, limit, "confer");
}

// `confer chat -q PROMPT` against `server`, returned once `upstream` has logged its request.
std::unique_ptr<test::Process> chat_reaching_upstream(const test::Server& server, const test::Upstream& upstream,
                                                      const std::string& prompt) {
  auto confer = std::make_unique<test::Process>(CONFER_BIN, test::trusted(server, {"-q", prompt}), captured());
  REQUIRE_MESSAGE(eventually([&] { return !upstream.requests().empty(); }, 20s),
                  "the chat never reached the upstream");
  return confer;
}

// The fake's "end MS REASON SENT" line.
struct End {
  int64_t ms = 0;
  std::string reason;
  size_t sent = 0;
};

End first_end(const test::Upstream& upstream, std::chrono::seconds limit) {
  REQUIRE_MESSAGE(eventually([&] { return !upstream.ends().empty(); }, limit),
                  "the upstream's stream did not end within " << limit.count() << " s");
  std::istringstream in(upstream.ends().front());
  std::string word;
  End e;
  in >> word >> e.ms >> e.reason >> e.sent;
  REQUIRE_MESSAGE(word == "end", upstream.ends().front());
  return e;
}

// The fake's TEXT for `words` with --tokens `pieces`.
std::string echo_text(const std::vector<std::string>& words, size_t pieces) {
  std::string text = pieces > 0 ? "echo:" : "";
  for (size_t i = 1; i < pieces; ++i) text += " " + words[(i - 1) % words.size()];
  return text;
}

// A prompt asked plainly and with --json: both runs, the --json tokens joined, and
// whether an "incomplete" event came.
struct BothWays {
  test::Run plain;
  test::Run json;
  std::string tokens;
  bool incomplete = false;
  bool completion = false;
};

BothWays ask_both_ways(const test::Server& server, const std::string& prompt) {
  BothWays b;
  b.plain = confer_run(test::trusted(server, {"-q", prompt}));
  b.json = confer_run(test::trusted(server, {"-q", "--json", prompt}));
  std::istringstream lines(b.json.out);
  for (std::string line; std::getline(lines, line);) {
    auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object() || !event.contains("type")) continue;
    if (event["type"] == "token" && event["content"].is_string()) b.tokens += event["content"].get<std::string>();
    b.incomplete = b.incomplete || event["type"] == "incomplete";
    b.completion = b.completion || event["type"] == "completion";
  }
  MESSAGE("plain: exit ", b.plain.exit_code, ", stdout ", b.plain.out, ", stderr ", b.plain.err);
  MESSAGE("--json: exit ", b.json.exit_code, ", stdout ", b.json.out);
  return b;
}

// SIGTERM to `server` `after` its upstream had the chat's request, mid-stream: how the
// server ended, and how many seconds after the signal.
std::pair<test::Run, double> stop_mid_stream(test::Server& server, const test::Upstream& upstream,
                                             std::chrono::milliseconds after, std::chrono::seconds limit) {
  std::this_thread::sleep_for(after);
  REQUIRE_MESSAGE(upstream.ends().empty(), "the stream ended before the signal");
  REQUIRE(::kill(server.child->pid(), SIGTERM) == 0);
  auto signalled = Clock::now();
  test::Run r = finished(*server.child, limit, "confer-server after SIGTERM");
  double took = seconds_since(signalled);
  MESSAGE("confer-server exited ", r.exit_code, " after ", took, " s; stderr tail: ",
          r.err.substr(r.err.size() > 400 ? r.err.size() - 400 : 0));
  return {r, took};
}

// A chat whose upstream, started with `fake`, misbehaves in front of a server with
// `limits`: it must fail with exit 5 about two seconds after the upstream had the
// request, naming `flag` and not `other_flag`.
void check_upstream_deadline(const std::vector<std::string>& fake, const std::vector<std::string>& limits,
                             const std::string& flag, const std::string& other_flag) {
  test::Upstream upstream(fake);
  test::Server server(upstream.url, CONFER_SERVER_BIN, limits);
  auto confer = chat_reaching_upstream(server, upstream, "are you there");
  auto asked = Clock::now();
  test::Run r = finished(*confer, 20s, "confer chat");
  double took = seconds_since(asked);
  MESSAGE("failed ", took, " s after the upstream had the request: exit ", r.exit_code, ", stderr: ", r.err);
  CHECK(r.exit_code == 5);
  CHECK(took >= 1.5);
  CHECK(took <= 4.5);
  CHECK(r.err.find(flag) != std::string::npos);
  CHECK(r.err.find(other_flag) == std::string::npos);
  CHECK(server.child->running());
}

}  // namespace

TEST_CASE("load: 256 dripping WebSockets hold every slot, and a legitimate chat still gets in") {
  test::Upstream upstream;
  // A handshake timeout past the test's end: only evicting a dripper can make room.
  test::Server server(upstream.url, CONFER_SERVER_BIN,
                      {"--max-connections", "256", "--max-connections-per-ip", "256", "--handshake-timeout", "60"});
  auto opened = Clock::now();
  Drippers drippers(port_of(server), "127.0.0.2", 256);
  MESSAGE("256 WebSockets from 127.0.0.2 upgraded in ", seconds_since(opened), " s");
  REQUIRE(drippers.closed_count() == 0);

  auto start = Clock::now();
  test::Run r = confer_run(test::trusted(server, {"-q", "through the crowd"}), 30s);
  double took = seconds_since(start);
  size_t evicted = drippers.closed_count();
  MESSAGE("chat with every slot taken: exit ", r.exit_code, " in ", took, " s; drippers closed: ", evicted,
          ", the oldest among them: ", drippers.closed(0) ? "yes" : "no", "; stderr: ", r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "echo: through the crowd\n");
  CHECK(took < 20);
  CHECK(evicted >= 1);
  CHECK(drippers.closed(0));  // the oldest connection without a handshake goes first
  CHECK(server.child->running());
}

TEST_CASE("load: past 32 connections from one address the rest get 503, and another address still chats") {
  test::Upstream upstream;
  test::Server server(upstream.url);  // the default --max-connections-per-ip 32
  const int port = port_of(server);
  Sockets crowd;
  for (int i = 0; i < 40; ++i) {
    crowd.fds.push_back(connect_from(port, "127.0.0.3"));
    REQUIRE(send_all(crowd.fds.back(), upgrade_request(port)));
  }
  int upgraded = 0, refused = 0, silent = 0;
  std::string refusal;
  auto deadline = Clock::now() + 10s;
  for (int fd : crowd.fds) {
    HttpAnswer a = read_answer(fd, deadline);
    if (a.status == 101) {
      ++upgraded;
    } else if (a.status == 503) {
      ++refused;
      refusal = a.text;
    } else {
      ++silent;
    }
  }
  MESSAGE("40 upgrades from 127.0.0.3: ", upgraded, " upgraded, ", refused, " refused with 503, ", silent,
          " other; a refusal: ", refusal);
  CHECK(refused >= 8);
  CHECK(upgraded <= 32);
  CHECK(refusal.find("Too many connections from this address") != std::string::npos);

  test::Run r = confer_run(test::trusted(server, {"-q", "from another address"}));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "echo: from another address\n");
}

TEST_CASE("load: a client that never reads keeps the server's memory bounded") {
  // A stream as fast as the fake can make it, for ever.
  test::Upstream upstream({"--tokens", "100000000", "--delay-ms", "0"});
  // Under AddressSanitizer freed memory is held in a quarantine (256 MiB by default), so
  // RSS would grow with churn rather than with what the server keeps: none for this one.
  const char* asan = std::getenv("ASAN_OPTIONS");
  std::string no_quarantine = (asan && *asan ? std::string(asan) + ":" : std::string()) +
                              "quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
  test::Server server(upstream.url, CONFER_SERVER_BIN, {"--grace", "1"}, {}, {{"ASAN_OPTIONS", no_quarantine}});
  const int pid = server.child->pid();
  // A small receive buffer: the kernel holds little on our side, so the rest waits in the server.
  auto client = std::make_unique<WsClient>(port_of(server), 16 * 1024);
  noise::TransportState transport = noise_handshake(*client);
  send_request(*client, transport, chat_request("flood me"));
  REQUIRE(eventually([&] { return !upstream.requests().empty(); }, 10s));
  // From here on the client never reads.
  std::this_thread::sleep_for(1s);
  long before = status_kib(pid, "VmRSS");
  std::this_thread::sleep_for(6s);
  long after = status_kib(pid, "VmRSS");
  int waiting = 0;
  ::ioctl(client->fd(), FIONREAD, &waiting);
  MESSAGE("server VmRSS ", before, " KiB -> ", after, " KiB over 6 s: growth ", double(after - before) / 1024.0,
          " MiB; bytes waiting unread at the client: ", waiting);
  REQUIRE(before > 0);
  REQUIRE(after > 0);
  CHECK(after - before < 48 * 1024);
  CHECK(waiting > 0);  // the server did stream to it
  CHECK(server.child->running());

  client.reset();
  // Still serving: the model list through a new attested channel.
  std::vector<std::string> models = test::trusted(server, {});
  models.front() = "models";
  test::Run m = confer_run(models);
  CHECK_MESSAGE(m.exit_code == 0, m.err);
  CHECK(m.out == "fake-model\n");
  bool ended = eventually([&] { return !upstream.ends().empty(); }, 5s);
  MESSAGE("after the reader left, the upstream: ", ended ? upstream.ends().front() : "no end within 5 s");
}

TEST_CASE("load: with its file descriptors exhausted the server waits instead of spinning, and recovers") {
  const std::string prlimit = on_path("prlimit");
  REQUIRE_MESSAGE(!prlimit.empty(), "prlimit (util-linux) is not on PATH");
  test::Upstream upstream;
  test::Server server(upstream.url, CONFER_SERVER_BIN,
                      {"--store", "none", "--max-connections-per-ip", "256", "--handshake-timeout", "60"},
                      {prlimit, "--nofile=64:64", "--"});
  const int pid = server.child->pid();
  {
    Sockets held;
    for (int i = 0; i < 100; ++i) held.fds.push_back(connect_from(port_of(server)));
    std::this_thread::sleep_for(1s);
    size_t fds = open_fds(pid);
    double before = cpu_seconds(pid);
    std::this_thread::sleep_for(3s);
    double used = cpu_seconds(pid) - before;
    MESSAGE("100 connections held: the server has ", fds, " of 64 descriptors open; CPU over 3 s: ", used, " s");
    CHECK(fds >= 48);  // it did run out (or nearly): the measurement means something
    CHECK(before >= 0);
    CHECK(used < 0.3);
    CHECK(server.child->running());
  }
  // Released: a chat gets through within 15 s (a first attempt may race the backlog).
  auto start = Clock::now();
  test::Run r;
  int attempts = 0;
  do {
    if (attempts++ > 0) std::this_thread::sleep_for(500ms);
    r = confer_run(test::trusted(server, {"-q", "after the flood"}), 15s);
  } while (r.exit_code != 0 && attempts < 5 && seconds_since(start) < 15);
  double took = seconds_since(start);
  MESSAGE("after release: exit ", r.exit_code, " after ", attempts, " attempt(s), ", took, " s; stderr: ", r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "echo: after the flood\n");
  CHECK(took < 15);
}

TEST_CASE("load: a client killed mid-stream stops its upstream call within 1 s") {
  test::Upstream upstream({"--tokens", "400", "--delay-ms", "50"});  // 20 s of answer
  test::Server server(upstream.url);
  auto confer = chat_reaching_upstream(server, upstream, "count slowly");
  std::this_thread::sleep_for(500ms);
  REQUIRE(confer->running());
  REQUIRE(upstream.ends().empty());
  REQUIRE(::kill(confer->pid(), SIGKILL) == 0);
  const int64_t killed = wall_ms();
  CHECK(finished(*confer, 5s, "confer after SIGKILL").exit_code == 128 + SIGKILL);
  End end = first_end(upstream, 10s);
  MESSAGE("the upstream call ended ", end.ms - killed, " ms after the kill: ", end.reason, ", ", end.sent,
          " pieces sent");
  CHECK(end.reason == "client-left");
  CHECK(end.ms - killed <= 1000);
  CHECK(end.sent < 400);
}

TEST_CASE("load: an upstream that closes early gives exit 5, the tokens so far, and says the answer was cut off") {
  test::Upstream upstream({"--truncate-after", "3"});
  test::Server server(upstream.url);
  BothWays b = ask_both_ways(server, "one two three four five");
  CHECK(b.plain.exit_code == 5);
  CHECK(b.plain.err.find("cut off") != std::string::npos);
  CHECK(b.plain.out.rfind("echo: one two", 0) == 0);  // the three pieces that came
  CHECK(b.plain.out.find("three") == std::string::npos);
  CHECK(b.json.exit_code == 5);
  CHECK(b.json.out.find("\"type\":\"incomplete\"") != std::string::npos);
  CHECK(b.incomplete);
  CHECK(b.tokens == "echo: one two");
  CHECK_FALSE(b.completion);
  REQUIRE(eventually([&] { return upstream.ends().size() == 2; }, 5s));
  CHECK(upstream.ends()[0].find(" truncated 3") != std::string::npos);
}

TEST_CASE("load: the same chat with an upstream that finishes exits 0 and is not called incomplete") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  BothWays b = ask_both_ways(server, "one two three four five");
  CHECK(b.plain.exit_code == 0);
  CHECK(b.plain.out == "echo: one two three four five\n");
  CHECK(b.plain.err.find("cut off") == std::string::npos);
  CHECK(b.json.exit_code == 0);
  CHECK(b.json.out.find("incomplete") == std::string::npos);
  CHECK_FALSE(b.incomplete);
  CHECK(b.completion);
  CHECK(b.tokens == "echo: one two three four five");
  REQUIRE(eventually([&] { return upstream.ends().size() == 2; }, 5s));
  CHECK(upstream.ends()[0].find(" done 6") != std::string::npos);
}

TEST_CASE("load: SIGTERM mid-stream lets the stream run for --grace, then cuts it and exits 0") {
  test::Upstream upstream({"--tokens", "1000", "--delay-ms", "50"});  // 50 s of answer
  test::Server server(upstream.url, CONFER_SERVER_BIN, {"--grace", "2"});
  auto confer = chat_reaching_upstream(server, upstream, "a long answer");
  auto [stopped, took] = stop_mid_stream(server, upstream, 500ms, 10s);
  CHECK(stopped.exit_code == 0);
  CHECK(took >= 1.9);
  CHECK(took <= 5.0);
  test::Run r = finished(*confer, 10s, "confer chat after the server stopped");
  MESSAGE("confer: exit ", r.exit_code, ", stdout ", r.out.size(), " bytes, stderr: ", r.err);
  CHECK(r.exit_code == 5);
  CHECK(r.err.find("cut") != std::string::npos);
  CHECK(r.out.rfind("echo: a long", 0) == 0);  // it had been streaming
}

TEST_CASE("load: SIGTERM mid-stream lets a short answer finish, and the server exits 0 well before --grace") {
  test::Upstream upstream({"--tokens", "20", "--delay-ms", "50"});  // about 1 s of answer
  test::Server server(upstream.url, CONFER_SERVER_BIN, {"--grace", "10"});
  auto confer = chat_reaching_upstream(server, upstream, "alpha beta");
  auto [stopped, took] = stop_mid_stream(server, upstream, 400ms, 15s);
  CHECK(stopped.exit_code == 0);
  CHECK(took < 5.0);
  test::Run r = finished(*confer, 10s, "confer chat");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == echo_text({"alpha", "beta"}, 20) + "\n");
  CHECK(first_end(upstream, 5s).reason == "done");
  CHECK(upstream.ends()[0].find(" done 20") != std::string::npos);
}

TEST_CASE("load: an upstream silent past --upstream-timeout fails the chat then, naming the flag") {
  check_upstream_deadline({"--hang"}, {"--upstream-timeout", "2"}, "--upstream-timeout",
                          "--upstream-first-token-timeout");
}

TEST_CASE("load: an upstream sending only keep-alives fails the chat at --upstream-first-token-timeout, naming it") {
  check_upstream_deadline({"--keepalive-only"}, {"--upstream-first-token-timeout", "2", "--upstream-timeout", "60"},
                          "--upstream-first-token-timeout", "--upstream-timeout");
}

TEST_CASE("load: a server that accepts and never answers the upgrade fails confer chat at --connect-timeout") {
  int port = 0;
  Sockets sockets;
  sockets.fds.push_back(silent_listener(port));
  auto start = Clock::now();
  test::Process confer(CONFER_BIN,
                       {"chat", "--server", "ws://127.0.0.1:" + std::to_string(port), "--connect-timeout", "2", "-q",
                        "hello"},
                       captured());
  pollfd p{sockets.fds.front(), POLLIN, 0};
  if (::poll(&p, 1, 3000) == 1) {
    int accepted = ::accept4(sockets.fds.front(), nullptr, nullptr, SOCK_CLOEXEC);
    if (accepted >= 0) sockets.fds.push_back(accepted);  // held, never answered
  }
  test::Run r = finished(confer, 15s, "confer chat");
  double took = seconds_since(start);
  MESSAGE("confer gave up after ", took, " s: exit ", r.exit_code, ", stderr: ", r.err);
  CHECK(sockets.fds.size() == 2);  // it did connect, and was accepted
  CHECK(r.exit_code != 0);
  CHECK(took >= 1.5);
  CHECK(took <= 5.0);
  CHECK(r.err.find("--connect-timeout") != std::string::npos);
}

TEST_CASE("load: a 503 at the upgrade says the server is full, not that it may not be running") {
  std::string body = "Too many connections\n";
  test::LoopbackHttp full(503, Bytes(body.begin(), body.end()));
  test::Run r = confer_run({"chat", "--server", full.base_url(), "-q", "hello"}, 20s);
  MESSAGE("exit ", r.exit_code, ", stderr: ", r.err);
  CHECK(r.exit_code == 5);
  CHECK(r.err.find("full") != std::string::npos);
  CHECK(r.err.find("is confer-server running") == std::string::npos);
  REQUIRE_FALSE(full.targets().empty());
  CHECK(full.targets()[0] == "/websocket");
}

TEST_CASE("load: a text WebSocket frame is refused with close code 1008, a binary message 1 is answered") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  {
    WsClient text(port_of(server));
    std::string hello = "hello";
    text.write(as_bytes(hello), /*binary=*/false);
    auto start = Clock::now();
    beast::error_code ec;
    text.read(5s, ec);
    double took = seconds_since(start);
    std::string reason(text.ws.reason().reason.data(), text.ws.reason().reason.size());
    MESSAGE("after a text frame: ", ec.message(), " after ", took, " s, close code ", text.ws.reason().code,
            " reason '", reason, "'");
    CHECK(ec == websocket::error::closed);
    CHECK(text.ws.reason().code == websocket::close_code::policy_error);  // 1008
    for (char& c : reason) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(reason.find("binary") != std::string::npos);
    CHECK(took < 5.0);
  }
  WsClient binary(port_of(server));
  std::string evidence;
  noise_hello(binary, evidence);
  MESSAGE("message 2 carried ", evidence.size(), " bytes of evidence");
  CHECK(nlohmann::json::parse(evidence, nullptr, /*allow_exceptions=*/false).is_object());
  CHECK(server.child->running());
}

TEST_CASE("load: the client's verification between messages 2 and 3 has --client-verify-timeout, not --handshake-timeout") {
  test::Upstream upstream;
  test::Server server(upstream.url, CONFER_SERVER_BIN, {"--handshake-timeout", "1", "--client-verify-timeout", "4"});
  WsClient c(port_of(server));
  std::string evidence;
  noise::HandshakeState hs = noise_hello(c, evidence);
  std::this_thread::sleep_for(2s);  // "verifying" past the handshake timeout, inside the verification one
  auto m3 = hs.write_message({});
  REQUIRE(m3.ok());
  c.write(*m3);
  auto transport = hs.split();
  REQUIRE(transport.ok());
  send_request(c, *transport, chat_request("verified slowly"));
  beast::error_code ec;
  Bytes answer = c.read(10s, ec);
  MESSAGE("after 2 s of verification: ", ec ? ec.message() : "answered", ", ", answer.size(), " bytes");
  CHECK_FALSE(ec);
  CHECK_FALSE(answer.empty());
  CHECK(transport->decrypt(answer).ok());
}

TEST_CASE("load: a client silent past --client-verify-timeout after message 2 is closed then") {
  test::Upstream upstream;
  test::Server server(upstream.url, CONFER_SERVER_BIN, {"--handshake-timeout", "10", "--client-verify-timeout", "1"});
  WsClient c(port_of(server));
  std::string evidence;
  noise_hello(c, evidence);
  auto start = Clock::now();
  beast::error_code ec;
  c.read(5s, ec);  // the server says nothing more; it ends the connection
  double took = seconds_since(start);
  MESSAGE("waiting after message 2: ", ec.message(), " after ", took, " s");
  CHECK(ec);
  CHECK(took > 0.8);
  CHECK(took < 3.0);
  CHECK(server.child->running());
}
