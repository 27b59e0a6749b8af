#include "keys/session.hpp"

#include <keyutils.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <cstdlib>

#include <fmt/format.h>

#include "core/time.hpp"
#include "crypto/hash.hpp"
#include "keys/hierarchy.hpp"

namespace confer::keys {

namespace {

constexpr uint8_t kSessionVersion = 1;
constexpr size_t kMaxPayload = 4096;

// The user session keyring: one per user, shared by their logins, gone at reboot.
constexpr key_serial_t kRing = KEY_SPEC_USER_SESSION_KEYRING;

Error keyring_error(const std::string& what) {
  return make_error(Errc::io, fmt::format("kernel keyring: {}: {}", what, std::strerror(errno)));
}

struct Reader {
  ByteView in;
  size_t at = 0;
  Result<ByteView> take(size_t n, const char* what) {
    if (in.size() - at < n)
      return make_error(Errc::parse, fmt::format("session: expected {} bytes of {}, saw {}", n, what, in.size() - at));
    ByteView out = in.subspan(at, n);
    at += n;
    return out;
  }
  Result<ByteView> prefixed(const char* what) {
    CONFER_TRY(ByteView len, take(2, what));
    return take(size_t(len[0]) << 8 | len[1], what);
  }
};

}  // namespace

std::string session_description(const std::string& store_path) {
  uint8_t digest[32];
  if (!crypto::sha256_parts({as_bytes(store_path)}, digest)) return "confer:session:unknown";
  return "confer:session:" + to_hex(ByteView(digest, 8));
}

Result<crypto::SecretBytes> encode_session(const Session& s) {
  if (s.root.size() != kKeySize) return make_error(Errc::usage, "session: expected a 32-byte root key");
  Bytes head{kSessionVersion};
  for (int shift = 56; shift >= 0; shift -= 8) head.push_back(uint8_t(uint64_t(s.expires) >> shift));
  for (ByteView field : {as_bytes(s.account_id), ByteView(s.credential_id), as_bytes(s.credential_label)})
    if (!append_length_prefixed(head, field)) return make_error(Errc::usage, "session: a field over 65535 bytes");
  CONFER_TRY(crypto::SecretBytes out, crypto::SecretBytes::allocate(head.size() + kKeySize));
  std::memcpy(out.data(), head.data(), head.size());
  std::memcpy(out.data() + head.size(), s.root.data(), kKeySize);
  return out;
}

Result<Session> decode_session(ByteView payload) {
  if (payload.size() > kMaxPayload)
    return make_error(Errc::parse, fmt::format("session: expected at most {} bytes, saw {}", kMaxPayload,
                                               payload.size()));
  Reader r{payload};
  CONFER_TRY(ByteView version, r.take(1, "version"));
  if (version[0] != kSessionVersion)
    return make_error(Errc::parse, fmt::format("session: expected version {}, saw {}", kSessionVersion, version[0]));
  CONFER_TRY(ByteView expires, r.take(8, "expiry"));
  Session s;
  for (uint8_t b : expires) s.expires = int64_t(uint64_t(s.expires) << 8 | b);
  CONFER_TRY(ByteView account, r.prefixed("account id"));
  CONFER_TRY(ByteView credential, r.prefixed("credential id"));
  CONFER_TRY(ByteView label, r.prefixed("credential label"));
  CONFER_TRY(ByteView root, r.take(kKeySize, "root key"));
  if (r.at != payload.size())
    return make_error(Errc::parse, fmt::format("session: {} bytes after the root key", payload.size() - r.at));
  s.account_id.assign(account.begin(), account.end());
  s.credential_id.assign(credential.begin(), credential.end());
  s.credential_label.assign(label.begin(), label.end());
  CONFER_TRY(s.root, crypto::SecretBytes::allocate(kKeySize));
  std::memcpy(s.root.data(), root.data(), kKeySize);
  return s;
}

Result<void> remember_session(const std::string& store_path, const Session& session) {
  int64_t ttl = session.expires - now_utc();
  if (ttl <= 0 || ttl > kMaxSession.count())
    return make_error(Errc::usage, fmt::format("session: expected a lifetime of 1 s to {} s, saw {} s",
                                               kMaxSession.count(), ttl));
  (void)forget_session(store_path);
  CONFER_TRY(crypto::SecretBytes payload, encode_session(session));
  std::string desc = session_description(store_path);
  key_serial_t id = add_key("user", desc.c_str(), payload.data(), payload.size(), kRing);
  if (id < 0) return keyring_error("adding the session key");
  // This user's other processes (another terminal's login session) may read it; no one
  // else may even see it.
  key_perm_t perm = KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH | KEY_USR_WRITE | KEY_USR_SETATTR;
  if (keyctl_setperm(id, perm) < 0 || keyctl_set_timeout(id, unsigned(ttl)) < 0) {
    Error e = keyring_error("limiting the session key");
    keyctl_invalidate(id);
    return e;
  }
  return {};
}

Result<std::optional<Session>> recall_session(const std::string& store_path) {
  std::string desc = session_description(store_path);
  long id = keyctl_search(kRing, "user", desc.c_str(), 0);
  if (id < 0) {
    if (errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED || errno == ENOENT)
      return std::optional<Session>();
    return keyring_error("looking for the session key");
  }
  void* raw = nullptr;
  long n = keyctl_read_alloc(key_serial_t(id), &raw);
  if (n < 0) {
    if (errno == EKEYEXPIRED || errno == EKEYREVOKED || errno == ENOKEY) return std::optional<Session>();
    return keyring_error("reading the session key");
  }
  auto decoded = decode_session(ByteView(static_cast<uint8_t*>(raw), size_t(n)));
  OPENSSL_cleanse(raw, size_t(n));
  std::free(raw);
  if (!decoded) return std::move(decoded).error();
  if (decoded->expires <= now_utc()) return std::optional<Session>();
  return std::optional<Session>(std::move(*decoded));
}

Result<bool> forget_session(const std::string& store_path) {
  std::string desc = session_description(store_path);
  bool any = false;
  for (;;) {
    long id = keyctl_search(kRing, "user", desc.c_str(), 0);
    if (id < 0) break;
    if (keyctl_invalidate(key_serial_t(id)) < 0 && keyctl_revoke(key_serial_t(id)) < 0)
      return keyring_error("dropping the session key");
    any = true;
  }
  return any;
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error(Errc::usage, fmt::format("duration: expected e.g. 90s, 15m, 2h or 1h30m (at most 24h), saw "
                                               "'{}'",
                                               text));
  };
  if (text.empty()) return bad();
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 1'000'000) n = n * 10 + (text[i++] - '0');
    if (i == start || i == text.size()) return bad();  // no digits, or no unit after them
    char unit = text[i++];
    if (unit == 's') total += n;
    else if (unit == 'm') total += n * 60;
    else if (unit == 'h') total += n * 3600;
    else return bad();
    if (total > kMaxSession.count()) return bad();
  }
  if (total <= 0) return bad();
  return std::chrono::seconds(total);
}

}  // namespace confer::keys
