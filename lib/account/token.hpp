// Session tokens: compact JWTs signed with HS256, the form Confer's proxy accepts at the
// WebSocket upgrade (`?token=`, CONFER-PROTOCOL §16: iss "kerf", sub, exp), and the bearer
// of the storage routes. Every server that shares a store shares the signing key
// (confer-server --token-key-file), so a token from one is good at the others.
#pragma once

#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::account {

inline constexpr const char* kTokenIssuer = "kerf";
inline constexpr int64_t kTokenLifetime = 15 * 60;  // seconds, as Confer's issuer
inline constexpr size_t kMaxTokenLength = 2048;
inline constexpr size_t kMinTokenKey = 32;

struct TokenClaims {
  std::string subject;  // the account id
  int64_t issued = 0;
  int64_t expires = 0;
};

Result<std::string> issue_token(ByteView key, const TokenClaims& claims);
// Errc::key naming what is wrong: shape, algorithm, signature, issuer, subject, expiry
// (an `exp` is required; a token expires at `exp`, not a second later).
Result<TokenClaims> verify_token(ByteView key, std::string_view token, int64_t now);

}  // namespace confer::account
