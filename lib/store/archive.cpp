#include "store/archive.hpp"

#include <sodium.h>

#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "store/sqlite.hpp"

namespace confer::store {

namespace {

using nlohmann::json;

constexpr char kMagic[8] = {'C', 'O', 'N', 'F', 'E', 'R', 'A', 'R'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kKdfArgon2id13 = 1;
constexpr size_t kSaltSize = crypto_pwhash_SALTBYTES;                           // 16
constexpr size_t kStreamHeader = crypto_secretstream_xchacha20poly1305_HEADERBYTES;  // 24
constexpr size_t kTag = crypto_secretstream_xchacha20poly1305_ABYTES;           // 17
constexpr size_t kMinPassphrase = 8;
static_assert(8 + 4 + 4 + 4 + kSaltSize + kStreamHeader == kArchiveHeaderSize);

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

Error broken(const std::string& why) { return make_error(Errc::parse, "the archive " + why); }

json conversation_json(const Conversation& c, const std::vector<Turn>& turns, const std::map<std::string, std::string>& evidence) {
  json list = json::array();
  for (const auto& t : turns) {
    const auto& r = t.receipt;
    list.push_back({{"index", t.index},
                    {"time", t.time},
                    {"prompt", t.prompt},
                    {"reply", t.reply},
                    {"model", t.model},
                    {"receipt",
                     {{"platform", r.platform},
                      {"measurement", r.measurement},
                      {"release", r.release},
                      {"server_key", r.server_key},
                      {"verified", r.verified},
                      {"evidence", r.evidence}}}});
  }
  json j = {{"id", c.id},          {"title", c.title},     {"title_clock", c.title_clock}, {"title_device", c.title_device},
            {"created", c.created}, {"updated", c.updated}, {"turns", std::move(list)}};
  if (!evidence.empty()) j["evidence"] = evidence;
  return j;
}

Result<ArchivedConversation> conversation_from(const json& j, size_t n) {
  std::string what = fmt::format("the archive's conversation {}", n);
  if (!j.is_object()) return broken(fmt::format("holds no conversation at message {}", n));
  ArchivedConversation out;
  auto& c = out.head;
  CONFER_TRY(c.id, json_detail::required_string(j, "id", what));
  CONFER_TRY(c.title, json_detail::required_string(j, "title", what));
  CONFER_TRY(c.title_clock, json_detail::required_int64(j, "title_clock", what));
  CONFER_TRY(c.title_device, json_detail::required_string(j, "title_device", what));
  CONFER_TRY(c.created, json_detail::required_int64(j, "created", what));
  CONFER_TRY(c.updated, json_detail::required_int64(j, "updated", what));
  const json* turns = json_detail::member(j, "turns");
  if (turns == nullptr || !turns->is_array()) return broken(fmt::format("conversation {}: expected \"turns\" as an array", c.id));
  for (const auto& t : *turns) {
    if (!t.is_object()) return broken(fmt::format("conversation {}: a turn is not an object", c.id));
    Turn turn;
    std::string where = fmt::format("the archive's conversation {}, a turn", c.id);
    CONFER_TRY(turn.index, json_detail::required_int64(t, "index", where));
    CONFER_TRY(turn.time, json_detail::required_int64(t, "time", where));
    CONFER_TRY(turn.prompt, json_detail::required_string(t, "prompt", where));
    CONFER_TRY(turn.reply, json_detail::required_string(t, "reply", where));
    CONFER_TRY(turn.model, json_detail::required_string(t, "model", where));
    const json* r = json_detail::member(t, "receipt");
    if (r == nullptr || !r->is_object()) return broken(fmt::format("conversation {}: a turn without its receipt", c.id));
    CONFER_TRY(turn.receipt.platform, json_detail::required_string(*r, "platform", where));
    CONFER_TRY(turn.receipt.measurement, json_detail::required_string(*r, "measurement", where));
    CONFER_TRY(turn.receipt.release, json_detail::required_string(*r, "release", where));
    CONFER_TRY(turn.receipt.server_key, json_detail::required_string(*r, "server_key", where));
    CONFER_TRY(turn.receipt.verified, json_detail::required_int64(*r, "verified", where));
    if (const json* e = json_detail::member(*r, "evidence"); e != nullptr) {
      if (!e->is_string()) return broken(fmt::format("conversation {}: a receipt's \"evidence\" is not a string", c.id));
      turn.receipt.evidence = e->get<std::string>();
    }
    out.turns.push_back(std::move(turn));
  }
  c.turns = int64_t(out.turns.size());
  if (const json* ev = json_detail::member(j, "evidence"); ev != nullptr) {
    if (!ev->is_object()) return broken(fmt::format("conversation {}: expected \"evidence\" as an object", c.id));
    for (const auto& [digest, doc] : ev->items()) {
      if (!doc.is_string()) return broken(fmt::format("conversation {}: evidence {} is not a string", c.id, digest));
      out.evidence.emplace(digest, doc.get<std::string>());
    }
  }
  return out;
}

Result<crypto::SecretBytes> archive_key(ByteView passphrase, ByteView salt, const keys::Argon2Params& params) {
  if (passphrase.size() < kMinPassphrase)
    return make_error(Errc::usage, fmt::format("an archive passphrase: expected at least {} bytes, saw {}", kMinPassphrase,
                                               passphrase.size()));
  return keys::argon2id_key(passphrase, salt, params);
}

// Reads exactly n bytes; false at a clean end before the first byte.
Result<bool> read_exact(const ArchiveReader& read, uint8_t* into, size_t n, const char* what) {
  size_t got = 0;
  while (got < n) {
    CONFER_TRY(size_t k, read(into + got, n - got));
    if (k == 0) {
      if (got == 0) return false;
      return broken(fmt::format("ends inside {} ({} of {} bytes)", what, got, n));
    }
    got += k;
  }
  return true;
}

}  // namespace

Result<ArchiveCounts> write_archive(HistoryStore& history, const Unlocked& keys, const ExportFilter& filter,
                                    ByteView passphrase, const keys::Argon2Params& params,
                                    const std::function<Result<void>(ByteView)>& write) {
  if (!keys::argon2_params_in_range(params) || params.memlimit % 1024 != 0 || params.opslimit > UINT32_MAX)
    return make_error(Errc::usage, "the archive's Argon2id limits are out of range");
  uint8_t header[kArchiveHeaderSize];
  std::memcpy(header, kMagic, 8);
  header[8] = kVersion;
  header[9] = kKdfArgon2id13;
  header[10] = header[11] = 0;
  put_u32(header + 12, uint32_t(params.opslimit));
  put_u32(header + 16, uint32_t(params.memlimit / 1024));
  randombytes_buf(header + 20, kSaltSize);
  CONFER_TRY(crypto::SecretBytes key, archive_key(passphrase, ByteView(header + 20, kSaltSize), params));
  crypto_secretstream_xchacha20poly1305_state state;
  crypto_secretstream_xchacha20poly1305_init_push(&state, header + 20 + kSaltSize, key.data());
  CONFER_TRY_VOID(write(ByteView(header, sizeof header)));

  ArchiveCounts counts;
  Bytes sealed;
  auto push = [&](const std::string& plain, uint8_t tag) -> Result<void> {
    if (plain.size() > kMaxArchiveMessage)
      return make_error(Errc::usage, fmt::format("a conversation of {} bytes, over the archive's {} per conversation",
                                                 plain.size(), kMaxArchiveMessage));
    sealed.resize(4 + plain.size() + kTag);
    put_u32(sealed.data(), uint32_t(plain.size() + kTag));
    crypto_secretstream_xchacha20poly1305_push(&state, sealed.data() + 4, nullptr,
                                               reinterpret_cast<const uint8_t*>(plain.data()), plain.size(), header,
                                               sizeof header, tag);
    CONFER_TRY_VOID(write(sealed));
    sodium_memzero(sealed.data(), sealed.size());
    return {};
  };
  CONFER_TRY(auto selected, selected_conversations(history, keys, filter));
  for (const auto& c : selected) {
    CONFER_TRY(auto turns, history.turns(keys, c.id));
    CONFER_TRY(auto evidence, evidence_of(history, keys, turns));
    std::string plain = dump_json(conversation_json(c, turns, evidence));
    auto pushed = push(plain, 0);
    sodium_memzero(plain.data(), plain.size());
    if (!pushed) return std::move(pushed).error();
    ++counts.conversations;
    counts.turns += turns.size();
  }
  CONFER_TRY_VOID(push(dump_json(json{{"conversations", counts.conversations}, {"turns", counts.turns}}),
                       crypto_secretstream_xchacha20poly1305_TAG_FINAL));
  sodium_memzero(&state, sizeof state);
  return counts;
}

Result<ArchivedConversation> parse_archived_conversation(std::string_view text) {
  CONFER_TRY(json j, parse_json(text, "the archive's conversation", JsonLimits{kMaxArchiveMessage, 8}, Errc::parse));
  return conversation_from(j, 1);
}

Result<ArchiveCounts> read_archive(const ArchiveReader& read, ByteView passphrase,
                                   const std::function<Result<void>(ArchivedConversation&&)>& take) {
  uint8_t header[kArchiveHeaderSize];
  CONFER_TRY(bool any, read_exact(read, header, sizeof header, "its header"));
  if (!any) return broken("is empty (expected a confer archive)");
  if (std::memcmp(header, kMagic, 8) != 0) return broken("does not start with CONFERAR: not a confer archive");
  if (header[8] != kVersion) return broken(fmt::format("is of version {}; this confer reads version {}", header[8], kVersion));
  if (header[9] != kKdfArgon2id13)
    return broken(fmt::format("names key derivation {}, expected 1 (Argon2id)", header[9]));
  if (header[10] != 0 || header[11] != 0) return broken("has its reserved header bytes set (expected zeros)");
  keys::Argon2Params params{get_u32(header + 12), size_t(get_u32(header + 16)) * 1024};
  if (!keys::argon2_params_in_range(params))
    return broken(fmt::format("asks for Argon2id with {} passes and {} KiB, outside what confer spends", params.opslimit,
                              params.memlimit / 1024));
  CONFER_TRY(crypto::SecretBytes key, archive_key(passphrase, ByteView(header + 20, kSaltSize), params));
  crypto_secretstream_xchacha20poly1305_state state;
  if (crypto_secretstream_xchacha20poly1305_init_pull(&state, header + 20 + kSaltSize, key.data()) != 0)
    return broken("has a malformed stream header");

  ArchiveCounts counts;
  Bytes sealed;
  Bytes plain;  // wiped after each message
  for (size_t n = 1;; ++n) {
    uint8_t len[4];
    CONFER_TRY(bool more, read_exact(read, len, 4, "a message's length"));
    if (!more) return broken(fmt::format("ends after {} conversation(s) without its final message: cut short", n - 1));
    uint32_t size = get_u32(len);
    if (size < kTag || size > kMaxArchiveMessage + kTag)
      return broken(fmt::format("message {} claims {} bytes (expected {}-{})", n, size, kTag, kMaxArchiveMessage + kTag));
    sealed.resize(size);
    CONFER_TRY_VOID(read_exact(read, sealed.data(), size, "a message"));
    unsigned long long plain_size = 0;
    uint8_t tag = 0;
    plain.resize(size - kTag);
    if (crypto_secretstream_xchacha20poly1305_pull(&state, plain.data(), &plain_size, &tag, sealed.data(), size, header,
                                                   sizeof header) != 0) {
      if (n == 1)
        return make_error(Errc::key, "the archive does not open: a wrong passphrase, or its start was altered");
      return broken(fmt::format("message {} does not open: altered, reordered or from another archive", n));
    }
    std::string_view text(reinterpret_cast<const char*>(plain.data()), size_t(plain_size));
    auto parsed = parse_json(text, fmt::format("the archive's message {}", n), JsonLimits{kMaxArchiveMessage, 8}, Errc::parse);
    sodium_memzero(plain.data(), plain.size());
    if (!parsed) return std::move(parsed).error();
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      const json* convs = parsed->is_object() ? json_detail::member(*parsed, "conversations") : nullptr;
      const json* turns = parsed->is_object() ? json_detail::member(*parsed, "turns") : nullptr;
      if (convs == nullptr || turns == nullptr || !convs->is_number_unsigned() || !turns->is_number_unsigned() ||
          convs->get<size_t>() != counts.conversations || turns->get<size_t>() != counts.turns)
        return broken(fmt::format("final message does not count the {} conversation(s) and {} turn(s) before it",
                                  counts.conversations, counts.turns));
      uint8_t extra = 0;
      CONFER_TRY(size_t after, read(&extra, 1));
      if (after != 0) return broken("goes on after its final message");
      break;
    }
    if (tag != 0) return broken(fmt::format("message {} carries tag {}", n, tag));
    CONFER_TRY(ArchivedConversation c, conversation_from(*parsed, n));
    ++counts.conversations;
    counts.turns += c.turns.size();
    CONFER_TRY_VOID(take(std::move(c)));
  }
  sodium_memzero(&state, sizeof state);
  return counts;
}

Result<ArchiveCounts> import_archive(HistoryStore& history, const Unlocked& keys, const ArchiveReader& read,
                                     ByteView passphrase) {
  CONFER_TRY(Transaction tx, Transaction::begin(history.database()));
  size_t skipped = 0, skipped_turns = 0;
  auto take = [&](ArchivedConversation&& c) -> Result<void> {
    CONFER_TRY(auto existing, history.find(keys, c.head.id));
    if (existing) {
      ++skipped;
      skipped_turns += c.turns.size();
      return {};
    }
    for (const auto& [digest, doc] : c.evidence) {
      CONFER_TRY(std::string named, history.put_evidence(keys, doc));
      if (named != digest) return broken(fmt::format("conversation {}: evidence {} does not hash to its name", c.head.id, digest));
    }
    CONFER_TRY_VOID(history.create_conversation(keys, c.head.id, c.head.created));
    for (auto& t : c.turns) CONFER_TRY_VOID(history.append_turn(keys, c.head.id, std::move(t)));
    CONFER_TRY(auto now, history.find(keys, c.head.id));
    if (!c.head.title.empty() && now && now->title != c.head.title)
      CONFER_TRY_VOID(history.rename_conversation(keys, c.head.id, c.head.title));
    return {};
  };
  CONFER_TRY(ArchiveCounts counts, read_archive(read, passphrase, [&](ArchivedConversation&& c) -> Result<void> {
    std::string id = c.head.id;
    auto r = take(std::move(c));
    // What the history refuses to hold (an id or title it does not take) is the archive's fault.
    if (!r && r.error().code == Errc::usage) return broken(fmt::format("conversation {}: {}", id, r.error().message));
    return r;
  }));
  CONFER_TRY_VOID(tx.commit());
  counts.skipped = skipped;
  counts.skipped_turns = skipped_turns;
  return counts;
}

}  // namespace confer::store
