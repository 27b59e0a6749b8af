// The record, wrapped-key, file-authenticator, recovery-code and session-payload parsers
// (lib/store, lib/keys): structure first, then a fixed key, which a fuzzer's bytes must
// never open.
#include "keys/file_authenticator.hpp"
#include "keys/hierarchy.hpp"
#include "keys/recovery.hpp"
#include "keys/session.hpp"
#include "store/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  using namespace confer;
  static auto key = [] {
    auto k = crypto::SecretBytes::allocate(32);
    return k ? std::move(k).value() : crypto::SecretBytes();
  }();
  ByteView bytes(data, size);
  auto record = store::parse_record(bytes);
  if (record) {
    store::RecordContext context{"acct", "id", store::RecordKind::turn, 1};
    if (store::open_record(key, record->key_id, context, bytes)) __builtin_trap();  // forged without the key
  }
  keys::WrapContext wrap{keys::kRootWrap, bytes.first(std::min<size_t>(size, 8)), {}};
  if (keys::unwrap_key(key, bytes, wrap)) __builtin_trap();
  (void)keys::FileAuthenticator::check_file(bytes);
  auto code = keys::parse_recovery_code(std::string_view(reinterpret_cast<const char*>(data), size));
  if (code && !keys::parse_recovery_code(keys::format_recovery_code(*code))) __builtin_trap();
  // The unlocked session's payload, as read back from the kernel keyring.
  if (auto session = keys::decode_session(bytes)) {
    auto again = keys::encode_session(*session);
    if (!again || !std::equal(again->view().begin(), again->view().end(), bytes.begin(), bytes.end()))
      __builtin_trap();  // decode and encode disagree
  }
  (void)keys::parse_duration(std::string_view(reinterpret_cast<const char*>(data), std::min<size_t>(size, 64)));
  return 0;
}
