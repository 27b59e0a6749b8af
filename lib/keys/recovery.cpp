#include "keys/recovery.hpp"

#include <sodium.h>

#include <fmt/format.h>

#include "crypto/hash.hpp"

namespace confer::keys {

namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford
constexpr size_t kSecretSize = 32;
constexpr size_t kChecksumSize = 3;
constexpr size_t kChars = (kSecretSize + kChecksumSize) * 8 / 5;  // 56

Bytes checksum(ByteView secret) {
  static constexpr std::string_view kLabel = "confer/recovery/v1";
  Bytes message(kLabel.begin(), kLabel.end());
  message.insert(message.end(), secret.begin(), secret.end());
  Bytes digest = crypto::sha256(message);
  sodium_memzero(message.data(), message.size());
  digest.resize(kChecksumSize);
  return digest;
}

int value_of(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'O') c = '0';
  if (c == 'I' || c == 'L') c = '1';
  size_t at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

Result<crypto::SecretBytes> new_recovery_secret() { return crypto::SecretBytes::random(kSecretSize); }

std::string format_recovery_code(const crypto::SecretBytes& secret) {
  Bytes all(secret.view().begin(), secret.view().end());
  Bytes sum = checksum(secret.view());
  all.insert(all.end(), sum.begin(), sum.end());
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t written = 0;
  for (uint8_t byte : all) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      if (written > 0 && written % 4 == 0) out.push_back('-');
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
      ++written;
    }
  }
  sodium_memzero(all.data(), all.size());
  return out;
}

Result<crypto::SecretBytes> parse_recovery_code(std::string_view text) {
  CONFER_TRY(crypto::SecretBytes bytes, crypto::SecretBytes::allocate(kSecretSize + kChecksumSize));
  uint32_t buffer = 0;
  int bits = 0;
  size_t chars = 0, out = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    int v = value_of(c);
    // The character itself is not echoed: it is part of a secret.
    if (v < 0) return make_error(Errc::usage, fmt::format("recovery code: character {} is not one of 0-9 A-Z "
                                                          "(without U)", chars + 1));
    if (++chars > kChars) break;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bytes.data()[out++] = static_cast<uint8_t>(buffer >> (bits - 8));
      bits -= 8;
    }
  }
  if (chars != kChars)
    return make_error(Errc::usage, fmt::format("recovery code: expected {} characters ({} groups of 4), saw {}{}",
                                               kChars, kRecoveryGroups, chars > kChars ? "more" : "",
                                               chars > kChars ? "" : std::to_string(chars)));
  CONFER_TRY(crypto::SecretBytes secret, crypto::SecretBytes::allocate(kSecretSize));
  std::copy(bytes.data(), bytes.data() + kSecretSize, secret.data());
  Bytes want = checksum(secret.view());
  if (sodium_memcmp(want.data(), bytes.data() + kSecretSize, kChecksumSize) != 0)
    return make_error(Errc::usage, "recovery code: the checksum does not match; a character is mistyped");
  return secret;
}

Result<crypto::SecretBytes> recovery_kek(const crypto::SecretBytes& secret, ByteView salt, const Argon2Params& p) {
  return argon2id_key(secret.view(), salt, p);
}

}  // namespace confer::keys
