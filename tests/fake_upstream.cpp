// fake_upstream: a deterministic OpenAI-compatible model server for end-to-end tests.
//
//   fake_upstream --port-file FILE --log FILE [--events FILE] [--tokens N] [--delay-ms MS]
//                 [--fail-status CODE] [--hang] [--deep-error DEPTH]
//                 [--truncate-after N] [--keepalive-only]
//
// Listens on 127.0.0.1 on an ephemeral port (listen backlog SOMAXCONN), writes "PORT\n"
// to --port-file (a temporary file renamed into place, so a reader never sees a partial
// number) and serves until SIGTERM/SIGINT (exit status 0). One request per connection;
// every response closes it.
//
// Routes
//   POST /v1/chat/completions  the chat endpoint below
//   GET  /v1/models            200 {"data":[{"id":"fake-model"}]}
//   anything else              404 {"error":{"message":"not found"}}
// Request bodies need Content-Length (a chunked request gets 411), at most 1 MiB (413);
// the request line and headers at most 64 KiB (431). "Expect: 100-continue" is honoured.
//
// The log
//   Every chat request whose body was read appends exactly one line to --log, flushed at
//   once, before anything is answered (also under --fail-status and --hang): the body
//   JSON re-dumped compactly (so it holds no raw newline). A body that is not JSON is
//   logged raw, with "\" "\n" "\r" escaped as \\ \n \r, and answered 400.
//
// The events (--events FILE)
//   Every streamed chat (the "stream": true reply below, including --truncate-after and
//   --keepalive-only) appends exactly one line to --events when it ends, flushed at once:
//     end MS REASON SENT
//   MS: the wall clock when it ended, in milliseconds since the Unix epoch
//       (std::chrono::system_clock);
//   REASON: done        every piece, the usage event and data: [DONE] were sent
//           client-left a send failed (the peer closed or reset the connection)
//           truncated   --truncate-after ended the stream early
//   SENT: the number of pieces sent (0 under --keepalive-only).
//   Non-streamed replies, --fail-status, --hang and the --deep-error reply add no line.
//
// The reply text (what tests predict)
//   WORDS  = the content of the last message whose role is "user", split on ASCII
//            whitespace (space, \t, \n, \v, \f, \r). Content is a string, or an array of
//            parts whose "text" members are joined with one space; no user message
//            means no words.
//   PIECES = "echo:" followed by " " + each word, in order (made one at a time as they
//            are sent, so --tokens 100000000 costs no memory).
//            With --tokens N there are exactly N pieces: piece 0 is "echo:" and piece i
//            (i >= 1) is " " + WORDS[(i - 1) mod len(WORDS)], or " echo" when WORDS is
//            empty; N = 0 gives no pieces.
//   TEXT   = the concatenation of PIECES.
//   e.g. last user message "hello  big\nworld": PIECES "echo:", " hello", " big",
//   " world"; TEXT "echo: hello big world"; with --tokens 2: "echo: hello"; with
//   --tokens 6: "echo: hello big world hello big".
//   usage: prompt_tokens = the number of words over all messages' content,
//          completion_tokens = the number of pieces, total_tokens = their sum.
//
// Chat replies
//   "stream" absent or not true: after --delay-ms (once), 200 application/json
//     {"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":
//     "assistant","content":TEXT},"finish_reason":"stop"}],"usage":{...}}
//   "stream": true: 200 text/event-stream, Transfer-Encoding: chunked, Connection: close;
//     one event per piece, --delay-ms apart:
//       data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":PIECE}}]}\n\n
//     then data: {"id":"x","object":"chat.completion.chunk","choices":[],"usage":{...}}\n\n
//     then data: [DONE]\n\n
//     then the chunked body ends (0\r\n\r\n).
//   --truncate-after N: a streamed chat sends the first N pieces (all of them if there
//     are fewer), then ends the chunked body (0\r\n\r\n) and closes: no usage event and
//     no data: [DONE].
//   --keepalive-only: a streamed chat sends the 200 event-stream head, then the SSE
//     comment ": keep-alive\n\n" as one chunk at once and every 200 ms after, forever:
//     never a piece, until a send fails (the client left).
//   --fail-status CODE: every chat request (after logging) gets CODE with
//     {"error":{"message":"fake upstream failure"}}.
//   --hang: every chat request is read and logged, then never answered; the connection
//     is held until the client closes it.
//   --deep-error DEPTH: the first chat request (after logging) gets a 200 event stream
//     whose one event is data: {"error": [[[...]]]} nested DEPTH deep, then the stream
//     ends; later requests are answered normally.
//   A body that is not a JSON object gets 400.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 1024 * 1024;

struct Config {
  std::string port_file;
  std::string log_path;
  std::string events_path;  // empty: no events
  std::optional<size_t> tokens;
  int delay_ms = 0;
  int fail_status = 0;  // 0: answer normally
  bool hang = false;
  size_t deep_error = 0;  // 0: off
  std::optional<size_t> truncate_after;
  bool keepalive_only = false;
};

Config g_config;
std::FILE* g_log = nullptr;
std::FILE* g_events = nullptr;
std::mutex g_log_mu;

void on_signal(int) { _exit(0); }

void append_line(std::FILE* file, const std::string& line) {
  if (file == nullptr) return;
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::fwrite(line.data(), 1, line.size(), file);
  std::fputc('\n', file);
  std::fflush(file);
}

void log_line(const std::string& line) { append_line(g_log, line); }

// "end MS REASON SENT" (see the header).
void stream_ended(const char* why, size_t sent) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  append_line(g_events, "end " + std::to_string(ms) + " " + why + " " + std::to_string(sent));
}

std::string escape_raw(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out.push_back(c);
  }
  return out;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(size_t(n));
  }
  return true;
}

const char* reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

bool send_json(int fd, int status, const std::string& body) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n";
  return send_all(fd, head + body);
}

bool send_error(int fd, int status, const std::string& message) {
  return send_json(fd, status, dump(Json{{"error", {{"message", message}}}}));
}

bool send_chunk(int fd, std::string_view data) {
  char size[32];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string frame(size, size_t(n));
  frame.append(data);
  frame += "\r\n";
  return send_all(fd, frame);
}

void set_recv_timeout(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// Stops sending, then reads what the client still sends (briefly) so that closing does
// not reset the connection before the client has read our response.
void close_gracefully(int fd) {
  ::shutdown(fd, SHUT_WR);
  set_recv_timeout(fd, 1);
  char buf[4096];
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
  ::close(fd);
}

// --hang: hold the connection, answering nothing, until the client goes away.
void hold_until_peer_closes(int fd) {
  set_recv_timeout(fd, 0);  // no timeout
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) break;
  }
  ::close(fd);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

struct Request {
  std::string method;
  std::string path;  // without the query
  std::string body;
};

// Reads one request. Returns 0, or the HTTP status to refuse it with; -1 when the
// connection broke (nothing to answer).
int read_request(int fd, Request& req) {
  std::string buf;
  size_t header_end = std::string::npos;
  char chunk[16384];
  while (header_end == std::string::npos) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf.append(chunk, size_t(n));
    header_end = buf.find("\r\n\r\n");
    if (header_end == std::string::npos && buf.size() > kMaxHeaderBytes) return 431;
  }
  if (header_end > kMaxHeaderBytes) return 431;
  std::string_view head(buf.data(), header_end);

  size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return 400;
  req.method = std::string(request_line.substr(0, sp1));
  std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  req.path = std::string(target.substr(0, target.find('?')));

  size_t content_length = 0;
  bool expect_continue = false;
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return 400;
    std::string name = lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      if (!parse_number(value, content_length)) return 400;
    } else if (name == "transfer-encoding") {
      return 411;
    } else if (name == "expect" && lower(value) == "100-continue") {
      expect_continue = true;
    }
  }
  if (content_length > kMaxBodyBytes) return 413;

  req.body = buf.substr(header_end + 4);
  if (req.body.size() > content_length) req.body.resize(content_length);  // no pipelining
  if (expect_continue && req.body.size() < content_length &&
      !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n"))
    return -1;
  while (req.body.size() < content_length) {
    ssize_t n = ::recv(fd, chunk, std::min(sizeof chunk, content_length - req.body.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    req.body.append(chunk, size_t(n));
  }
  return 0;
}

// The text of a message's content: a string, or the "text" members of an array of parts
// joined by one space.
std::string content_text(const Json& message) {
  if (!message.is_object()) return {};
  auto it = message.find("content");
  if (it == message.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  std::string out;
  if (it->is_array()) {
    for (const auto& part : *it) {
      if (!part.is_object()) continue;
      auto text = part.find("text");
      if (text == part.end() || !text->is_string()) continue;
      if (!out.empty()) out.push_back(' ');
      out += text->get<std::string>();
    }
  }
  return out;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

// The number of PIECES, and piece i, made when it is needed.
size_t piece_count(const std::vector<std::string>& words) {
  return g_config.tokens ? *g_config.tokens : words.size() + 1;
}

std::string reply_piece(const std::vector<std::string>& words, size_t i) {
  if (i == 0) return "echo:";
  if (words.empty()) return " echo";
  return " " + words[(i - 1) % words.size()];
}

constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

void sleep_delay() {
  if (g_config.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(g_config.delay_ms));
}

// Returns false when the connection is to be left alone (--hang closes it itself).
bool chat(int fd, const std::string& raw_body) {
  Json body = Json::parse(raw_body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    log_line(escape_raw(raw_body));
    send_error(fd, 400, "request body is not JSON");
    return true;
  }
  log_line(dump(body));

  if (g_config.hang) {
    hold_until_peer_closes(fd);
    return false;
  }
  if (g_config.fail_status != 0) {
    send_error(fd, g_config.fail_status, "fake upstream failure");
    return true;
  }
  static std::atomic<bool> deep_sent{false};
  if (g_config.deep_error != 0 && !deep_sent.exchange(true)) {
    std::string event = "data: {\"error\": " + std::string(g_config.deep_error, '[') +
                        std::string(g_config.deep_error, ']') + "}\n\n";
    if (send_all(fd, kStreamHead) && send_chunk(fd, event))
      send_all(fd, "0\r\n\r\n");
    return true;
  }
  if (!body.is_object()) {
    send_error(fd, 400, "request body is not a JSON object");
    return true;
  }

  size_t prompt_tokens = 0;
  std::vector<std::string> last_user_words;
  if (auto messages = body.find("messages"); messages != body.end() && messages->is_array()) {
    for (const auto& message : *messages) {
      std::vector<std::string> words = split_words(content_text(message));
      prompt_tokens += words.size();
      if (message.is_object()) {
        auto role = message.find("role");
        if (role != message.end() && role->is_string() && role->get<std::string>() == "user")
          last_user_words = std::move(words);
      }
    }
  }
  const size_t pieces = piece_count(last_user_words);
  Json usage = {{"prompt_tokens", prompt_tokens},
                {"completion_tokens", pieces},
                {"total_tokens", prompt_tokens + pieces}};

  auto stream_it = body.find("stream");
  bool stream = stream_it != body.end() && stream_it->is_boolean() && stream_it->get<bool>();
  if (!stream) {
    std::string text;
    for (size_t i = 0; i < pieces; ++i) text += reply_piece(last_user_words, i);
    sleep_delay();
    Json reply = {{"id", "x"},
                  {"object", "chat.completion"},
                  {"choices", Json::array({{{"index", 0},
                                            {"message", {{"role", "assistant"}, {"content", text}}},
                                            {"finish_reason", "stop"}}})},
                  {"usage", usage}};
    send_json(fd, 200, dump(reply));
    return true;
  }

  if (!send_all(fd, kStreamHead)) {
    stream_ended("client-left", 0);
    return true;
  }
  if (g_config.keepalive_only) {
    while (send_chunk(fd, ": keep-alive\n\n")) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stream_ended("client-left", 0);
    return true;
  }
  size_t sent = 0;
  for (; sent < pieces; ++sent) {
    if (g_config.truncate_after && sent == *g_config.truncate_after) break;
    if (sent > 0) sleep_delay();
    Json delta = {{"content", reply_piece(last_user_words, sent)}};
    Json event = {{"id", "x"},
                  {"object", "chat.completion.chunk"},
                  {"choices", Json::array({{{"index", 0}, {"delta", delta}}})}};
    if (!send_chunk(fd, "data: " + dump(event) + "\n\n")) {
      stream_ended("client-left", sent);
      return true;
    }
  }
  if (g_config.truncate_after) {
    send_all(fd, "0\r\n\r\n");
    stream_ended("truncated", sent);
    return true;
  }
  Json last = {{"id", "x"}, {"object", "chat.completion.chunk"}, {"choices", Json::array()}, {"usage", usage}};
  if (!send_chunk(fd, "data: " + dump(last) + "\n\n") || !send_chunk(fd, "data: [DONE]\n\n") ||
      !send_all(fd, "0\r\n\r\n")) {
    stream_ended("client-left", sent);
    return true;
  }
  stream_ended("done", sent);
  return true;
}

void serve_connection(int fd) {
  set_recv_timeout(fd, 60);
  Request req;
  int refused = read_request(fd, req);
  if (refused < 0) {
    ::close(fd);
    return;
  }
  if (refused > 0) {
    send_error(fd, refused, std::string("bad request: ") + reason(refused));
    close_gracefully(fd);
    return;
  }
  if (req.method == "POST" && req.path == "/v1/chat/completions") {
    if (!chat(fd, req.body)) return;
  } else if (req.method == "GET" && req.path == "/v1/models") {
    send_json(fd, 200, R"({"data":[{"id":"fake-model"}]})");
  } else {
    send_error(fd, 404, "not found");
  }
  close_gracefully(fd);
}

bool write_port_file(const std::string& path, int port) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fprintf(f, "%d\n", port) > 0;
  ok = std::fclose(f) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "fake_upstream: %s\n"
               "usage: fake_upstream --port-file FILE --log FILE [--events FILE] [--tokens N]\n"
               "                     [--delay-ms MS] [--fail-status CODE] [--hang] [--deep-error DEPTH]\n"
               "                     [--truncate-after N] [--keepalive-only]\n",
               problem.c_str());
  std::exit(2);
}

Config parse_args(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--port-file") {
      config.port_file = value();
    } else if (arg == "--log") {
      config.log_path = value();
    } else if (arg == "--events") {
      config.events_path = value();
    } else if (arg == "--tokens") {
      size_t n = 0;
      if (!parse_number(value(), n)) usage("--tokens expects a non-negative integer");
      config.tokens = n;
    } else if (arg == "--delay-ms") {
      if (!parse_number(value(), config.delay_ms) || config.delay_ms < 0)
        usage("--delay-ms expects a non-negative integer");
    } else if (arg == "--fail-status") {
      if (!parse_number(value(), config.fail_status) || config.fail_status < 200 || config.fail_status > 599)
        usage("--fail-status expects an HTTP status from 200 to 599");
    } else if (arg == "--hang") {
      config.hang = true;
    } else if (arg == "--deep-error") {
      size_t n = 0;
      if (!parse_number(value(), n) || n == 0) usage("--deep-error expects a positive integer");
      config.deep_error = n;
    } else if (arg == "--truncate-after") {
      size_t n = 0;
      if (!parse_number(value(), n)) usage("--truncate-after expects a non-negative integer");
      config.truncate_after = n;
    } else if (arg == "--keepalive-only") {
      config.keepalive_only = true;
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (config.port_file.empty()) usage("--port-file is required");
  if (config.log_path.empty()) usage("--log is required");
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  g_config = parse_args(argc, argv);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  g_log = std::fopen(g_config.log_path.c_str(), "a");
  if (g_log == nullptr) {
    std::fprintf(stderr, "fake_upstream: %s: %s\n", g_config.log_path.c_str(), std::strerror(errno));
    return 1;
  }
  if (!g_config.events_path.empty()) {
    g_events = std::fopen(g_config.events_path.c_str(), "a");
    if (g_events == nullptr) {
      std::fprintf(stderr, "fake_upstream: %s: %s\n", g_config.events_path.c_str(), std::strerror(errno));
      return 1;
    }
  }

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) {
    std::perror("fake_upstream: socket");
    return 1;
  }
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, SOMAXCONN) != 0) {
    std::perror("fake_upstream: bind/listen on 127.0.0.1");
    return 1;
  }
  socklen_t len = sizeof addr;
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("fake_upstream: getsockname");
    return 1;
  }
  int port = ntohs(addr.sin_port);
  if (!write_port_file(g_config.port_file, port)) {
    std::fprintf(stderr, "fake_upstream: cannot write %s: %s\n", g_config.port_file.c_str(), std::strerror(errno));
    return 1;
  }

  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      std::perror("fake_upstream: accept");
      return 1;
    }
    std::thread(serve_connection, fd).detach();
  }
}
