// The Noise Protocol Framework (revision 34), exactly one protocol:
// Noise_XX_25519_AESGCM_SHA256.
//
//   XX:
//     -> e
//     <- e, ee, s, es
//     -> s, se
//
// X25519 from libsodium; AES-256-GCM, SHA-256 and HMAC-SHA256 from OpenSSL. Private
// keys, the chaining key and cipher keys live in SecretBytes. Every error is a value:
// Errc::protocol when the peer's bytes are wrong (malformed, failed authentication,
// low-order key, out of turn), Errc::usage when the caller asks for something the
// protocol does not allow (writing out of turn, an oversized message), Errc::internal
// when a crypto library fails.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/secret.hpp"

namespace confer::noise {

using crypto::SecretBytes;

inline constexpr std::string_view kProtocolName = "Noise_XX_25519_AESGCM_SHA256";
inline constexpr size_t kKeySize = 32;      // DHLEN and the AES-256 key size
inline constexpr size_t kHashSize = 32;     // HASHLEN
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kMaxMessage = 65535;

using PublicKey = std::array<uint8_t, 32>;

struct KeyPair {
  SecretBytes priv;  // 32 bytes, an X25519 scalar (clamped when used)
  PublicKey pub{};

  static Result<KeyPair> generate();
  // Errc::usage unless `priv32` is 32 bytes.
  static Result<KeyPair> from_private(ByteView priv32);
};

enum class Role { initiator, responder };

// The building blocks of section 5, exposed for tests; applications use
// HandshakeState and TransportState.
namespace detail {

// The message tokens of section 7.1.
enum class Token : uint8_t { e, s, ee, es, se, ss };

// HKDF(chaining_key, input_key_material, num_outputs) of section 4.3 with HMAC-SHA256:
// `outputs` (2 or 3) blocks of 32 bytes, concatenated.
Result<SecretBytes> hkdf(ByteView chaining_key, ByteView input_key_material, size_t outputs);

// Section 5.1. A default-constructed CipherState has no key storage; use create().
class CipherState {
 public:
  static Result<CipherState> create();

  Result<void> initialize_key(ByteView key);  // 32 bytes
  bool has_key() const noexcept { return has_key_; }
  uint64_t nonce() const noexcept { return n_; }
  void set_nonce(uint64_t n) noexcept { n_ = n; }

  // Appends the ciphertext (plaintext + 16-byte tag; the plaintext itself with no key).
  Result<void> encrypt_with_ad(ByteView ad, ByteView plaintext, Bytes& out);
  // Errc::protocol on failed authentication; the nonce then does not advance.
  Result<Bytes> decrypt_with_ad(ByteView ad, ByteView ciphertext);

 private:
  SecretBytes k_;
  bool has_key_ = false;
  uint64_t n_ = 0;
};

// Section 5.2.
class SymmetricState {
 public:
  static Result<SymmetricState> create(std::string_view protocol_name);

  Result<void> mix_key(ByteView input_key_material);
  Result<void> mix_hash(ByteView data);
  Result<void> encrypt_and_hash(ByteView plaintext, Bytes& out);
  Result<Bytes> decrypt_and_hash(ByteView ciphertext);
  // The first CipherState is for initiator -> responder; wipes the chaining key.
  Result<std::pair<CipherState, CipherState>> split();

  bool has_key() const noexcept { return cipher_.has_key(); }
  const std::array<uint8_t, kHashSize>& handshake_hash() const noexcept { return h_; }

 private:
  SecretBytes ck_;
  std::array<uint8_t, kHashSize> h_{};
  CipherState cipher_;
};

}  // namespace detail

// After split(): encrypt toward the peer, decrypt from the peer, empty associated data.
class TransportState {
 public:
  // Errc::usage if plaintext + 16 > kMaxMessage.
  Result<Bytes> encrypt(ByteView plaintext);
  // Errc::protocol on failed authentication, or input shorter than 16 or longer than
  // kMaxMessage bytes. A rejected message does not advance the receive nonce.
  Result<Bytes> decrypt(ByteView ciphertext);

 private:
  friend class HandshakeState;
  TransportState(detail::CipherState send, detail::CipherState recv)
      : send_(std::move(send)), recv_(std::move(recv)) {}

  detail::CipherState send_;
  detail::CipherState recv_;
};

// Section 5.3 for the XX pattern. Move-only. Once a read or write fails part way, the
// handshake is dead and every later call fails; errors found before any state changed
// (wrong turn, an oversized payload to write) leave it usable.
class HandshakeState {
 public:
  // `ephemeral` only for tests (vectors); normally generated when first needed.
  static Result<HandshakeState> create(Role role, KeyPair static_key, ByteView prologue,
                                       std::optional<KeyPair> ephemeral = std::nullopt);

  // Errc::usage if it is not our turn, or the message would exceed kMaxMessage.
  Result<Bytes> write_message(ByteView payload);
  // Returns the payload. Errc::protocol on any malformed or unauthenticated message,
  // or when it is our turn to write.
  Result<Bytes> read_message(ByteView message);

  Role role() const noexcept { return role_; }
  bool complete() const noexcept;
  // Valid once learned (after message 2 for the initiator, message 3 for the
  // responder); all zero before.
  const PublicKey& remote_static() const noexcept { return rs_; }
  bool has_remote_static() const noexcept { return have_rs_; }
  std::array<uint8_t, 32> handshake_hash() const noexcept { return ss_.handshake_hash(); }
  // Only when complete, and only once: a second pair of transport keys would reuse nonces.
  Result<TransportState> split();

 private:
  HandshakeState(Role role, detail::SymmetricState ss, KeyPair s, std::optional<KeyPair> e)
      : role_(role), ss_(std::move(ss)), s_(std::move(s)), e_(std::move(e)) {}

  bool our_turn() const noexcept;
  Result<void> check_open(const char* verb) const;
  Result<void> mix_dh(detail::Token token);
  Result<void> write_tokens(ByteView payload, Bytes& out);
  Result<Bytes> read_tokens(ByteView message);

  Role role_;
  detail::SymmetricState ss_;
  KeyPair s_;
  std::optional<KeyPair> e_;
  PublicKey re_{};
  PublicKey rs_{};
  bool have_re_ = false;
  bool have_rs_ = false;
  size_t next_ = 0;  // index of the next message pattern, 0..3
  bool failed_ = false;
  bool split_done_ = false;
};

}  // namespace confer::noise
