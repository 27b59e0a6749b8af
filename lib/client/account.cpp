#include "client/account.hpp"

#include <fmt/format.h>

#include "client/session.hpp"
#include "core/json.hpp"

namespace confer::client {

namespace {

using nlohmann::json;
namespace wa = confer::account;

Result<json> call(transport::ClientChannel& channel, const std::string& path, const json& body, int expect) {
  std::string text = body.is_null() ? "{}" : dump_json(body);
  CONFER_TRY(auto r, request(channel, "POST", path, text, std::chrono::seconds(30)));
  std::string answer = answer_text(r);
  if (r.status == 404 && answer.find("no accounts") != std::string::npos)
    return make_error(Errc::protocol, "the server keeps no accounts (it runs with --store none)");
  if (r.status != expect) {
    Errc code = r.status == 401 || r.status == 429 ? Errc::key : r.status == 409 ? Errc::usage : Errc::protocol;
    return make_error(code, fmt::format("POST {}: the server answered {}: {}", path, r.status, answer));
  }
  auto parsed = parse_json(r.body, "the server's answer", JsonLimits{1 << 20, 6}, Errc::protocol);
  if (!parsed || !parsed->is_object()) return make_error(Errc::protocol, fmt::format("POST {}: the answer is not a JSON object", path));
  return parsed;
}

json assertion_json(const wa::Assertion& a) {
  return {{"client_data_json", wa::base64url(as_bytes(a.client_data_json))},
          {"authenticator_data", wa::base64url(a.authenticator_data)},
          {"signature", wa::base64url(a.signature)}};
}

json credential_json(const NewCredential& c) {
  return {{"id", wa::base64url(c.id)}, {"algorithm", c.algorithm}, {"public_key", wa::base64url(c.public_key)},
          {"wrap", wa::base64url(c.wrap)}};
}

Result<SignedIn> signed_in(const json& j) {
  SignedIn s;
  CONFER_TRY(s.account, json_detail::required_string(j, "account", "the sign-in answer"));
  CONFER_TRY(s.token, json_detail::required_string(j, "token", "the sign-in answer"));
  CONFER_TRY(s.expires, json_detail::required_int64(j, "expires", "the sign-in answer"));
  if (const json* c = json_detail::member(j, "credential"); c != nullptr && c->is_object()) {
    auto id = json_detail::required_string(*c, "id", "the credential");
    auto wrap = json_detail::required_string(*c, "wrap", "the credential");
    if (!id || !wrap) return make_error(Errc::protocol, "the sign-in answer's credential is malformed");
    auto id_b = wa::from_base64url(*id);
    auto wrap_b = wa::from_base64url(*wrap);
    if (!id_b || !wrap_b) return make_error(Errc::protocol, "the sign-in answer's credential is not base64url");
    s.credential_id = std::move(*id_b);
    s.wrap = std::move(*wrap_b);
  }
  return s;
}

}  // namespace

std::string Challenge::client_data_json() const { return wa::client_data_json("webauthn.get", challenge, origin); }

Result<Challenge> request_challenge(transport::ClientChannel& channel) {
  CONFER_TRY(json j, call(channel, "/v1/account/challenge", json(), 200));
  Challenge c;
  CONFER_TRY(std::string text, json_detail::required_string(j, "challenge", "the challenge"));
  auto raw = wa::from_base64url(text);
  if (!raw || raw->size() < 16) return make_error(Errc::protocol, "the server's challenge is not 16 or more bytes of base64url");
  c.challenge = std::move(*raw);
  CONFER_TRY(c.rp_id, json_detail::required_string(j, "rp_id", "the challenge"));
  CONFER_TRY(c.origin, json_detail::required_string(j, "origin", "the challenge"));
  return c;
}

Result<SignedIn> register_account(transport::ClientChannel& channel, const std::string& account_id,
                                  ByteView auth_public_key, const NewCredential& credential,
                                  const wa::Assertion& assertion) {
  json body = {{"account", account_id}, {"auth_key", wa::base64url(auth_public_key)},
               {"credential", credential_json(credential)}, {"assertion", assertion_json(assertion)}};
  CONFER_TRY(json j, call(channel, "/v1/account/register", body, 201));
  return signed_in(j);
}

Result<SignedIn> login_with_assertion(transport::ClientChannel& channel, const wa::Assertion& assertion) {
  json body = {{"credential_id", wa::base64url(assertion.credential_id)}, {"assertion", assertion_json(assertion)}};
  CONFER_TRY(json j, call(channel, "/v1/account/login", body, 200));
  return signed_in(j);
}

Result<SignedIn> login_with_auth_key(transport::ClientChannel& channel, const std::string& account_id,
                                     const wa::AuthKeyPair& key) {
  CONFER_TRY(Challenge c, request_challenge(channel));
  const auto& server = channel.server_static();
  CONFER_TRY(Bytes sig, wa::sign(key, wa::login_message(account_id, c.challenge, ByteView(server.data(), server.size()))));
  json body = {{"account", account_id}, {"signature", wa::base64url(sig)}};
  CONFER_TRY(json j, call(channel, "/v1/account/login", body, 200));
  return signed_in(j);
}

Result<void> add_credential(transport::ClientChannel& channel, const NewCredential& credential,
                            const wa::Assertion& assertion) {
  json body = {{"credential", credential_json(credential)}, {"assertion", assertion_json(assertion)}};
  CONFER_TRY(json j, call(channel, "/v1/account/credentials", body, 201));
  (void)j;
  return {};
}

}  // namespace confer::client
