// One encrypted record at rest (DESIGN §6, docs/keys.md): every conversation title and
// turn is stored, and later synced, as one of these; plaintext exists in memory alone.
//
//   version (1) || key id (16) || nonce (12) || AES-256-GCM(plaintext) || tag (16)
//
// under the conversation's data key, with the AAD binding where the record belongs:
//   "confer/record/v1" || u16 len || account id || u16 len || record id || kind (1)
//   || revision (u64, big-endian) || key id (16)
// so a record moved to another account, id or kind, replayed at an older revision, or
// altered in any byte does not decrypt.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.hpp"
#include "crypto/aead.hpp"
#include "crypto/secret.hpp"

namespace confer::store {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kKeyIdSize = 16;
inline constexpr size_t kRecordOverhead = 1 + kKeyIdSize + crypto::kGcmNonceSize + crypto::kGcmTagSize;  // 45
inline constexpr size_t kMaxRecordSize = 16u << 20;

using KeyId = std::array<uint8_t, kKeyIdSize>;

// evidence: the attestation evidence a turn's receipt names, kept on this machine only
// (sealed under a key derived from the records key; never synced).
enum class RecordKind : uint8_t { conversation = 1, turn = 2, data_key = 3, evidence = 4 };
const char* record_kind_name(RecordKind k) noexcept;

struct RecordContext {
  std::string account_id;
  std::string record_id;
  RecordKind kind = RecordKind::turn;
  uint64_t revision = 0;
};

struct RecordView {
  uint8_t version = 0;
  KeyId key_id{};
  crypto::GcmNonce nonce{};
  ByteView sealed;  // ciphertext || tag, pointing into the parsed bytes
};

// Structure only, no key: Errc::parse naming what was expected and seen.
Result<RecordView> parse_record(ByteView bytes);

Result<Bytes> record_aad(const RecordContext& context, const KeyId& key_id);

// `nonce` is for test vectors only; without it a random one is drawn.
Result<Bytes> seal_record(const crypto::SecretBytes& data_key, const KeyId& key_id, const RecordContext& context,
                          ByteView plaintext, const std::optional<crypto::GcmNonce>& nonce = std::nullopt);
// The plaintext, in guarded memory. Errc::key when the record names another key id, or
// does not decrypt under this key and context.
Result<crypto::SecretBytes> open_record(const crypto::SecretBytes& data_key, const KeyId& key_id,
                                        const RecordContext& context, ByteView record);

// As open_record, into `out` (resized to the plaintext): for records whose text goes on
// into ordinary strings anyway (a turn shown or searched), without a guarded allocation
// per record. `out` is cleared on failure.
Result<void> open_record_into(const crypto::SecretBytes& data_key, const KeyId& key_id, const RecordContext& context,
                              ByteView record, std::string& out);

}  // namespace confer::store
