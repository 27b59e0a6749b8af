// The unlocked session (`confer login --remember`): the account root key held in the
// Linux kernel's user session keyring with a timeout, so that scripts need no touch
// until it expires or `confer logout` drops it. Nothing is written to disk.
//
// The key's payload (docs/keys.md): version (1) || expires (u64be unix seconds) ||
// u16 len || account id || u16 len || credential id || u16 len || credential label ||
// root key (32). Its description is "confer:session:" + a hash of the history's path, so
// two histories (or two test runs) never share one.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/bytes.hpp"
#include "crypto/secret.hpp"

namespace confer::keys {

struct Session {
  std::string account_id;
  Bytes credential_id;
  std::string credential_label;
  int64_t expires = 0;  // unix seconds
  crypto::SecretBytes root;
};

// Up to a day: a session outliving that is a key left in a drawer.
inline constexpr std::chrono::seconds kMaxSession{24 * 3600};

std::string session_description(const std::string& store_path);

// Replaces any session for the same store. Errc::io when the kernel keyring refuses.
Result<void> remember_session(const std::string& store_path, const Session& session);
// The live session, if any (an expired or revoked key is none).
Result<std::optional<Session>> recall_session(const std::string& store_path);
// True when there was one to drop.
Result<bool> forget_session(const std::string& store_path);

// The payload codec, exposed for tests and fuzzing. parse: Errc::parse naming the field.
Result<crypto::SecretBytes> encode_session(const Session& session);
Result<Session> decode_session(ByteView payload);

// "15m", "2h", "90s", "1h30m": Errc::usage naming what was expected. At most kMaxSession.
Result<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace confer::keys
