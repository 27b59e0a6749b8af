// confer-server under load: N concurrent `confer chat`-equivalent sessions against a
// streaming fake upstream with latency, for each N given (default 50, 200, 1,000).
// Usage: confer_bench_load CONFER_SERVER_BIN FAKE_UPSTREAM_BIN [sizes] [tokens] [delay-ms]
//   sizes: comma-separated session counts (default 50,200,1000); tokens per answer
//   (default 50), delay-ms between them at the upstream (default 20).
//
// Each session does what `confer chat PROMPT` does, all N released together by a latch:
// client::open_attested_session (connect, message 2's evidence verified against the
// development root with the server binary's measurement pinned, Noise XX, the fresh
// attestation round), one streamed chat request, events until the completion.
//
// The direct baseline: the same N concurrent streamed calls straight to the fake
// upstream through server::call_upstream (what confer-server itself calls), all run
// before confer-server starts. Both paths open one upstream connection per answer.
//
// One markdown row per size:
//   handshakes/s  sessions opened / (release -> the last open_attested_session returning)
//   tokens/s      tokens received / (first request sent -> last token received); the
//                 upstream paces them, so at most N * 1000 / delay-ms.
//   TTFT          request sent -> first token event, through the server.
//   gap           t[i] - t[i-1] between one answer's token events: the upstream's pacing
//                 plus jitter, through the server and direct.
//   added         for token i of a session: (t[i] - sent) through the server minus D[i],
//                 D[i] the median over the direct calls of the same size of (t[i] - sent).
//                 How much later a token reaches the client than when calling the upstream
//                 directly under the same concurrency: the request's trip through the
//                 channel, the server's queueing and each token's relay. (A difference
//                 of gaps would miss a constant delay.) p50/p99 over every token.
//   peak RSS      the largest of confer-server's VmRSS, sampled every 100 ms during the run.
// Clients, server and upstream share the machine's cores: these are figures for one box.
//
// Nothing lost: every session must complete with exactly `tokens` token events spelling
// what the fake upstream sends ("echo:", then " " + the prompt's words in turn;
// tests/fake_upstream.cpp). Exit status 1 when any call failed, direct or through the
// server, or confer-server died or did not exit 0 on SIGTERM; 2 for usage.
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "chat/protocol.hpp"
#include "client/session.hpp"
#include "core/exception.hpp"
#include "crypto/hash.hpp"
#include "crypto/x509.hpp"
#include "server/upstream.hpp"
#include "transport/client.hpp"
#include "bench_support.hpp"

using namespace confer;
using namespace confer::bench;

namespace {

constexpr std::string_view kPrompt = "tell me about the sea";
constexpr auto kSilence = std::chrono::seconds(60);  // the longest wait for one event

// One answer, direct or through the server.
struct Stream {
  Clock::time_point connected{};  // open_attested_session returned (direct: unused)
  Clock::time_point sent{};
  std::vector<Clock::time_point> tokens;  // when each token event arrived
  std::string text;
  std::string error;
  bool completed = false;
};

struct Load {
  int tokens = 50;
  chat::ChatRequest request;
  std::string expected;  // the fake upstream's TEXT for kPrompt and `tokens`
  bool intact(const Stream& s) const {
    return s.completed && s.error.empty() && s.tokens.size() == size_t(tokens) && s.text == expected;
  }
};

std::string expected_text(std::string_view prompt, int tokens) {
  std::vector<std::string> words;
  for (size_t i = 0; i < prompt.size();) {
    size_t end = std::min(prompt.find(' ', i), prompt.size());
    if (end > i) words.emplace_back(prompt.substr(i, end - i));
    i = end + 1;
  }
  std::string text = tokens > 0 ? "echo:" : "";
  for (int i = 1; i < tokens; ++i) text += " " + words[size_t(i - 1) % words.size()];
  return text;
}

// Runs `body` once per stream, each on its own thread, all released together; returns
// the release time. Nothing escapes a thread: an exception is that stream's error.
Clock::time_point run_together(std::vector<Stream>& streams, const std::function<void(Stream&)>& body) {
  std::latch start(1);
  std::vector<std::thread> threads;
  threads.reserve(streams.size());
  try {
    for (auto& s : streams)
      threads.emplace_back([&start, &body, &s] {
        start.wait();
        try {
          body(s);
        } catch (...) {
          s.error = "exception: " + current_exception_text();
        }
      });
  } catch (...) {  // out of threads: the rest are failures, those started still run
    for (size_t i = threads.size(); i < streams.size(); ++i) streams[i].error = "no thread: " + current_exception_text();
  }
  auto released = Clock::now();
  start.count_down();
  for (auto& t : threads) t.join();
  return released;
}

void direct_call(Stream& s, const server::UpstreamOptions& upstream, const chat::ChatRequest& request) {
  s.sent = Clock::now();
  auto r = server::call_upstream(upstream, request, [&](std::string_view piece) {
    s.tokens.push_back(Clock::now());
    s.text += piece;
    return true;
  });
  if (!r) s.error = r.error().message;
  s.completed = r.ok();
}

Result<void> chat_session(Stream& s, const transport::ServerUrl& url, const client::TrustConfig& trust,
                          const std::string& body) {
  CONFER_TRY(client::AttestedSession session, client::open_attested_session(url, trust));
  s.connected = Clock::now();
  transport::Request req{transport::random_id(), "POST", std::string(chat::kChatPath), Bytes(body.begin(), body.end())};
  s.sent = Clock::now();
  session.channel->send(req);
  for (;;) {
    CONFER_TRY(auto next, session.channel->next(kSilence));
    auto at = Clock::now();
    if (!next) return make_error(Errc::protocol, fmt::format("no event for {} s", kSilence.count()));
    if (next->id != req.id) continue;
    if (next->status != 200)
      return make_error(Errc::protocol, fmt::format("status {}: {}", next->status, client::answer_text(*next)));
    CONFER_TRY(chat::ChatEvent event,
               chat::parse_chat_event({reinterpret_cast<const char*>(next->body.data()), next->body.size()}));
    if (event.is_token()) {
      s.tokens.push_back(at);
      s.text += event.content;
    } else if (event.is_completion()) {
      s.completed = true;
      return {};
    }
  }
}

// What `confer chat --trust-root ROOT --expect-measurement M` trusts, M the SHA-384 of
// the server binary (as tests/support/e2e.cpp pins it). Offline: the development
// evidence carries its VCEK, so nothing would be fetched anyway.
Result<client::TrustConfig> dev_trust(const std::string& root_pem, const std::string& server_bin) {
  client::TrustConfig trust;
  CONFER_TRY(Bytes pem, read_file(root_pem));
  CONFER_TRY(trust.extra_roots, crypto::Cert::all_from_pem(pem));
  CONFER_TRY(Bytes binary, read_file(server_bin));
  Bytes digest = crypto::sha384(binary);
  std::array<uint8_t, 48> measurement{};
  std::copy_n(digest.begin(), measurement.size(), measurement.begin());
  trust.policy.measurements = {measurement};
  trust.offline = true;
  return trust;
}

// The process's VmRSS or VmHWM ("VmRSS:") in MB, from /proc/PID/status; 0 when unreadable.
double proc_mb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::strtod(line.c_str() + field.size(), nullptr) / 1024.0;
  return 0;
}

std::vector<double> ms_after_sent(const Stream& s) {
  std::vector<double> out;
  for (auto t : s.tokens) out.push_back(seconds_between(s.sent, t) * 1e3);
  return out;
}

std::vector<double> gaps_ms(const std::vector<Stream>& streams) {
  std::vector<double> out;
  for (const auto& s : streams)
    for (size_t i = 1; i < s.tokens.size(); ++i) out.push_back(seconds_between(s.tokens[i - 1], s.tokens[i]) * 1e3);
  return out;
}

std::vector<double> ttft_ms(const std::vector<Stream>& streams) {
  std::vector<double> out;
  for (const auto& s : streams)
    if (!s.tokens.empty()) out.push_back(seconds_between(s.sent, s.tokens.front()) * 1e3);
  return out;
}

// Token i's (t[i] - sent) through the server minus the direct median of the same.
std::vector<double> added_ms(const std::vector<Stream>& proxied, const std::vector<Stream>& direct, int tokens) {
  std::vector<double> baseline;
  for (size_t i = 0; i < size_t(tokens); ++i) {
    std::vector<double> at_i;
    for (const auto& s : direct)
      if (i < s.tokens.size()) at_i.push_back(seconds_between(s.sent, s.tokens[i]) * 1e3);
    if (at_i.empty()) break;
    baseline.push_back(percentile(at_i, 0.5));
  }
  std::vector<double> out;
  for (const auto& s : proxied) {
    auto after = ms_after_sent(s);
    for (size_t i = 0; i < after.size() && i < baseline.size(); ++i) out.push_back(after[i] - baseline[i]);
  }
  return out;
}

std::string p50_p99(const std::vector<double>& v) {
  return fmt::format("{:.1f} / {:.1f}", percentile(v, 0.5), percentile(v, 0.99));
}

int count_failed(const std::vector<Stream>& streams, const Load& load, const char* what) {
  int failed = 0;
  for (const auto& s : streams) {
    if (load.intact(s)) continue;
    if (failed++ < 3)  // a few reasons, not a thousand
      std::fprintf(stderr, "bench: %s failed: %s\n", what,
                   !s.error.empty() ? s.error.c_str()
                                    : fmt::format("{} of {} tokens, text {}", s.tokens.size(), load.tokens,
                                                  s.text == load.expected ? "as sent" : "garbled").c_str());
  }
  return failed;
}

// The row for one size, from the proxied sessions, the direct calls and the release time.
std::string table_row(const std::vector<Stream>& proxied, const std::vector<Stream>& direct, Clock::time_point released,
                      const Load& load, double peak_mb, int failed) {
  size_t opened = 0, received = 0;
  Clock::time_point last_open = released, first_sent = Clock::time_point::max(), last_token = released;
  for (const auto& s : proxied) {
    if (s.connected == Clock::time_point{}) continue;
    ++opened;
    last_open = std::max(last_open, s.connected);
    first_sent = std::min(first_sent, s.sent);
    received += s.tokens.size();
    if (!s.tokens.empty()) last_token = std::max(last_token, s.tokens.back());
  }
  double handshakes = double(opened) / seconds_between(released, last_open);
  double tokens = received > 0 ? double(received) / seconds_between(first_sent, last_token) : 0;
  return fmt::format("| {} | {:.0f} | {:.0f} | {} | {} | {} | {} | {:.1f} | {} |", proxied.size(), handshakes, tokens,
                     p50_p99(ttft_ms(proxied)), p50_p99(gaps_ms(proxied)), p50_p99(gaps_ms(direct)),
                     p50_p99(added_ms(proxied, direct, load.tokens)), peak_mb, failed);
}

std::optional<std::vector<int>> parse_sizes(std::string_view text) {
  std::vector<int> sizes;
  for (size_t i = 0; i <= text.size();) {
    size_t end = std::min(text.find(',', i), text.size());
    int n = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + end, n);
    if (ec != std::errc() || p != text.data() + end || n < 1) return std::nullopt;
    sizes.push_back(n);
    i = end + 1;
  }
  return sizes;
}

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) std::perror("bench: setrlimit");
}

int run(int argc, char** argv) {
  auto sizes = parse_sizes(argc > 3 ? argv[3] : "50,200,1000");
  Load load;
  load.tokens = argc > 4 ? std::atoi(argv[4]) : 50;
  int delay_ms = argc > 5 ? std::atoi(argv[5]) : 20;
  if (argc < 3 || !sizes || load.tokens < 1 || delay_ms < 0) {
    std::fprintf(stderr, "usage: confer_bench_load CONFER_SERVER_BIN FAKE_UPSTREAM_BIN [sizes, e.g. 50,200,1000] "
                         "[tokens per answer] [delay-ms per token]\n");
    return 2;
  }
  std::string server_bin = argv[1];
  load.request.messages = {{"user", std::string(kPrompt)}};
  load.request.stream = true;
  load.expected = expected_text(kPrompt, load.tokens);
  raise_fd_limit();  // before the children, which inherit it
  std::string dir = std::filesystem::temp_directory_path() / ("confer-bench-load-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  Child upstream({argv[2], "--port-file", dir + "/upstream-port", "--log", "/dev/null", "--tokens",
                  std::to_string(load.tokens), "--delay-ms", std::to_string(delay_ms)});
  auto upstream_port = upstream.wait_for_port(dir + "/upstream-port");
  if (!upstream_port) {
    std::fprintf(stderr, "bench: fake upstream: %s\n", upstream_port.error().message.c_str());
    return 1;
  }
  std::string upstream_url = "http://127.0.0.1:" + *upstream_port;
  server::UpstreamOptions direct_options;
  direct_options.url = server::chat_completions_url(upstream_url);

  // 1. The direct baseline, each size, before confer-server exists. One call first: the
  // upstream's model list is asked once per process (server::first_upstream_model),
  // here as in the server, outside the measurements.
  auto direct_call_of = [&](Stream& s) { direct_call(s, direct_options, load.request); };
  std::vector<Stream> warm(1);
  run_together(warm, direct_call_of);
  if (count_failed(warm, load, "warm-up direct call") > 0) return 1;
  int failed_total = 0;
  std::vector<std::vector<Stream>> direct;
  std::string baseline;
  for (int n : *sizes) {
    std::fprintf(stderr, "bench: %d direct calls\n", n);
    auto& streams = direct.emplace_back(size_t(n));
    run_together(streams, direct_call_of);
    int failed = count_failed(streams, load, "direct call");
    failed_total += failed;
    baseline += fmt::format("; {}: TTFT p50/p99 {} ms, {} failed", n, p50_p99(ttft_ms(streams)), failed);
  }
  std::printf("baseline (direct to the fake upstream, %d tokens %d ms apart)%s\n\n", load.tokens, delay_ms,
              baseline.c_str());
  std::printf("| sessions | handshakes/s | tokens/s | TTFT p50/p99 ms | gap p50/p99 ms (server) | gap p50/p99 ms "
              "(direct) | added p50/p99 ms | server peak RSS MB | failed |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);

  // 2. confer-server, as it is run, in front of the same upstream.
  Child server({server_bin, "--listen", "127.0.0.1:0", "--attestation", "dev", "--dev-root", dir + "/dev-root.pem",
                "--upstream", upstream_url, "--port-file", dir + "/port", "--store", "none", "--max-connections",
                "2000", "--max-connections-per-ip", "2000", "--upstream-concurrency", "1100"});
  auto port = server.wait_for_port(dir + "/port");
  auto trust = port ? dev_trust(dir + "/dev-root.pem", server_bin) : Result<client::TrustConfig>(port.error());
  if (!trust) {
    std::fprintf(stderr, "bench: confer-server: %s\n", trust.error().message.c_str());
    return 1;
  }
  auto url = *transport::parse_server_url("ws://127.0.0.1:" + *port);
  std::string body = chat::serialize_chat_request(load.request);
  auto session = [&](Stream& s) {
    if (auto r = chat_session(s, url, *trust, body); !r) s.error = r.error().message;
  };
  // One session first, as above; a setup error also shows here, once.
  warm.assign(1, Stream{});
  run_together(warm, session);
  if (count_failed(warm, load, "warm-up session") > 0) return 1;

  for (size_t k = 0; k < sizes->size() && server.running(); ++k) {
    std::fprintf(stderr, "bench: %d sessions through confer-server\n", (*sizes)[k]);
    std::vector<Stream> streams(size_t((*sizes)[k]));
    double peak_mb = 0;
    std::jthread sampler([&](std::stop_token stop) {
      try {
        while (!stop.stop_requested()) {
          peak_mb = std::max(peak_mb, proc_mb(server.pid(), "VmRSS:"));
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      } catch (...) {
        std::fprintf(stderr, "bench: RSS sampler: %s\n", current_exception_text().c_str());
      }
    });
    auto released = run_together(streams, session);
    sampler.request_stop();
    sampler.join();
    int failed = count_failed(streams, load, "session");
    failed_total += failed;
    std::printf("%s\n", table_row(streams, direct[k], released, load, peak_mb, failed).c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "bench: confer-server VmRSS %.1f MB, VmHWM %.1f MB\n", proc_mb(server.pid(), "VmRSS:"),
                 proc_mb(server.pid(), "VmHWM:"));
  }

  bool died = !server.running();
  int status = server.stop();
  if (status != 0)
    std::fprintf(stderr, "bench: confer-server %s with status %d\n", died ? "died during the run" : "exited", status);
  upstream.stop();
  std::filesystem::remove_all(dir);
  return failed_total > 0 || status != 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (...) {
    std::fprintf(stderr, "bench: error: %s\n", current_exception_text().c_str());
  }
  return 1;
}
