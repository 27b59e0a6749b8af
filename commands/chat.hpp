// confer chat's parts shared by the one-shot path (chat.cpp) and the REPL (repl.cpp).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/session.hpp"
#include "commands/chat_history.hpp"
#include "commands/trust_flags.hpp"

namespace confer::cli {

// Set by SIGINT (Ctrl-C): stops an answer, or gives a fresh prompt.
extern std::atomic<bool> g_chat_interrupted;

struct ChatOptions {
  std::string prompt;
  std::string server;
  std::string model;
  std::string system;
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
  TrustFlags trust;
  bool json = false;
  bool no_stream = false;
  bool raw = false;  // no Markdown rendering even on a terminal
  bool verbose = false;  // OpenSSL's own text after each failure
  bool quiet = false;
  bool no_stdin = false;
  bool offline = false;
  bool require_fresh = false;
  bool no_sync = false;  // do not sync the saved turn with the account's server
  int timeout = 120;
  int connect_timeout = 15;
  ChatHistoryOptions history;
};

struct Message {
  std::string role;
  std::string content;
};

struct Settings {
  std::string model;
  std::string system;
};

enum class Outcome { done, interrupted };
struct Answer {
  Outcome outcome = Outcome::done;
  std::string text;
};

// Sends the conversation and renders the answer as it streams.
// `started` (when given) says whether any of it arrived, also when it then failed: a
// failure before that can be retried on a new connection.
Result<Answer> ask(transport::ClientChannel& channel, const ChatOptions& o, const Settings& s,
                   const std::vector<Message>& messages, bool* started = nullptr);
// Answers are rendered as Markdown: on a terminal, without --raw or --json.
bool renders_markdown(const ChatOptions& o);
// The newline after an answer that did not end with one.
void end_line(const std::string& reply, const ChatOptions& o);
// Saves a completed turn, and reports it as a JSON event under --json.
Result<void> keep_turn(ChatHistory& history, const ChatOptions& o, const Settings& s, const std::string& prompt,
                       const std::string& reply, client::AttestedSession& session);
void announce_conversation(const ChatHistory& history, const ChatOptions& o);
// $EDITOR on a private 0600 file, removed afterwards.
Result<std::string> edit_in_editor();

// GET /v1/models over an attested channel (commands/models.cpp).
Result<std::vector<std::string>> server_models(transport::ClientChannel& channel, int timeout_s);

// Opens and verifies a new session to the same server under the same trust (after the
// server closed the connection).
using Reconnect = std::function<Result<client::AttestedSession>()>;
int repl(client::AttestedSession session, const ChatOptions& o, Settings s, ChatHistory& saved, Reconnect reconnect);

}  // namespace confer::cli
