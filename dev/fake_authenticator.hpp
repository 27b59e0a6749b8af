// A development fake security key: CTAPHID framing (64-byte reports) and CTAP2
// (getInfo, clientPIN with PIN/UV auth protocols 1 and 2, makeCredential, getAssertion
// with hmac-secret) in process, so tests drive the real libfido2 code through its I/O
// hooks. Its state (PIN, retries, switches, credentials with both CredRandoms) is a
// JSON file; opening "dev-fake:PATH" loads PATH and closing saves it, so retry counters
// and registered credentials persist across runs like a real key's. It protects
// nothing: the `confer` binary offers it only when CONFER_DEV_AUTHENTICATOR=1.
//
// State file fields (all optional but "credentials" when written by us):
//   pin (string|null), pin_retries (8), pin_failures (consecutive, until replug),
//   uv (built-in UV), ctap ("2.0" | "2.1"), protocols ([1,2]), hmac_secret (true),
//   rk (true), behaviour ("" | "deny" | "timeout" | "skip-uv"),
//   credentials: [{id, rp_id, user_id, rk, key (PKCS#8 hex), cred_random_uv,
//                  cred_random_no_uv, hmac_secret, counter}]
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "crypto/ossl.hpp"
#include "keys/fido.hpp"

struct cbor_item_t;

namespace confer::dev {

inline constexpr const char* kFakeDevicePrefix = "dev-fake:";

struct FakeCredential {
  Bytes id;
  std::string rp_id;
  Bytes user_id;
  bool rk = false;
  Bytes key_der;  // PKCS#8 P-256
  Bytes cred_random_uv, cred_random_no_uv;
  bool hmac_secret = true;
  uint32_t counter = 0;
};

struct FakeState {
  std::optional<std::string> pin;
  int pin_retries = 8;
  int pin_failures = 0;
  bool uv = false;
  bool ctap21 = true;
  std::vector<int> protocols{1, 2};
  bool hmac_secret = true;
  bool rk = true;
  std::string behaviour;
  std::vector<FakeCredential> credentials;
};

Result<FakeState> fake_state_from_json(const nlohmann::json& j);
nlohmann::json fake_state_to_json(const FakeState& s);
Result<FakeState> load_fake_state(const std::string& path);
// Atomic (temporary file then rename), 0600.
Result<void> save_fake_state(const std::string& path, const FakeState& s);

class FakeAuthenticator {
 public:
  explicit FakeAuthenticator(FakeState state) : state_(std::move(state)) {}
  // CTAPHID: one 65-byte output report (report id 0, then 64 bytes) per write; reads
  // return queued 64-byte input reports, or -1 when none is queued (a timeout).
  int write(const uint8_t* buf, size_t len);
  int read(uint8_t* buf, size_t len);
  // One CTAP2 command (command byte || CBOR) to its reply (status || CBOR); empty when
  // the fake does not answer (the "timeout" behaviour).
  Bytes cbor_command(ByteView request);
  const FakeState& state() const { return state_; }

 private:
  struct Token {
    Bytes value;
    uint8_t permissions = 0;
    std::string rp_id;
  };
  void dispatch(uint32_t cid, uint8_t cmd, const Bytes& payload);
  void queue_reply(uint32_t cid, uint8_t cmd, ByteView payload);
  Bytes get_info();
  Bytes client_pin(ByteView cbor);
  Bytes make_credential(ByteView cbor);
  Bytes get_assertion(ByteView cbor);
  Bytes pin_token(const cbor_item_t* request, int protocol, int subcommand);
  Result<Bytes> shared_with(const cbor_item_t* platform_key, int protocol);
  uint8_t check_uv(ByteView cdh, const cbor_item_t* param, int protocol, uint8_t permission,
                   const std::string& rp_id, const cbor_item_t* options, bool& verified) const;
  Result<Bytes> hmac_secret(const cbor_item_t* request, const FakeCredential& c, bool verified);

  FakeState state_;
  crypto::PkeyPtr key_agreement_;
  std::optional<Token> token_;
  uint32_t next_cid_ = 0x01020304;
  uint32_t rx_cid_ = 0;
  uint8_t rx_cmd_ = 0;
  size_t rx_need_ = 0;
  uint8_t rx_seq_ = 0;
  Bytes rx_;
  std::deque<std::vector<uint8_t>> tx_;
};

// I/O hooks for keys::fido::register_device_scheme(kFakeDevicePrefix, ...): open()
// loads the state file named after the prefix; close() saves it back.
keys::fido::IoFunctions fake_authenticator_io();

}  // namespace confer::dev
