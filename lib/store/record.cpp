#include "store/record.hpp"

#include <fmt/format.h>

namespace confer::store {

const char* record_kind_name(RecordKind k) noexcept {
  switch (k) {
    case RecordKind::conversation: return "conversation";
    case RecordKind::turn: return "turn";
    case RecordKind::data_key: return "data key";
    case RecordKind::evidence: return "evidence";
  }
  return "unknown";
}

Result<RecordView> parse_record(ByteView bytes) {
  if (bytes.size() < kRecordOverhead)
    return make_error(Errc::parse, fmt::format("record: expected at least {} bytes, saw {}", kRecordOverhead,
                                               bytes.size()));
  if (bytes.size() > kMaxRecordSize)
    return make_error(Errc::parse, fmt::format("record: expected at most {} bytes, saw {}", kMaxRecordSize,
                                               bytes.size()));
  if (bytes[0] != kRecordVersion)
    return make_error(Errc::parse, fmt::format("record: expected version {}, saw {}", kRecordVersion, bytes[0]));
  RecordView v;
  v.version = bytes[0];
  std::copy(bytes.begin() + 1, bytes.begin() + 1 + kKeyIdSize, v.key_id.begin());
  std::copy(bytes.begin() + 1 + kKeyIdSize, bytes.begin() + 1 + kKeyIdSize + v.nonce.size(), v.nonce.begin());
  v.sealed = bytes.subspan(1 + kKeyIdSize + v.nonce.size());
  return v;
}

Result<Bytes> record_aad(const RecordContext& c, const KeyId& key_id) {
  static constexpr std::string_view kLabel = "confer/record/v1";
  Bytes aad(kLabel.begin(), kLabel.end());
  for (const std::string* field : {&c.account_id, &c.record_id})
    if (!append_length_prefixed(aad, as_bytes(*field)))
      return make_error(Errc::usage, fmt::format("record: an id of at most 65535 bytes, saw {}", field->size()));
  aad.push_back(static_cast<uint8_t>(c.kind));
  for (int shift = 56; shift >= 0; shift -= 8) aad.push_back(static_cast<uint8_t>(c.revision >> shift));
  aad.insert(aad.end(), key_id.begin(), key_id.end());
  return aad;
}

Result<Bytes> seal_record(const crypto::SecretBytes& data_key, const KeyId& key_id, const RecordContext& context,
                          ByteView plaintext, const std::optional<crypto::GcmNonce>& nonce) {
  if (data_key.size() != crypto::kAesKeySize) return make_error(Errc::key, "record: expected a 32-byte data key");
  if (plaintext.size() > kMaxRecordSize - kRecordOverhead)
    return make_error(Errc::usage, fmt::format("record: at most {} bytes of plaintext, saw {}",
                                               kMaxRecordSize - kRecordOverhead, plaintext.size()));
  CONFER_TRY(Bytes aad, record_aad(context, key_id));
  CONFER_TRY(crypto::GcmNonce n, crypto::nonce_or_random(nonce));
  Bytes out(kRecordOverhead + plaintext.size());
  out[0] = kRecordVersion;
  std::copy(key_id.begin(), key_id.end(), out.begin() + 1);
  std::copy(n.begin(), n.end(), out.begin() + 1 + kKeyIdSize);
  CONFER_TRY_VOID(crypto::aes256gcm_seal(data_key.data(), n, aad, plaintext, out.data() + 1 + kKeyIdSize + n.size()));
  return out;
}

namespace {

// Checks the key id and opens `record` into `out`, which holds ciphertext-size bytes.
Result<void> open_to(const crypto::SecretBytes& data_key, const KeyId& key_id, const RecordContext& context,
                     const RecordView& v, uint8_t* out) {
  if (v.key_id != key_id)
    return make_error(Errc::key, fmt::format("record {}: sealed under key {}, not the key given ({})",
                                             context.record_id, to_hex(v.key_id), to_hex(key_id)));
  if (data_key.size() != crypto::kAesKeySize) return make_error(Errc::key, "record: expected a 32-byte data key");
  CONFER_TRY(Bytes aad, record_aad(context, key_id));
  if (!crypto::aes256gcm_open(data_key.data(), v.nonce, aad, v.sealed, out))
    return make_error(Errc::key, fmt::format("record {} ({} revision {}): does not decrypt under this key for "
                                             "this account (altered, moved or replayed from an older revision)",
                                             context.record_id, record_kind_name(context.kind), context.revision));
  return {};
}

}  // namespace

Result<crypto::SecretBytes> open_record(const crypto::SecretBytes& data_key, const KeyId& key_id,
                                        const RecordContext& context, ByteView record) {
  CONFER_TRY(RecordView v, parse_record(record));
  CONFER_TRY(crypto::SecretBytes plain, crypto::SecretBytes::allocate(v.sealed.size() - crypto::kGcmTagSize));
  // An empty plaintext has no allocation to write into; GCM still checks the tag.
  uint8_t none = 0;
  CONFER_TRY_VOID(open_to(data_key, key_id, context, v, plain.empty() ? &none : plain.data()));
  return plain;
}

Result<void> open_record_into(const crypto::SecretBytes& data_key, const KeyId& key_id, const RecordContext& context,
                              ByteView record, std::string& out) {
  out.clear();
  CONFER_TRY(RecordView v, parse_record(record));
  out.resize(v.sealed.size() - crypto::kGcmTagSize + 1);  // one spare byte: never a null pointer
  auto opened = open_to(data_key, key_id, context, v, reinterpret_cast<uint8_t*>(out.data()));
  if (!opened) {
    out.clear();
    return opened;
  }
  out.pop_back();
  return {};
}

}  // namespace confer::store
