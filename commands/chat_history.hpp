// What confer chat keeps: each completed turn saved, encrypted, as it completes, with the
// verification that served it; decided before anything is sent, so a locked key stops
// the chat instead of saving nothing or saving plaintext.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/session.hpp"
#include "commands/account.hpp"
#include "sync/engine.hpp"

namespace confer::cli {

struct ChatHistoryOptions {
  KeyFlags key;
  bool continue_last = false;     // -c
  std::string conversation;       // --conversation ID
  bool incognito = false;
};

class ChatHistory {
 public:
  // Off (and says how to turn it on, on a terminal) without an account; Errc::key when
  // the account's key is locked and cannot be opened here.
  static Result<ChatHistory> prepare(const ChatHistoryOptions& options);
  bool enabled() const { return keys_.has_value(); }
  const std::string& conversation_id() const { return id_; }
  // The continued conversation's turns as (role, content) messages.
  const std::vector<std::pair<std::string, std::string>>& earlier() const { return earlier_; }
  // Saves one turn (creating the conversation with its first); returns its index.
  Result<int64_t> save(const std::string& prompt, const std::string& reply, const std::string& model,
                       const client::AttestedSession& session);
  // When the account syncs with the server `session` is connected to: signs in with the
  // auth key and syncs (nullopt: it syncs elsewhere, or not at all).
  Result<std::optional<sync::Report>> sync(client::AttestedSession& session);
  void set_server(std::string url) { server_ = std::move(url); }
  // /new in the REPL: later turns go to a fresh conversation.
  Result<void> start_new();
  // The saved conversations, most recently updated first (/history).
  Result<std::vector<store::Conversation>> conversations();
  // The prompts of the `max` most recent conversations, oldest first: the REPL's line
  // history, read from the encrypted store instead of a plaintext file.
  Result<std::vector<std::string>> recent_prompts(size_t max_conversations);

 private:
  std::optional<store::HistoryStore> store_;
  std::optional<store::Unlocked> keys_;
  std::string id_;
  bool exists_ = false;
  std::vector<std::pair<std::string, std::string>> earlier_;
  std::string server_;  // the chat's server URL, as ServerUrl::text()
  // The session whose evidence was saved last (message 2's payload, verification time)
  // and its digest: saved once, named by every turn of that session.
  std::string evidence_for_, evidence_digest_;
  int64_t evidence_at_ = 0;
};

store::Receipt receipt_for(const client::AttestedSession& session);

}  // namespace confer::cli
