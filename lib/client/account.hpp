// The account routes (docs/protocol.md "Accounts and storage") from the client's side,
// over an attested session: a challenge, registering the account, signing in with a
// security key's assertion or with the account's auth key, enrolling a credential.
#pragma once

#include <optional>
#include <string>

#include "account/auth_key.hpp"
#include "account/webauthn.hpp"
#include "transport/client.hpp"

namespace confer::client {

struct Challenge {
  Bytes challenge;
  std::string rp_id, origin;
  // The clientDataJSON a security key signs for this challenge (webauthn.get).
  std::string client_data_json() const;
};

struct SignedIn {
  std::string account;
  std::string token;  // the session token; held in memory only
  int64_t expires = 0;
  std::optional<Bytes> credential_id;  // passkey login: the credential, and its wrap
  std::optional<Bytes> wrap;
};

struct NewCredential {
  Bytes id;
  int64_t algorithm = account::kCoseEs256;
  Bytes public_key;
  Bytes wrap;  // opaque to the server: this client's way-in record (docs/sync.md)
};

Result<Challenge> request_challenge(transport::ClientChannel& channel);
Result<SignedIn> register_account(transport::ClientChannel& channel, const std::string& account_id,
                                  ByteView auth_public_key, const NewCredential& credential,
                                  const account::Assertion& assertion);
Result<SignedIn> login_with_assertion(transport::ClientChannel& channel, const account::Assertion& assertion);
// A fresh challenge, signed with the auth key over the server's static key: no touch.
Result<SignedIn> login_with_auth_key(transport::ClientChannel& channel, const std::string& account_id,
                                     const account::AuthKeyPair& key);
Result<void> add_credential(transport::ClientChannel& channel, const NewCredential& credential,
                            const account::Assertion& assertion);

}  // namespace confer::client
