// Security keys through libfido2: list them, register a credential with hmac-secret,
// and evaluate the WebAuthn PRF (CTAP2 hmac-secret over SHA-256("WebAuthn PRF" || 0 ||
// input)) with user verification required. Every failure is Errc::key with a message
// that says what happened on the key and what the user can do (docs/keys.md).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/secret.hpp"

namespace confer::keys::fido {

struct DeviceInfo {
  std::string path;
  std::string manufacturer;
  std::string product;
};
// The FIDO HID devices present (real ones only, not registered schemes).
Result<std::vector<DeviceInfo>> list_devices();

// How the layer talks to the person: read_pin asks for the PIN (no echo), notice says
// what is about to block ("touch your security key").
struct Interaction {
  std::function<Result<crypto::SecretBytes>(const std::string& prompt)> read_pin;
  std::function<void(const std::string&)> notice;
};

struct DeviceOptions {
  std::string path;  // empty: the only device present
  std::string rp_id = "confer.to";
  int timeout_ms = 30000;
};

struct Registration {
  Bytes credential_id;
  bool discoverable = false;
  std::string device;        // product name, for labels
  std::string path;          // where it was found (hidraw path or a registered scheme's)
  crypto::SecretBytes prf;   // the PRF of `prf_input`, proving hmac-secret works
  int64_t algorithm = -7;    // COSE ES256
  Bytes public_key;          // x || y, for a server to check this credential's assertions
  Bytes authenticator_data;  // with a clientDataJSON: the PRF assertion, signed
  Bytes signature;
};
// makeCredential (ES256, hmac-secret, resident when the key offers it) then one
// assertion for the PRF of `prf_input`: two touches, one PIN entry. With
// `client_data_json`, that assertion also signs it (Registration::assertion), so the
// same touch proves the credential to a server.
Result<Registration> register_credential(const DeviceOptions& options, const Interaction& interaction,
                                         ByteView user_id, const std::string& user_name, ByteView prf_input,
                                         const std::string* client_data_json = nullptr);

// What a relying party checks: the authenticator data as signed (raw, not CBOR-wrapped)
// and the signature over it and SHA-256(clientDataJSON).
struct SignedAssertion {
  Bytes authenticator_data;
  Bytes signature;
};
struct PrfOutput {
  crypto::SecretBytes first;
  std::optional<crypto::SecretBytes> second;
  std::optional<SignedAssertion> assertion;  // when a clientDataJSON was given
};
// The PRF of `input` (and of `second` when given) for `credential_id`. The assertion
// must carry the UV flag: an output computed without user verification is wiped and
// refused, because it is not the one a browser would get.
// With `client_data_json`, the same assertion (one touch) also signs in to a server: it
// is made over that clientDataJSON, and returned.
Result<PrfOutput> prf(const DeviceOptions& options, const Interaction& interaction, ByteView credential_id,
                      ByteView input, std::optional<ByteView> second = std::nullopt,
                      const std::string* client_data_json = nullptr);

// An assertion with no allow list (a discoverable credential chooses itself), over
// `client_data_json`, user verification required: how a new machine signs in with a
// security key enrolled elsewhere, before it knows the credential id.
struct Discovered {
  Bytes credential_id;
  Bytes authenticator_data;
  Bytes signature;
};
Result<Discovered> discover(const DeviceOptions& options, const Interaction& interaction,
                            const std::string& client_data_json);

// Device paths starting with `prefix` are opened through `io` instead of hidraw (the
// development fake authenticator). Register before any other call, once per prefix.
struct IoFunctions {
  void* (*open)(const char* path);
  void (*close)(void* handle);
  int (*read)(void* handle, unsigned char* buf, size_t len, int ms);
  int (*write)(void* handle, const unsigned char* buf, size_t len);
};
void register_device_scheme(std::string prefix, IoFunctions io);

// The message for a libfido2 result (FIDO_ERR_*), for the error table and tests.
std::string describe_fido_error(int code, int timeout_ms);

}  // namespace confer::keys::fido
