#include "noise/noise.hpp"

#include <sodium.h>

#include <climits>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>

#include "crypto/aead.hpp"
#include "crypto/hash.hpp"

namespace confer::noise {

namespace {

constexpr size_t kDhSize = 32;
constexpr uint64_t kReservedNonce = UINT64_MAX;

// A stack buffer for secret temporaries, zeroed however the scope is left.
template <size_t N>
struct Wiped {
  std::array<uint8_t, N> b{};
  Wiped() = default;
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { sodium_memzero(b.data(), b.size()); }
  uint8_t* data() noexcept { return b.data(); }
  ByteView view() const noexcept { return {b.data(), b.size()}; }
};

Error internal(const std::string& what) { return make_error(Errc::internal, "noise: " + what); }
Error protocol(const std::string& what) { return make_error(Errc::protocol, "noise: " + what); }
Error usage(const std::string& what) { return make_error(Errc::usage, "noise: " + what); }

std::string num(size_t n) { return std::to_string(n); }

// ---- hash, HMAC, AES-256-GCM (lib/crypto) -------------------------------------------

Result<void> sha256(std::initializer_list<ByteView> parts, uint8_t* out) { return crypto::sha256_parts(parts, out); }

Result<void> hmac_sha256(ByteView key, std::initializer_list<ByteView> parts, uint8_t* out) {
  return crypto::hmac_sha256(key, parts, out);
}

// 4 zero bytes, then the counter big-endian (section 12.3).
crypto::GcmNonce gcm_nonce(uint64_t n) {
  crypto::GcmNonce iv{};
  for (int i = 0; i < 8; ++i) iv[11 - i] = static_cast<uint8_t>(n >> (8 * i));
  return iv;
}

// out receives plaintext.size() + 16 bytes.
Result<void> aes_gcm_seal(const uint8_t* key, uint64_t n, ByteView ad, ByteView plaintext, uint8_t* out) {
  return crypto::aes256gcm_seal(key, gcm_nonce(n), ad, plaintext, out);
}

// ciphertext includes the tag (at least 16 bytes); out receives ciphertext.size() - 16
// bytes, wiped again when authentication fails.
Result<void> aes_gcm_open(const uint8_t* key, uint64_t n, ByteView ad, ByteView ciphertext, uint8_t* out) {
  if (ciphertext.size() < kTagSize) return protocol("expected a ciphertext of at least 16 bytes, saw " + num(ciphertext.size()));
  auto opened = crypto::aes256gcm_open(key, gcm_nonce(n), ad, ciphertext, out);
  if (!opened && opened.error().code == Errc::key) return protocol("message authentication failed");
  return opened;
}

// ---- X25519 ----------------------------------------------------------------------

Result<KeyPair> keypair_from(SecretBytes priv) {
  KeyPair kp;
  kp.priv = std::move(priv);
  if (crypto_scalarmult_base(kp.pub.data(), kp.priv.data()) != 0)
    return make_error(Errc::key, "noise: the private key gives no public key");
  return kp;
}

// ---- the XX pattern (section 7.5) --------------------------------------------------

using detail::Token;
constexpr Token kMessage1[] = {Token::e};
constexpr Token kMessage2[] = {Token::e, Token::ee, Token::s, Token::es};
constexpr Token kMessage3[] = {Token::s, Token::se};
constexpr std::span<const Token> kPattern[] = {kMessage1, kMessage2, kMessage3};
constexpr size_t kMessages = std::size(kPattern);

// The exact size of a message with `payload` bytes, given whether the cipher has a key
// when the message starts.
size_t message_size(std::span<const Token> tokens, bool has_key, size_t payload) {
  size_t size = 0;
  for (Token t : tokens) {
    switch (t) {
      case Token::e: size += kDhSize; break;
      case Token::s: size += kDhSize + (has_key ? kTagSize : 0); break;
      default: has_key = true; break;
    }
  }
  return size + payload + (has_key ? kTagSize : 0);
}

}  // namespace

// ---- KeyPair ---------------------------------------------------------------------

Result<KeyPair> KeyPair::generate() {
  CONFER_TRY(SecretBytes priv, SecretBytes::allocate(kDhSize));
  randombytes_buf(priv.data(), priv.size());
  return keypair_from(std::move(priv));
}

Result<KeyPair> KeyPair::from_private(ByteView priv32) {
  if (priv32.size() != kDhSize)
    return usage("expected a 32-byte x25519 private key, saw " + num(priv32.size()) + " bytes");
  CONFER_TRY(SecretBytes priv, SecretBytes::allocate(kDhSize));
  std::memcpy(priv.data(), priv32.data(), kDhSize);
  return keypair_from(std::move(priv));
}

namespace detail {

// ---- HKDF (section 4.3) ----------------------------------------------------------

Result<SecretBytes> hkdf(ByteView chaining_key, ByteView input_key_material, size_t outputs) {
  if (outputs != 2 && outputs != 3) return usage("hkdf: expected 2 or 3 outputs, saw " + num(outputs));
  CONFER_TRY(SecretBytes out, SecretBytes::allocate(outputs * kHashSize));
  Wiped<kHashSize> temp_key;
  CONFER_TRY_VOID(hmac_sha256(chaining_key, {input_key_material}, temp_key.data()));
  const uint8_t one = 0x01;
  CONFER_TRY_VOID(hmac_sha256(temp_key.view(), {ByteView(&one, 1)}, out.data()));
  for (size_t i = 1; i < outputs; ++i) {
    const auto counter = static_cast<uint8_t>(i + 1);
    ByteView previous(out.data() + (i - 1) * kHashSize, kHashSize);
    CONFER_TRY_VOID(hmac_sha256(temp_key.view(), {previous, ByteView(&counter, 1)}, out.data() + i * kHashSize));
  }
  return out;
}

// ---- CipherState (section 5.1) ---------------------------------------------------

Result<CipherState> CipherState::create() {
  CipherState cs;
  CONFER_TRY(cs.k_, SecretBytes::allocate(kKeySize));
  return cs;
}

Result<void> CipherState::initialize_key(ByteView key) {
  if (key.size() != kKeySize) return internal("expected a 32-byte cipher key, saw " + num(key.size()));
  if (k_.size() != kKeySize) {
    CONFER_TRY(k_, SecretBytes::allocate(kKeySize));
  }
  std::memcpy(k_.data(), key.data(), kKeySize);
  has_key_ = true;
  n_ = 0;
  return {};
}

Result<void> CipherState::encrypt_with_ad(ByteView ad, ByteView plaintext, Bytes& out) {
  if (!has_key_) {
    out.insert(out.end(), plaintext.begin(), plaintext.end());
    return {};
  }
  if (n_ == kReservedNonce) return protocol("nonce 2^64-1 is reserved; the key is used up");
  size_t at = out.size();
  out.resize(at + plaintext.size() + kTagSize);
  auto r = aes_gcm_seal(k_.data(), n_, ad, plaintext, out.data() + at);
  if (!r) {
    out.resize(at);
    return std::move(r).error();
  }
  ++n_;
  return {};
}

Result<Bytes> CipherState::decrypt_with_ad(ByteView ad, ByteView ciphertext) {
  if (!has_key_) return Bytes(ciphertext.begin(), ciphertext.end());
  if (n_ == kReservedNonce) return protocol("nonce 2^64-1 is reserved; the key is used up");
  if (ciphertext.size() < kTagSize)
    return protocol("expected a ciphertext of at least 16 bytes, saw " + num(ciphertext.size()));
  Bytes plain(ciphertext.size() - kTagSize);
  CONFER_TRY_VOID(aes_gcm_open(k_.data(), n_, ad, ciphertext, plain.data()));
  ++n_;
  return plain;
}

// ---- SymmetricState (section 5.2) ------------------------------------------------

Result<SymmetricState> SymmetricState::create(std::string_view protocol_name) {
  SymmetricState ss;
  if (protocol_name.size() <= kHashSize) {
    std::memcpy(ss.h_.data(), protocol_name.data(), protocol_name.size());
  } else {
    CONFER_TRY_VOID(sha256({as_bytes(protocol_name)}, ss.h_.data()));
  }
  CONFER_TRY(ss.ck_, SecretBytes::allocate(kHashSize));
  std::memcpy(ss.ck_.data(), ss.h_.data(), kHashSize);
  CONFER_TRY(ss.cipher_, CipherState::create());
  return ss;
}

Result<void> SymmetricState::mix_key(ByteView input_key_material) {
  CONFER_TRY(SecretBytes out, hkdf(ck_.view(), input_key_material, 2));
  std::memcpy(ck_.data(), out.data(), kHashSize);
  // HASHLEN is 32, so temp_k needs no truncation.
  return cipher_.initialize_key(ByteView(out.data() + kHashSize, kKeySize));
}

Result<void> SymmetricState::mix_hash(ByteView data) {
  std::array<uint8_t, kHashSize> next{};
  CONFER_TRY_VOID(sha256({ByteView(h_), data}, next.data()));
  h_ = next;
  return {};
}

Result<void> SymmetricState::encrypt_and_hash(ByteView plaintext, Bytes& out) {
  size_t at = out.size();
  CONFER_TRY_VOID(cipher_.encrypt_with_ad(h_, plaintext, out));
  return mix_hash(ByteView(out.data() + at, out.size() - at));
}

Result<Bytes> SymmetricState::decrypt_and_hash(ByteView ciphertext) {
  CONFER_TRY(Bytes plain, cipher_.decrypt_with_ad(h_, ciphertext));
  CONFER_TRY_VOID(mix_hash(ciphertext));
  return plain;
}

Result<std::pair<CipherState, CipherState>> SymmetricState::split() {
  if (ck_.size() != kHashSize) return usage("split: the chaining key is gone; split was already called");
  CONFER_TRY(SecretBytes out, hkdf(ck_.view(), {}, 2));
  CONFER_TRY(CipherState c1, CipherState::create());
  CONFER_TRY(CipherState c2, CipherState::create());
  CONFER_TRY_VOID(c1.initialize_key(ByteView(out.data(), kKeySize)));
  CONFER_TRY_VOID(c2.initialize_key(ByteView(out.data() + kHashSize, kKeySize)));
  ck_ = SecretBytes();     // freed, and so zeroed
  cipher_ = CipherState();  // the handshake key is no longer needed either
  return std::pair<CipherState, CipherState>(std::move(c1), std::move(c2));
}

}  // namespace detail

// ---- TransportState --------------------------------------------------------------

Result<Bytes> TransportState::encrypt(ByteView plaintext) {
  if (plaintext.size() > kMaxMessage - kTagSize)
    return usage("expected a transport plaintext of at most " + num(kMaxMessage - kTagSize) + " bytes, saw " +
                 num(plaintext.size()));
  Bytes out;
  out.reserve(plaintext.size() + kTagSize);
  CONFER_TRY_VOID(send_.encrypt_with_ad({}, plaintext, out));
  return out;
}

Result<Bytes> TransportState::decrypt(ByteView ciphertext) {
  if (ciphertext.size() < kTagSize || ciphertext.size() > kMaxMessage)
    return protocol("expected a transport message of 16 to " + num(kMaxMessage) + " bytes, saw " +
                    num(ciphertext.size()));
  return recv_.decrypt_with_ad({}, ciphertext);
}

// ---- HandshakeState (section 5.3) ------------------------------------------------

Result<HandshakeState> HandshakeState::create(Role role, KeyPair static_key, ByteView prologue,
                                              std::optional<KeyPair> ephemeral) {
  if (static_key.priv.size() != kDhSize)
    return usage("expected a 32-byte static private key, saw " + num(static_key.priv.size()) + " bytes");
  if (ephemeral && ephemeral->priv.size() != kDhSize)
    return usage("expected a 32-byte ephemeral private key, saw " + num(ephemeral->priv.size()) + " bytes");
  CONFER_TRY(detail::SymmetricState ss, detail::SymmetricState::create(kProtocolName));
  CONFER_TRY_VOID(ss.mix_hash(prologue));
  // XX has no pre-messages.
  return HandshakeState(role, std::move(ss), std::move(static_key), std::move(ephemeral));
}

bool HandshakeState::complete() const noexcept { return next_ == kMessages && !failed_; }

bool HandshakeState::our_turn() const noexcept {
  // The initiator writes messages 1 and 3, the responder message 2.
  return (next_ % 2 == 0) == (role_ == Role::initiator);
}

Result<void> HandshakeState::check_open(const char* verb) const {
  if (failed_) return protocol(std::string("cannot ") + verb + " a message: the handshake failed earlier");
  if (next_ >= kMessages)
    return protocol(std::string("cannot ") + verb + " a message: the handshake is complete");
  return {};
}

Result<void> HandshakeState::mix_dh(Token token) {
  // Which of our keys meets which of theirs (section 7.2): the letters name the
  // initiator's key first, so the responder swaps them.
  const bool initiator = role_ == Role::initiator;
  bool local_e = false, remote_e = false;
  switch (token) {
    case Token::ee: local_e = remote_e = true; break;
    case Token::es: local_e = initiator; remote_e = !initiator; break;
    case Token::se: local_e = !initiator; remote_e = initiator; break;
    case Token::ss: break;
    default: return internal("dh: not a dh token");
  }
  const KeyPair* local = local_e ? (e_ ? &*e_ : nullptr) : &s_;
  const PublicKey& remote = remote_e ? re_ : rs_;
  const bool have_remote = remote_e ? have_re_ : have_rs_;
  if (local == nullptr || local->priv.size() != kDhSize || !have_remote)
    return internal("dh: a key the pattern needs is missing");
  Wiped<kDhSize> shared;
  // libsodium returns -1 for an all-zero result; check it ourselves as well.
  if (crypto_scalarmult(shared.data(), local->priv.data(), remote.data()) != 0 ||
      sodium_is_zero(shared.data(), kDhSize) != 0)
    return protocol("the peer's public key is a low-order point (all-zero dh output)");
  return ss_.mix_key(shared.view());
}

Result<void> HandshakeState::write_tokens(ByteView payload, Bytes& out) {
  for (Token t : kPattern[next_]) {
    switch (t) {
      case Token::e:
        if (!e_) {
          CONFER_TRY(KeyPair fresh, KeyPair::generate());
          e_ = std::move(fresh);
        }
        out.insert(out.end(), e_->pub.begin(), e_->pub.end());
        CONFER_TRY_VOID(ss_.mix_hash(e_->pub));
        break;
      case Token::s:
        CONFER_TRY_VOID(ss_.encrypt_and_hash(s_.pub, out));
        break;
      default:
        CONFER_TRY_VOID(mix_dh(t));
        break;
    }
  }
  return ss_.encrypt_and_hash(payload, out);
}

Result<Bytes> HandshakeState::read_tokens(ByteView message) {
  const size_t number = next_ + 1;
  for (Token t : kPattern[next_]) {
    switch (t) {
      case Token::e:
        // Sizes were checked up front, so the slices below are in range.
        std::memcpy(re_.data(), message.data(), kDhSize);
        have_re_ = true;
        message = message.subspan(kDhSize);
        CONFER_TRY_VOID(ss_.mix_hash(re_));
        break;
      case Token::s: {
        size_t len = kDhSize + (ss_.has_key() ? kTagSize : 0);
        auto rs = ss_.decrypt_and_hash(message.first(len));
        if (!rs) {
          if (rs.error().code == Errc::protocol)
            return protocol("message " + num(number) + ": the static key failed authentication");
          return std::move(rs).error();
        }
        if (rs->size() != kDhSize) return internal("static key of the wrong size");
        std::memcpy(rs_.data(), rs->data(), kDhSize);
        have_rs_ = true;
        message = message.subspan(len);
        break;
      }
      default:
        CONFER_TRY_VOID(mix_dh(t));
        break;
    }
  }
  auto payload = ss_.decrypt_and_hash(message);
  if (!payload) {
    if (payload.error().code == Errc::protocol)
      return protocol("message " + num(number) + ": the payload failed authentication");
    return std::move(payload).error();
  }
  return std::move(payload).value();
}

Result<Bytes> HandshakeState::write_message(ByteView payload) {
  if (auto open = check_open("write"); !open) {
    Error e = std::move(open).error();
    e.code = Errc::usage;
    return e;
  }
  const size_t number = next_ + 1;
  if (!our_turn())
    return usage("expected to read message " + num(number) + " from the peer, not to write it");
  // Refused before any state changes, so a smaller payload may follow.
  size_t size = message_size(kPattern[next_], ss_.has_key(), payload.size());
  if (size > kMaxMessage)
    return usage("message " + num(number) + " would be " + num(size) + " bytes, more than the " +
                 num(kMaxMessage) + " allowed");
  Bytes out;
  out.reserve(size);
  auto r = write_tokens(payload, out);
  if (!r) {
    failed_ = true;
    return std::move(r).error();
  }
  ++next_;
  return out;
}

Result<Bytes> HandshakeState::read_message(ByteView message) {
  CONFER_TRY_VOID(check_open("read"));
  const size_t number = next_ + 1;
  if (our_turn()) return protocol("expected to write message " + num(number) + ", not to read it");
  size_t minimum = message_size(kPattern[next_], ss_.has_key(), 0);
  if (message.size() < minimum || message.size() > kMaxMessage) {
    failed_ = true;
    if (message.size() > kMaxMessage)
      return protocol("expected message " + num(number) + " of at most " + num(kMaxMessage) + " bytes, saw " +
                      num(message.size()));
    return protocol("expected message " + num(number) + " of at least " + num(minimum) + " bytes, saw " +
                    num(message.size()));
  }
  auto payload = read_tokens(message);
  if (!payload) {
    failed_ = true;
    return std::move(payload).error();
  }
  ++next_;
  return std::move(payload).value();
}

Result<TransportState> HandshakeState::split() {
  if (failed_) return usage("cannot split: the handshake failed");
  if (next_ < kMessages) return usage("cannot split: the handshake is not complete (" + num(next_) + " of 3 messages)");
  if (split_done_) return usage("cannot split twice: the transport keys were already handed out");
  CONFER_TRY(auto pair, ss_.split());
  split_done_ = true;
  // The ephemeral key is no longer needed: forward secrecy wants it gone now.
  e_.reset();
  if (role_ == Role::initiator) return TransportState(std::move(pair.first), std::move(pair.second));
  return TransportState(std::move(pair.second), std::move(pair.first));
}

}  // namespace confer::noise
