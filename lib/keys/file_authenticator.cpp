#include "keys/file_authenticator.hpp"

#include <sodium.h>

#include <filesystem>

#include <fmt/format.h>

#include "core/json.hpp"
#include "crypto/aead.hpp"
#include "crypto/hash.hpp"

namespace confer::keys {

namespace {

constexpr std::string_view kFormat = "confer-file-authenticator";
constexpr std::string_view kAadLabel = "confer/file-authenticator/v1";

struct Sealed {
  Argon2Params params;
  Bytes salt, nonce, sealed, credential_id;
};

Bytes aad_for(ByteView credential_id) {
  Bytes aad(kAadLabel.begin(), kAadLabel.end());
  aad.insert(aad.end(), credential_id.begin(), credential_id.end());
  return aad;
}

Result<Bytes> b64_field(const nlohmann::json& doc, const char* name, size_t size) {
  const auto* v = member(doc, name);
  if (v == nullptr || !v->is_string())
    return make_error(Errc::parse, fmt::format("file authenticator: expected \"{}\" (base64)", name));
  auto bytes = from_base64(v->get<std::string>());
  if (!bytes || bytes->size() != size)
    return make_error(Errc::parse, fmt::format("file authenticator: expected \"{}\" of {} bytes", name, size));
  return std::move(bytes).value();
}

Result<Sealed> parse_file(ByteView text) {
  CONFER_TRY(nlohmann::json doc, parse_json(text, "file authenticator", JsonLimits{64 * 1024, 4}));
  const auto* format = member(doc, "format");
  const auto* version = member(doc, "version");
  const auto* kdf = member(doc, "kdf");
  if (!doc.is_object() || format == nullptr || *format != kFormat || version == nullptr || *version != 1 ||
      kdf == nullptr || *kdf != "argon2id13")
    return make_error(Errc::parse, "file authenticator: expected format confer-file-authenticator, version 1, "
                                   "kdf argon2id13");
  Sealed s;
  const auto* ops = member(doc, "opslimit");
  const auto* mem = member(doc, "memlimit");
  if (ops == nullptr || !ops->is_number_unsigned() || mem == nullptr || !mem->is_number_unsigned())
    return make_error(Errc::parse, "file authenticator: expected numbers \"opslimit\" and \"memlimit\"");
  s.params.opslimit = ops->get<unsigned long long>();
  s.params.memlimit = mem->get<size_t>();
  if (!argon2_params_in_range(s.params))
    return make_error(Errc::parse, fmt::format("file authenticator: Argon2id limits out of range (ops {}, {} bytes)",
                                               s.params.opslimit, s.params.memlimit));
  CONFER_TRY(s.salt, b64_field(doc, "salt", crypto_pwhash_SALTBYTES));
  CONFER_TRY(s.nonce, b64_field(doc, "nonce", crypto::kGcmNonceSize));
  CONFER_TRY(s.sealed, b64_field(doc, "sealed", 32 + crypto::kGcmTagSize));
  const auto* id = member(doc, "credential_id");
  auto credential = id != nullptr && id->is_string() ? from_hex(id->get<std::string>()) : Result<Bytes>(Bytes{});
  if (!credential || credential->size() != 16)
    return make_error(Errc::parse, "file authenticator: expected \"credential_id\" of 16 bytes (hex)");
  s.credential_id = std::move(credential).value();
  return s;
}

}  // namespace

bool argon2_params_in_range(const Argon2Params& p) noexcept {
  return p.opslimit >= crypto_pwhash_OPSLIMIT_MIN && p.opslimit <= kMaxArgon2Ops &&
         p.memlimit >= crypto_pwhash_MEMLIMIT_MIN && p.memlimit <= kMaxArgon2Memory;
}

Result<crypto::SecretBytes> argon2id_key(ByteView secret, ByteView salt, const Argon2Params& p) {
  if (salt.size() != crypto_pwhash_SALTBYTES)
    return make_error(Errc::usage, fmt::format("Argon2id: expected a {}-byte salt, saw {}", crypto_pwhash_SALTBYTES,
                                               salt.size()));
  if (!argon2_params_in_range(p))
    return make_error(Errc::usage, fmt::format("Argon2id: limits out of range (ops {}, {} bytes)", p.opslimit,
                                               p.memlimit));
  CONFER_TRY_VOID(crypto::sodium_ready());
  CONFER_TRY(crypto::SecretBytes key, crypto::SecretBytes::allocate(32));
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(secret.data()), secret.size(), salt.data(),
                    p.opslimit, p.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error(Errc::internal, fmt::format("Argon2id: out of memory for {} MiB", p.memlimit >> 20));
  return key;
}

Result<FileAuthenticator> FileAuthenticator::create(const std::string& path, ByteView passphrase,
                                                    Argon2Params params) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec))
    return make_error(Errc::usage, fmt::format("{}: already exists; a file authenticator is never overwritten", path));
  if (!argon2_params_in_range(params))
    return make_error(Errc::usage, "file authenticator: Argon2id limits out of range");
  // A missing folder is made private (0700); an existing one is left as it is.
  if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    if (ec) return make_error(Errc::io, fmt::format("{}: cannot create the folder: {}", dir.string(), ec.message()));
  }
  Sealed s{params, Bytes(crypto_pwhash_SALTBYTES), {}, Bytes(48), Bytes(16)};
  CONFER_TRY(crypto::SecretBytes secret, crypto::SecretBytes::random(32));
  CONFER_TRY_VOID(crypto::fill_random(s.salt.data(), s.salt.size()));
  CONFER_TRY_VOID(crypto::fill_random(s.credential_id.data(), s.credential_id.size()));
  CONFER_TRY(crypto::GcmNonce nonce, crypto::random_nonce());
  s.nonce.assign(nonce.begin(), nonce.end());
  CONFER_TRY(crypto::SecretBytes key, argon2id_key(passphrase, s.salt, params));
  CONFER_TRY_VOID(crypto::aes256gcm_seal(key.data(), nonce, aad_for(s.credential_id), secret.view(), s.sealed.data()));
  nlohmann::json doc = {{"format", kFormat}, {"version", 1}, {"kdf", "argon2id13"},
                        {"opslimit", params.opslimit}, {"memlimit", params.memlimit},
                        {"salt", to_base64(s.salt)}, {"nonce", to_base64(s.nonce)},
                        {"sealed", to_base64(s.sealed)}, {"credential_id", to_hex(s.credential_id)}};
  CONFER_TRY_VOID(write_file_atomic(path, as_bytes(dump_json(doc, 2) + "\n"), 0600));
  return FileAuthenticator(std::move(secret), std::move(s.credential_id));
}

Result<void> FileAuthenticator::check_file(ByteView text) {
  CONFER_TRY(Sealed s, parse_file(text));
  (void)s;
  return {};
}

Result<FileAuthenticator> FileAuthenticator::open(const std::string& path, ByteView passphrase) {
  CONFER_TRY(Bytes text, read_file(path));
  auto parsed = parse_file(text);
  if (!parsed) return make_error(parsed.error().code, path + ": " + parsed.error().message);
  Sealed s = std::move(parsed).value();
  CONFER_TRY(crypto::SecretBytes key, argon2id_key(passphrase, s.salt, s.params));
  CONFER_TRY(crypto::SecretBytes secret, crypto::SecretBytes::allocate(32));
  crypto::GcmNonce nonce{};
  std::copy(s.nonce.begin(), s.nonce.end(), nonce.begin());
  if (!crypto::aes256gcm_open(key.data(), nonce, aad_for(s.credential_id), s.sealed, secret.data()))
    return make_error(Errc::key, fmt::format("{}: wrong passphrase (or the file was altered)", path));
  return FileAuthenticator(std::move(secret), std::move(s.credential_id));
}

Result<crypto::SecretBytes> FileAuthenticator::prf(ByteView salt) const {
  if (salt.size() != 32) return make_error(Errc::usage, fmt::format("PRF salt: expected 32 bytes, saw {}", salt.size()));
  CONFER_TRY(crypto::SecretBytes out, crypto::SecretBytes::allocate(32));
  CONFER_TRY_VOID(crypto::hmac_sha256(secret_.view(), {salt}, out.data()));
  return out;
}

}  // namespace confer::keys
