#include "commands/chat_history.hpp"
#include "commands/sync.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "release/manifest.hpp"
#include "commands/common.hpp"
#include "core/time.hpp"

namespace confer::cli {

namespace {

Result<std::string> fresh_id() {
  Bytes raw(8);
  CONFER_TRY_VOID(crypto::fill_random(raw.data(), raw.size()));
  return to_hex(raw);
}

}  // namespace

store::Receipt receipt_for(const client::AttestedSession& s) {
  const auto& v = s.verification;
  store::Receipt r;
  r.platform = v.platform_label();
  r.measurement = v.measurement();
  const Check* rel = v.checks().find(release::kCheckReleaseManifest);
  r.release = rel != nullptr && rel->ok() ? "signed manifest: " + rel->seen : "pinned measurement";
  r.server_key = s.channel ? to_hex(s.channel->server_static()) : "";
  r.verified = v.at() != 0 ? v.at() : now_utc();
  return r;
}

Result<ChatHistory> ChatHistory::prepare(const ChatHistoryOptions& o) {
  ChatHistory h;
  bool wants_existing = o.continue_last || !o.conversation.empty();
  if (o.incognito) return h;
  if (!o.conversation.empty() && !store::valid_conversation_id(o.conversation))  // before any unlocking
    return make_error(Errc::usage, fmt::format("--conversation: expected 1-64 of A-Z a-z 0-9 . _ -, saw '{}'",
                                               o.conversation));
  CONFER_TRY(auto store, open_history(false));
  std::optional<store::Account> account;
  if (store) {
    CONFER_TRY(account, store->account());
  }
  if (!account) {
    if (wants_existing)
      return make_error(Errc::usage, "there is no history to continue (confer login --register turns it on)");
    if (isatty(STDERR_FILENO) == 1)
      print_note("history is off: confer login --register keeps your chats, encrypted with your security key");
    return h;
  }
  CONFER_TRY(store::Unlocked keys, unlock_for_use(*store, o.key, true));
  h.store_ = std::move(store);
  if (o.continue_last) {
    CONFER_TRY(auto last, h.store_->last_conversation_id());
    if (last) h.id_ = *last;
  } else if (!o.conversation.empty()) {
    h.id_ = o.conversation;
  }
  if (!h.id_.empty()) {
    CONFER_TRY(auto found, h.store_->find(keys, h.id_));
    h.exists_ = found.has_value();
  }
  if (h.exists_) {
    CONFER_TRY(std::vector<store::Turn> turns, h.store_->turns(keys, h.id_));
    for (const auto& t : turns) {
      h.earlier_.emplace_back("user", t.prompt);
      h.earlier_.emplace_back("assistant", t.reply);
    }
  }
  if (h.id_.empty()) {
    CONFER_TRY(h.id_, fresh_id());
  }
  h.keys_ = std::move(keys);
  return h;
}

Result<int64_t> ChatHistory::save(const std::string& prompt, const std::string& reply, const std::string& model,
                                  const client::AttestedSession& session) {
  if (!keys_) return make_error(Errc::internal, "history: not enabled");
  if (!exists_) {
    CONFER_TRY_VOID(store_->create_conversation(*keys_, id_));
    exists_ = true;
  }
  store::Turn t;
  t.prompt = prompt;
  t.reply = reply;
  t.model = model;
  t.receipt = receipt_for(session);
  // The evidence behind the receipt, kept once per session, so the turn can be re-checked
  // offline later (confer verify-attestation --receipt).
  if (!session.evidence_json.empty()) {
    bool same = session.evidence_json == evidence_for_ && t.receipt.verified == evidence_at_;
    if (!same) {
      CONFER_TRY(std::string doc, client::saved_evidence(session, server_, t.receipt.verified));
      CONFER_TRY(evidence_digest_, store_->put_evidence(*keys_, doc));
      evidence_for_ = session.evidence_json;
      evidence_at_ = t.receipt.verified;
    }
    t.receipt.evidence = evidence_digest_;
  }
  return store_->append_turn(*keys_, id_, std::move(t));
}

Result<void> ChatHistory::start_new() {
  CONFER_TRY(id_, fresh_id());
  exists_ = false;
  earlier_.clear();
  return {};
}

Result<std::vector<store::Conversation>> ChatHistory::conversations() {
  if (!keys_) return std::vector<store::Conversation>{};
  return store_->list(*keys_);  // most recently updated first
}

Result<std::vector<std::string>> ChatHistory::recent_prompts(size_t max_conversations) {
  std::vector<std::string> prompts;
  if (!keys_) return prompts;
  CONFER_TRY(std::vector<store::Conversation> all, store_->list(*keys_));
  if (all.size() > max_conversations) all.resize(max_conversations);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    CONFER_TRY(std::vector<store::Turn> turns, store_->turns(*keys_, it->id));
    for (auto& t : turns) prompts.push_back(std::move(t.prompt));
  }
  return prompts;
}

Result<std::optional<sync::Report>> ChatHistory::sync(client::AttestedSession& session) {
  if (!keys_ || !store_) return std::optional<sync::Report>();
  CONFER_TRY(auto settings, store_->sync_settings());
  if (!settings || settings->server != server_) return std::optional<sync::Report>();
  CONFER_TRY(sync::Report r, sync_over(*store_, *keys_, session, false));
  return std::optional<sync::Report>(r);
}

}  // namespace confer::cli
