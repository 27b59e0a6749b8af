// confer chat: prompts through the attested channel; one-shot for scripts, a REPL for people.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/protocol.hpp"
#include "client/session.hpp"
#include "core/json.hpp"
#include "crypto/ossl.hpp"
#include "commands/chat.hpp"
#include "commands/chat_history.hpp"
#include "commands/common.hpp"
#include "commands/markdown.hpp"
#include "commands/trust_flags.hpp"
#include "commands/user_config.hpp"

namespace confer::cli {

namespace {

using nlohmann::json;

void on_sigint(int) { g_chat_interrupted = true; }

using Options = ChatOptions;

// A spinner on stderr while the first token is awaited, only on a terminal.
class Spinner {
 public:
  explicit Spinner(bool on) {
    if (on) thread_ = std::thread([this] { spin(); });
  }
  ~Spinner() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    done_ = true;
    thread_.join();
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
  }

 private:
  void spin() {
    static const char* const kFrames[] = {"|", "/", "-", "\\"};
    for (int i = 0; !done_; ++i) {
      std::fprintf(stderr, "\r%s waiting for the model", kFrames[i % 4]);
      std::fflush(stderr);
      for (int t = 0; t < 10 && !done_; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Where the answer's text goes: stdout as sent, or as Markdown rendered for a terminal.
class AnswerPrinter {
 public:
  explicit AnswerPrinter(const ChatOptions& o) : json_(o.json) {
    if (renders_markdown(o)) markdown_.emplace(color_stdout());
  }
  void piece(const std::string& text) {
    if (!json_) write(markdown_ ? markdown_->feed(text) : text);
  }
  void done() {
    if (markdown_) write(markdown_->finish());
  }

 private:
  static void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
  bool json_;
  std::optional<MarkdownStream> markdown_;
};

}  // namespace

std::atomic<bool> g_chat_interrupted{false};

bool renders_markdown(const ChatOptions& o) { return !o.json && !o.raw && isatty(STDOUT_FILENO) == 1; }

void end_line(const std::string& reply, const ChatOptions& o);

// Tokens came, then an error or a lost connection: what was shown is a cut answer,
// never a whole one. Said plainly, and as {"type":"incomplete"} under --json. `status`
// is the server's (0: the connection ended).
Error cut_off(const std::string& reply, const ChatOptions& o, int32_t status, const std::string& why) {
  end_line(reply, o);
  if (o.json) {
    std::printf("%s\n", dump_json(json{{"type", "incomplete"}, {"status", status}, {"message", why},
                                       {"content", reply}})
                            .c_str());
    std::fflush(stdout);
  }
  std::string cause = status != 0 ? fmt::format("the server reported {} {}", status, why) : "the connection ended: " + why;
  return Error{Errc::protocol, fmt::format("the answer was cut off after {} bytes ({}); it was not saved to the "
                                           "history", reply.size(), cause)};
}

// Sends the conversation and renders the answer as it streams. Returns the reply text.
Result<Answer> ask(transport::ClientChannel& channel, const ChatOptions& o, const Settings& s,
                   const std::vector<Message>& history, bool* started) {
  chat::ChatRequest request;
  if (!s.system.empty()) request.messages.push_back({"system", s.system});
  for (const auto& m : history) request.messages.push_back({m.role, m.content});
  request.stream = !o.no_stream;
  request.model = s.model;
  request.temperature = o.temperature;
  request.max_tokens = o.max_tokens;
  std::string text = chat::serialize_chat_request(request);
  if (text.size() > chat::kMaxRequestBytes)
    return make_error(Errc::usage, fmt::format("the message and the conversation before it come to {} bytes as a "
                                               "request; confer-server takes at most {} bytes (1 MiB); nothing was sent",
                                               text.size(), chat::kMaxRequestBytes));

  transport::Request req;
  req.id = transport::random_id();
  req.verb = "POST";
  req.path = std::string(chat::kChatPath);
  req.body.assign(text.begin(), text.end());
  channel.send(req);

  Answer answer;
  std::string& reply = answer.text;
  AnswerPrinter printer(o);
  Spinner spinner(!o.json && isatty(STDERR_FILENO) == 1 && isatty(STDOUT_FILENO) == 1);
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    if (g_chat_interrupted.exchange(false)) {
      printer.done();
      answer.outcome = Outcome::interrupted;
      return answer;
    }
    auto polled = channel.next(std::chrono::milliseconds(50));
    if (!polled && !reply.empty()) {
      printer.done();
      return cut_off(reply, o, 0, polled.error().message);
    }
    CONFER_TRY(auto next, std::move(polled));
    if (!next) {
      if (std::chrono::steady_clock::now() - last > std::chrono::seconds(o.timeout))
        return make_error(Errc::protocol, fmt::format("the server sent nothing for {} s", o.timeout));
      continue;
    }
    last = std::chrono::steady_clock::now();
    if (next->id != req.id) continue;  // a stopped answer's leftovers
    spinner.stop();
    if (started) *started = true;
    std::string payload(next->body.begin(), next->body.end());
    if (next->status != 200 && !reply.empty()) {
      printer.done();
      return cut_off(reply, o, next->status, payload);
    }
    if (next->status != 200)
      return make_error(Errc::protocol, fmt::format("server refused the request: {} {}", next->status, payload));
    if (o.no_stream) {
      if (o.json) std::printf("%s\n", dump_json(json{{"type", "message"}, {"content", payload}}).c_str());
      printer.piece(payload);
      printer.done();
      reply = payload;
      return answer;
    }
    CONFER_TRY(chat::ChatEvent event, chat::parse_chat_event(payload));
    if (o.json) {
      std::printf("%s\n", dump_json(event.json).c_str());
      std::fflush(stdout);
    }
    if (event.is_token()) {
      reply += event.content;
      printer.piece(event.content);
    } else if (event.is_completion()) {
      printer.done();
      return answer;
    }
    // Unknown event types are ignored (CONFER-PROTOCOL §17).
  }
}

void end_line(const std::string& reply, const ChatOptions& o) {
  // (Rendered Markdown ends its own lines.)
  if (!o.json && !renders_markdown(o) && (reply.empty() || reply.back() != '\n')) std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Saves a completed turn; reports it as a JSON event (scripts count on it) or, when the
// save fails, says that the answer shown was not kept.
Result<void> keep_turn(ChatHistory& history, const ChatOptions& o, const Settings& s, const std::string& prompt,
                       const std::string& reply, client::AttestedSession& session) {
  if (!history.enabled()) return {};
  auto index = history.save(prompt, reply, s.model, session);
  if (!index)
    return make_error(index.error().code, "the answer above was NOT saved to the history: " + index.error().message);
  if (o.json) {
    std::printf("%s\n", dump_json(json{{"type", "saved"}, {"conversation", history.conversation_id()},
                                       {"turn", *index}})
                            .c_str());
    std::fflush(stdout);
  }
  if (o.no_sync) return {};
  // The account syncs with this server: the turn goes there now, over the channel it came by.
  auto synced = history.sync(session);
  if (!synced) {
    if (synced.error().code == Errc::protocol) return make_error(Errc::protocol, "the turn is saved here, but " + synced.error().message);
    print_warning("the turn is saved here but not synced (" + synced.error().message + "); confer sync sends it later");
    return {};
  }
  if (*synced && o.json)
    std::printf("%s\n", dump_json(json{{"type", "synced"}, {"pushed", (*synced)->pushed}, {"pulled", (*synced)->pulled},
                                       {"cursor", (*synced)->cursor}})
                            .c_str());
  return {};
}

void announce_conversation(const ChatHistory& history, const ChatOptions& o) {
  if (!history.enabled()) return;
  print_note("conversation " + history.conversation_id());
  if (o.json) {
    std::printf("%s\n", dump_json(json{{"type", "conversation"}, {"id", history.conversation_id()}}).c_str());
    std::fflush(stdout);
  }
}

// $EDITOR on a 0600 file in a private directory, removed afterwards.
Result<std::string> edit_in_editor() {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "confer-edit-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return make_error(Errc::io, "creating a private directory for /edit failed");
  std::string file = tmpl + "/prompt.md";
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove_all(tmpl, ec);
  };
  if (auto w = write_file_atomic(file, {}, 0600); !w) {
    cleanup();
    return std::move(w).error();
  }
  const char* editor = std::getenv("VISUAL");
  if (editor == nullptr || *editor == '\0') editor = std::getenv("EDITOR");
  if (editor == nullptr || *editor == '\0') editor = "vi";
  std::string command = std::string(editor) + " '" + file + "'";
  int rc = std::system(command.c_str());
  auto text = read_file(file);
  cleanup();
  if (rc != 0) return make_error(Errc::io, fmt::format("{} exited with status {}", editor, rc));
  if (!text) return std::move(text).error();
  return std::string(text->begin(), text->end());
}

namespace {

std::string read_all_stdin() {
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) s.append(buf, n);
  return s;
}

Result<client::TrustConfig> chat_trust(const Options& o) {
  CONFER_TRY(client::TrustConfig trust, build_trust(o.trust));
  trust.offline = o.offline;
  trust.require_fresh = o.require_fresh;
  trust.connect_timeout = std::chrono::seconds(o.connect_timeout);
  return trust;
}

int run(const Options& flags) {
  if (flags.json) set_json_errors(true);
  crypto::keep_openssl_detail(flags.verbose);
  if (flags.no_stdin && flags.prompt.empty())
    return fail(make_error(Errc::usage, "--no-stdin without a PROMPT argument leaves nothing to send"),
                {"confer chat --no-stdin \"your question\", or leave --no-stdin out for the REPL"});
  auto cfg = load_user_config();
  if (!cfg) return fail(cfg.error());
  Options o = flags;
  if (o.server.empty()) o.server = cfg->server;
  if (o.model.empty()) o.model = cfg->model;
  apply_config_defaults(o.trust, *cfg);
  auto url = configured_server(o.server);
  if (!url) return o.server.empty() ? fail(url.error(), {kNoServerHint}) : fail(url.error());
  auto trust = chat_trust(o);
  if (!trust) return fail(trust.error());

  bool stdin_tty = isatty(STDIN_FILENO) == 1;
  bool one_shot = !o.prompt.empty() || (!stdin_tty && !o.no_stdin);
  std::string prompt;
  if (!stdin_tty && !o.no_stdin) prompt = read_all_stdin();
  if (!o.prompt.empty()) prompt += (prompt.empty() || prompt.back() == '\n' ? "" : "\n") + o.prompt;
  if (one_shot && prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    return fail(make_error(Errc::usage, "empty prompt: expected a PROMPT argument or text on standard input"));

  // Before anything is sent: a locked key stops here, never after the answer.
  auto saved = ChatHistory::prepare(o.history);
  if (!saved) {
    if (saved.error().code == Errc::key)
      return fail(saved.error(), {"unlock it for scripts: confer login --remember 15m",
                                  "or keep nothing from this chat: confer chat --incognito"});
    return fail(saved.error());
  }
  saved->set_server(url->text());

  attest::Verification refused;
  auto session = client::open_attested_session(*url, *trust, &refused);
  if (!session) return fail_session(session.error(), refused, *url, o.require_fresh);
  note_collateral(session->vcek);
  if (session->verification.development_root())
    print_warning(std::string("the server's evidence chains to a development root, NOT to ") +
                  (session->verification.tdx ? "Intel" : "AMD"));
  if (!o.quiet) print_note(client::session_summary(*session));

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a read at the prompt returns on Ctrl-C
  sigaction(SIGINT, &sa, nullptr);

  Settings settings{o.model, o.system};
  announce_conversation(*saved, o);
  if (!one_shot) {
    Reconnect reconnect = [url = *url, trust = *trust] { return client::open_attested_session(url, trust); };
    return repl(std::move(*session), o, settings, *saved, std::move(reconnect));
  }
  std::vector<Message> messages;
  for (const auto& [role, content] : saved->earlier()) messages.push_back({role, content});
  messages.push_back({"user", prompt});
  auto answer = ask(*session->channel, o, settings, messages);
  if (!answer) return fail(answer.error());
  end_line(answer->text, o);
  if (auto kept = keep_turn(*saved, o, settings, prompt, answer->text, *session); !kept) return fail(kept.error());
  if (answer->outcome == Outcome::interrupted) {
    print_note("stopped");
    return 130;
  }
  return kExitOk;
}

}  // namespace

Handler setup_chat(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("prompt", o->prompt, "The prompt (stdin text, when piped, comes first)");
  app.add_option("--server", o->server, "ws://, wss://, http:// or https:// URL of confer-server (default: config)");
  app.add_option("-m,--model", o->model, "Model name");
  app.add_option("-s,--system", o->system, "System prompt");
  app.add_option("--temperature", o->temperature, "Sampling temperature")->check(CLI::Range(0.0, 2.0));
  app.add_option("--max-tokens", o->max_tokens, "Most tokens to generate")->check(CLI::PositiveNumber);
  declare_trust_flags(app, o->trust);
  app.add_flag("--json", o->json, "One JSON event per line on stdout");
  app.add_flag("--no-stream", o->no_stream, "Print the answer once, at the end");
  app.add_flag("--verbose", o->verbose, "After each failure in words, OpenSSL's own text");
  app.add_flag("--raw", o->raw, "Print the answer as sent, without rendering Markdown (as when not on a terminal)");
  app.add_flag("-q,--quiet", o->quiet, "No verification summary on stderr");
  app.add_flag("--no-stdin", o->no_stdin, "Never read standard input");
  app.add_flag("--offline", o->offline, "Never fetch collateral (AMD's VCEK, Intel's TDX collateral): it must come with the evidence or the cache");
  app.add_flag("--require-fresh", o->require_fresh, "Refuse servers that do not offer fresh attestation");
  app.add_option("--timeout", o->timeout, "Seconds to wait for the server before giving up")->check(CLI::Range(1, 3600));
  app.add_option("--connect-timeout", o->connect_timeout, "Seconds the server gets to accept and to complete its part of the handshake")
      ->check(CLI::Range(1, 600));
  auto* cont = app.add_flag("-c,--continue", o->history.continue_last, "Continue the last conversation");
  auto* named = app.add_option("--conversation", o->history.conversation,
                               "Continue (or start) the conversation with this id");
  app.add_flag("--incognito", o->history.incognito, "Save nothing from this chat")->excludes(cont)->excludes(named);
  app.add_flag("--no-sync", o->no_sync, "Keep the saved turn on this machine until the next confer sync");
  cont->excludes(named);
  declare_key_flags(app, o->history.key, false);
  return [o] { return run(*o); };
}

}  // namespace confer::cli
