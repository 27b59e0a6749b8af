#include "account/token.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "account/webauthn.hpp"
#include "core/json.hpp"
#include "crypto/hash.hpp"

namespace confer::account {

namespace {

Error bad(std::string why) { return make_error(Errc::key, "invalid token: " + std::move(why)); }

Result<Bytes> mac(ByteView key, std::string_view signing_input) {
  Bytes out(32);
  CONFER_TRY_VOID(crypto::hmac_sha256(key, {as_bytes(signing_input)}, out.data()));
  return out;
}

}  // namespace

Result<std::string> issue_token(ByteView key, const TokenClaims& claims) {
  if (key.size() < kMinTokenKey) return make_error(Errc::internal, "the token key is too short");
  nlohmann::ordered_json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  nlohmann::ordered_json body = {
      {"iss", kTokenIssuer}, {"sub", claims.subject}, {"iat", claims.issued}, {"exp", claims.expires}};
  std::string input = base64url(as_bytes(dump_json(header))) + "." + base64url(as_bytes(dump_json(body)));
  CONFER_TRY(Bytes sig, mac(key, input));
  return input + "." + base64url(sig);
}

Result<TokenClaims> verify_token(ByteView key, std::string_view token, int64_t now) {
  if (token.size() > kMaxTokenLength) return bad(fmt::format("{} characters, at most {}", token.size(), kMaxTokenLength));
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return bad("expected three dot-separated parts");
  auto header_b = from_base64url(token.substr(0, dot1));
  auto body_b = from_base64url(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = from_base64url(token.substr(dot2 + 1));
  if (!header_b || !body_b || !sig) return bad("a part is not base64url");
  auto header = parse_json_object(std::string_view(reinterpret_cast<const char*>(header_b->data()), header_b->size()),
                                  "token header", JsonLimits{1024, 4});
  if (!header) return bad("the header is not a JSON object");
  const auto* alg = member(*header, "alg");
  if (alg == nullptr || !alg->is_string() || alg->get<std::string>() != "HS256")
    return bad("the algorithm is not HS256");
  CONFER_TRY(Bytes expect, mac(key, token.substr(0, dot2)));
  if (!equal_ct(*sig, expect)) return bad("the signature does not verify");
  auto body = parse_json_object(std::string_view(reinterpret_cast<const char*>(body_b->data()), body_b->size()),
                                "token claims", JsonLimits{2048, 4});
  if (!body) return bad("the claims are not a JSON object");
  const auto* iss = member(*body, "iss");
  if (iss == nullptr || !iss->is_string() || iss->get<std::string>() != kTokenIssuer)
    return bad(fmt::format("the issuer is not \"{}\"", kTokenIssuer));
  const auto* sub = member(*body, "sub");
  if (sub == nullptr || !sub->is_string() || sub->get<std::string>().empty()) return bad("no subject");
  const auto* exp = member(*body, "exp");
  if (exp == nullptr || !exp->is_number_integer()) return bad("no expiry (exp)");
  TokenClaims claims;
  claims.subject = sub->get<std::string>();
  claims.expires = exp->get<int64_t>();
  if (const auto* iat = member(*body, "iat"); iat != nullptr && iat->is_number_integer()) claims.issued = iat->get<int64_t>();
  if (now >= claims.expires) return bad(fmt::format("it expired {} s ago", now - claims.expires));
  return claims;
}

}  // namespace confer::account
