#include "keys/fido.hpp"

#include <fido.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "crypto/hash.hpp"
#include "keys/hierarchy.hpp"

namespace confer::keys::fido {

namespace {

constexpr uint8_t kFlagUserPresent = 0x01;
constexpr uint8_t kFlagUserVerified = 0x04;
constexpr size_t kMaxDevices = 32;
constexpr size_t kPinMax = 63;  // bytes, CTAP2's limit on the PIN as sent

struct Scheme {
  std::string prefix;
  IoFunctions io;
};
std::mutex g_mutex;
std::vector<Scheme> g_schemes;

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { fido_init(FIDO_DISABLE_U2F_FALLBACK); });
}

std::optional<IoFunctions> scheme_for(const std::string& path) {
  std::lock_guard lock(g_mutex);
  for (const auto& s : g_schemes)
    if (path.rfind(s.prefix, 0) == 0) return s.io;
  return std::nullopt;
}

struct DevFree {
  void operator()(fido_dev_t* d) const {
    fido_dev_close(d);
    fido_dev_free(&d);
  }
};
struct CredFree {
  void operator()(fido_cred_t* c) const { fido_cred_free(&c); }
};
struct AssertFree {
  void operator()(fido_assert_t* a) const { fido_assert_free(&a); }
};
struct InfoFree {
  void operator()(fido_cbor_info_t* i) const { fido_cbor_info_free(&i); }
};
using DevPtr = std::unique_ptr<fido_dev_t, DevFree>;
using CredPtr = std::unique_ptr<fido_cred_t, CredFree>;
using AssertPtr = std::unique_ptr<fido_assert_t, AssertFree>;
using InfoPtr = std::unique_ptr<fido_cbor_info_t, InfoFree>;

Error key_error(std::string message) { return make_error(Errc::key, std::move(message)); }

// An open device, what it offers, and the PIN once asked (kept for the whole
// operation, so registration asks once for two touches).
struct Device {
  DevPtr dev;
  std::string path;
  bool builtin_uv = false;
  bool pin_set = false;
  bool pin_supported = false;
  bool resident = false;
  int timeout_ms = 0;
  crypto::SecretBytes pin;  // NUL-terminated once read
};

Result<std::string> only_device_path() {
  CONFER_TRY(std::vector<DeviceInfo> devices, list_devices());
  if (devices.empty())
    return key_error("no security key found: plug one in (confer login --list-devices shows what is seen), "
                     "or use --authenticator file:PATH on a machine without one");
  if (devices.size() > 1)
    return key_error(fmt::format("{} security keys are plugged in; choose one with --device PATH "
                                 "(confer login --list-devices)", devices.size()));
  return devices.front().path;
}

bool has_extension(const fido_cbor_info_t* info, const char* name) {
  char** ext = fido_cbor_info_extensions_ptr(info);
  for (size_t i = 0; i < fido_cbor_info_extensions_len(info); ++i)
    if (std::strcmp(ext[i], name) == 0) return true;
  return false;
}

bool option_true(const fido_cbor_info_t* info, const char* name) {
  char** names = fido_cbor_info_options_name_ptr(info);
  const bool* values = fido_cbor_info_options_value_ptr(info);
  for (size_t i = 0; i < fido_cbor_info_options_len(info); ++i)
    if (std::strcmp(names[i], name) == 0) return values[i];
  return false;
}

Result<void> read_capabilities(Device& d) {
  InfoPtr info(fido_cbor_info_new());
  if (!info) return make_error(Errc::internal, "out of memory (fido_cbor_info_new)");
  int r = fido_dev_get_cbor_info(d.dev.get(), info.get());
  if (r != FIDO_OK) return key_error(fmt::format("the security key at {} did not describe itself: {}", d.path,
                                                 describe_fido_error(r, d.timeout_ms)));
  if (!has_extension(info.get(), "hmac-secret"))
    return key_error(fmt::format("the security key at {} does not offer hmac-secret, so it cannot derive keys; "
                                 "use a key that does, or --authenticator file:PATH", d.path));
  d.builtin_uv = fido_dev_has_uv(d.dev.get());
  d.pin_set = fido_dev_has_pin(d.dev.get());
  d.pin_supported = fido_dev_supports_pin(d.dev.get());
  d.resident = option_true(info.get(), "rk");
  return {};
}

Result<Device> open_device(const DeviceOptions& options, const Interaction& interaction) {
  init_once();
  Device d;
  if (options.path.empty()) {
    CONFER_TRY(d.path, only_device_path());
  } else {
    d.path = options.path;
  }
  d.timeout_ms = options.timeout_ms;
  d.dev.reset(fido_dev_new());
  if (!d.dev) return make_error(Errc::internal, "out of memory (fido_dev_new)");
  if (auto io = scheme_for(d.path)) {
    fido_dev_io_t hooks{io->open, io->close, io->read, io->write};
    if (fido_dev_set_io_functions(d.dev.get(), &hooks) != FIDO_OK)
      return make_error(Errc::internal, "libfido2 refused the device's I/O functions");
    if (interaction.notice) interaction.notice(fmt::format("warning: {} is a development fake, not a security key", d.path));
  }
  fido_dev_set_timeout(d.dev.get(), options.timeout_ms > 0 ? options.timeout_ms : -1);
  int r = fido_dev_open(d.dev.get(), d.path.c_str());
  if (r != FIDO_OK)
    return key_error(fmt::format("no security key found at {} ({}); confer login --list-devices shows what is seen",
                                 d.path, fido_strerr(r)));
  if (!fido_dev_is_fido2(d.dev.get()))
    return key_error(fmt::format("the key at {} speaks only U2F; confer needs a FIDO2 key with hmac-secret", d.path));
  CONFER_TRY_VOID(read_capabilities(d));
  return d;
}

std::string product_of(const std::string& path) {
  auto devices = list_devices();
  if (devices.ok())
    for (const auto& info : *devices)
      if (info.path == path && !info.product.empty()) return info.product;
  return path;
}

// User verification: built-in UV when the key has it, else its PIN; a key with neither
// cannot give the browser-compatible PRF, and we say how to fix that.
Result<void> prepare_uv(Device& d, const Interaction& interaction) {
  if (d.builtin_uv || !d.pin.empty()) return {};
  if (!d.pin_set) {
    if (d.pin_supported)
      return key_error(fmt::format("the security key at {} has no PIN and no built-in user verification; set a PIN "
                                   "(for example fido2-token -S {}) so the key can verify you", d.path, d.path));
    return key_error(fmt::format("the security key at {} can verify neither a PIN nor a fingerprint; "
                                 "confer requires user verification", d.path));
  }
  if (!interaction.read_pin)
    return key_error("the security key needs its PIN and there is no terminal to ask on");
  CONFER_TRY(crypto::SecretBytes typed, interaction.read_pin("PIN for the security key: "));
  if (typed.size() < 4 || typed.size() > kPinMax)
    return key_error(fmt::format("a security key PIN is 4 to {} bytes; {} typed", kPinMax, typed.size()));
  if (std::find(typed.data(), typed.data() + typed.size(), 0) != typed.data() + typed.size())
    return key_error("a security key PIN cannot contain a NUL byte");
  CONFER_TRY(d.pin, crypto::SecretBytes::allocate(typed.size() + 1));
  std::memcpy(d.pin.data(), typed.data(), typed.size());
  return {};
}

const char* pin_arg(const Device& d) {
  return d.pin.empty() ? nullptr : reinterpret_cast<const char*>(d.pin.data());
}

Error operation_error(Device& d, int r, const char* what) {
  if (r == FIDO_ERR_PIN_INVALID) {
    int left = -1;
    std::string tries;
    if (fido_dev_get_retry_count(d.dev.get(), &left) == FIDO_OK && left >= 0)
      tries = fmt::format(" ({} {} left before the key locks its PIN)", left, left == 1 ? "try" : "tries");
    return key_error(fmt::format("wrong PIN for the security key{}", tries));
  }
  return key_error(fmt::format("{}: {}", what, describe_fido_error(r, d.timeout_ms)));
}

Result<void> set_random_clientdata(fido_cred_t* cred, fido_assert_t* assertion) {
  uint8_t cdh[32];
  CONFER_TRY_VOID(crypto::fill_random(cdh, sizeof cdh));
  int r = cred ? fido_cred_set_clientdata_hash(cred, cdh, sizeof cdh)
               : fido_assert_set_clientdata_hash(assertion, cdh, sizeof cdh);
  if (r != FIDO_OK) return make_error(Errc::internal, fmt::format("libfido2: {}", fido_strerr(r)));
  return {};
}

// libfido2 hands authenticator data back CBOR-wrapped (a byte string); the signature
// covers the bytes inside.
Result<Bytes> unwrap_cbor_bytes(const uint8_t* p, size_t n) {
  if (p == nullptr || n == 0 || (p[0] >> 5) != 2) return key_error("the security key's authenticator data is not a CBOR byte string");
  uint8_t info = p[0] & 0x1f;
  size_t header = 1, len = 0;
  if (info < 24) {
    len = info;
  } else if (info == 24 && n >= 2) {
    len = p[1];
    header = 2;
  } else if (info == 25 && n >= 3) {
    len = (size_t(p[1]) << 8) | p[2];
    header = 3;
  } else {
    return key_error("the security key's authenticator data has an unexpected length");
  }
  if (header + len != n) return key_error("the security key's authenticator data has a wrong length");
  return Bytes(p + header, p + n);
}

Result<PrfOutput> assertion_prf(Device& d, const Interaction& interaction, const std::string& rp_id,
                                ByteView credential_id, ByteView input, std::optional<ByteView> second,
                                const std::string* client_data_json = nullptr) {
  CONFER_TRY_VOID(prepare_uv(d, interaction));
  AssertPtr a(fido_assert_new());
  if (!a) return make_error(Errc::internal, "out of memory (fido_assert_new)");
  Bytes salts = prf_salt(input);
  if (second) {
    Bytes s2 = prf_salt(*second);
    salts.insert(salts.end(), s2.begin(), s2.end());
  }
  bool ok = fido_assert_set_rp(a.get(), rp_id.c_str()) == FIDO_OK &&
            fido_assert_allow_cred(a.get(), credential_id.data(), credential_id.size()) == FIDO_OK &&
            fido_assert_set_extensions(a.get(), FIDO_EXT_HMAC_SECRET) == FIDO_OK &&
            fido_assert_set_hmac_salt(a.get(), salts.data(), salts.size()) == FIDO_OK &&
            fido_assert_set_up(a.get(), FIDO_OPT_TRUE) == FIDO_OK &&
            (d.builtin_uv ? fido_assert_set_uv(a.get(), FIDO_OPT_TRUE) == FIDO_OK : true);
  if (!ok) return make_error(Errc::internal, "libfido2 refused the assertion's parameters");
  if (client_data_json != nullptr) {
    if (int r = fido_assert_set_clientdata(a.get(), reinterpret_cast<const unsigned char*>(client_data_json->data()),
                                           client_data_json->size());
        r != FIDO_OK)
      return make_error(Errc::internal, fmt::format("libfido2: {}", fido_strerr(r)));
  } else {
    CONFER_TRY_VOID(set_random_clientdata(nullptr, a.get()));
  }
  if (interaction.notice) interaction.notice("touch your security key");
  int r = fido_dev_get_assert(d.dev.get(), a.get(), d.builtin_uv ? nullptr : pin_arg(d));
  if (r != FIDO_OK) return operation_error(d, r, "the security key did not answer with its secret");
  if (fido_assert_count(a.get()) != 1)
    return key_error(fmt::format("the security key answered {} assertions for one credential", fido_assert_count(a.get())));
  uint8_t flags = fido_assert_flags(a.get(), 0);
  if (!(flags & kFlagUserVerified))
    return key_error("the security key did not verify you (its answer lacks the user-verified flag), so its "
                     "secret is not the one your passkey gives; refused");
  if (!(flags & kFlagUserPresent)) return key_error("the security key answered without a touch; refused");
  size_t n = fido_assert_hmac_secret_len(a.get(), 0);
  size_t want = second ? 64 : 32;
  if (n != want)
    return key_error(fmt::format("the security key returned {} bytes of hmac-secret output, expected {}", n, want));
  const uint8_t* p = fido_assert_hmac_secret_ptr(a.get(), 0);
  PrfOutput out;
  CONFER_TRY(out.first, crypto::SecretBytes::allocate(32));
  std::memcpy(out.first.data(), p, 32);
  if (second) {
    CONFER_TRY(crypto::SecretBytes s, crypto::SecretBytes::allocate(32));
    std::memcpy(s.data(), p + 32, 32);
    out.second = std::move(s);
  }
  if (client_data_json != nullptr) {
    SignedAssertion signed_assertion;
    CONFER_TRY(signed_assertion.authenticator_data,
               unwrap_cbor_bytes(fido_assert_authdata_ptr(a.get(), 0), fido_assert_authdata_len(a.get(), 0)));
    const uint8_t* sig = fido_assert_sig_ptr(a.get(), 0);
    signed_assertion.signature.assign(sig, sig + fido_assert_sig_len(a.get(), 0));
    if (signed_assertion.signature.empty()) return key_error("the security key's assertion carries no signature");
    out.assertion = std::move(signed_assertion);
  }
  return out;
}

}  // namespace

std::string describe_fido_error(int code, int timeout_ms) {
  switch (code) {
    case FIDO_ERR_PIN_INVALID: return "wrong PIN";
    case FIDO_ERR_PIN_AUTH_BLOCKED:
      return "too many wrong PINs in a row; unplug the security key and plug it back in to try again";
    case FIDO_ERR_PIN_BLOCKED:
      return "the security key's PIN is blocked after too many wrong tries; the key must be reset, which "
             "destroys its credentials (use your recovery code: confer login --recovery)";
    case FIDO_ERR_PIN_NOT_SET:
    case FIDO_ERR_PIN_REQUIRED: return "the security key has no PIN set; set one (fido2-token -S) and try again";
    case FIDO_ERR_PIN_POLICY_VIOLATION: return "the PIN does not meet the security key's PIN policy";
    case FIDO_ERR_UNSUPPORTED_EXTENSION: return "the security key does not support hmac-secret";
    case FIDO_ERR_NO_CREDENTIALS:
      return "this credential is not registered on this key (another key, or a different --rp-id?)";
    case FIDO_ERR_RX:
    case FIDO_ERR_ACTION_TIMEOUT:
    case FIDO_ERR_USER_ACTION_TIMEOUT:
      return fmt::format("timed out waiting for the security key ({} s; touch it when it blinks, or wait longer "
                         "with --touch-timeout)", timeout_ms / 1000);
    case FIDO_ERR_OPERATION_DENIED:
    case FIDO_ERR_KEEPALIVE_CANCEL: return "the request was denied or cancelled on the security key";
    case FIDO_ERR_UV_BLOCKED: return "built-in user verification is blocked; use the key's PIN or reset it";
    case FIDO_ERR_UV_INVALID: return "the fingerprint was not recognised";
    case FIDO_ERR_PIN_AUTH_INVALID: return "the security key rejected the PIN token";
    case FIDO_ERR_CREDENTIAL_EXCLUDED: return "this key already holds that credential";
    case FIDO_ERR_KEY_STORE_FULL: return "the security key has no room for another credential";
    default: return fmt::format("libfido2 error {}: {}", code, fido_strerr(code));
  }
}

Result<std::vector<DeviceInfo>> list_devices() {
  init_once();
  fido_dev_info_t* list = fido_dev_info_new(kMaxDevices);
  if (!list) return make_error(Errc::internal, "out of memory (fido_dev_info_new)");
  size_t found = 0;
  int r = fido_dev_info_manifest(list, kMaxDevices, &found);
  std::vector<DeviceInfo> out;
  if (r == FIDO_OK) {
    for (size_t i = 0; i < found; ++i) {
      const fido_dev_info_t* di = fido_dev_info_ptr(list, i);
      auto text = [](const char* s) { return std::string(s ? s : ""); };
      out.push_back({text(fido_dev_info_path(di)), text(fido_dev_info_manufacturer_string(di)),
                     text(fido_dev_info_product_string(di))});
    }
  }
  fido_dev_info_free(&list, kMaxDevices);
  if (r != FIDO_OK) return key_error(fmt::format("could not list security keys: {}", fido_strerr(r)));
  return out;
}

void register_device_scheme(std::string prefix, IoFunctions io) {
  std::lock_guard lock(g_mutex);
  g_schemes.push_back({std::move(prefix), io});
}

Result<Registration> register_credential(const DeviceOptions& options, const Interaction& interaction,
                                         ByteView user_id, const std::string& user_name, ByteView prf_input,
                                         const std::string* client_data_json) {
  CONFER_TRY(Device d, open_device(options, interaction));
  CONFER_TRY_VOID(prepare_uv(d, interaction));
  CredPtr c(fido_cred_new());
  if (!c) return make_error(Errc::internal, "out of memory (fido_cred_new)");
  bool ok = fido_cred_set_type(c.get(), COSE_ES256) == FIDO_OK &&
            fido_cred_set_rp(c.get(), options.rp_id.c_str(), "confer") == FIDO_OK &&
            fido_cred_set_user(c.get(), user_id.data(), user_id.size(), user_name.c_str(), user_name.c_str(),
                               nullptr) == FIDO_OK &&
            fido_cred_set_extensions(c.get(), FIDO_EXT_HMAC_SECRET) == FIDO_OK &&
            fido_cred_set_rk(c.get(), d.resident ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) == FIDO_OK &&
            (d.builtin_uv && d.pin.empty() ? fido_cred_set_uv(c.get(), FIDO_OPT_TRUE) == FIDO_OK : true);
  if (!ok) return make_error(Errc::internal, "libfido2 refused the credential's parameters");
  CONFER_TRY_VOID(set_random_clientdata(c.get(), nullptr));
  if (interaction.notice) interaction.notice("touch your security key to register it");
  int r = fido_dev_make_cred(d.dev.get(), c.get(), d.builtin_uv ? nullptr : pin_arg(d));
  if (r != FIDO_OK) return operation_error(d, r, "the security key did not register a credential");
  if (!(fido_cred_flags(c.get()) & kFlagUserVerified))
    return key_error("the security key registered the credential without verifying you; refused");
  Registration reg;
  const uint8_t* id = fido_cred_id_ptr(c.get());
  reg.credential_id.assign(id, id + fido_cred_id_len(c.get()));
  if (reg.credential_id.empty()) return key_error("the security key returned an empty credential id");
  const uint8_t* pk = fido_cred_pubkey_ptr(c.get());
  reg.public_key.assign(pk, pk + fido_cred_pubkey_len(c.get()));
  if (reg.public_key.size() != 64)
    return key_error(fmt::format("the security key's ES256 public key is {} bytes, expected 64", reg.public_key.size()));
  reg.discoverable = d.resident;
  reg.path = d.path;
  reg.device = scheme_for(d.path) ? "development fake" : product_of(d.path);
  if (interaction.notice) interaction.notice("registered; once more to derive the history key");
  CONFER_TRY(PrfOutput out, assertion_prf(d, interaction, options.rp_id, reg.credential_id, prf_input, std::nullopt,
                                          client_data_json));
  reg.prf = std::move(out.first);
  if (out.assertion) {
    reg.authenticator_data = std::move(out.assertion->authenticator_data);
    reg.signature = std::move(out.assertion->signature);
  }
  return reg;
}

Result<Discovered> discover(const DeviceOptions& options, const Interaction& interaction,
                            const std::string& client_data_json) {
  CONFER_TRY(Device d, open_device(options, interaction));
  CONFER_TRY_VOID(prepare_uv(d, interaction));
  AssertPtr a(fido_assert_new());
  if (!a) return make_error(Errc::internal, "out of memory (fido_assert_new)");
  bool ok = fido_assert_set_rp(a.get(), options.rp_id.c_str()) == FIDO_OK &&
            fido_assert_set_up(a.get(), FIDO_OPT_TRUE) == FIDO_OK &&
            (d.builtin_uv ? fido_assert_set_uv(a.get(), FIDO_OPT_TRUE) == FIDO_OK : true) &&
            fido_assert_set_clientdata(a.get(), reinterpret_cast<const unsigned char*>(client_data_json.data()),
                                       client_data_json.size()) == FIDO_OK;
  if (!ok) return make_error(Errc::internal, "libfido2 refused the assertion's parameters");
  if (interaction.notice) interaction.notice("touch your security key to sign in");
  int r = fido_dev_get_assert(d.dev.get(), a.get(), d.builtin_uv ? nullptr : pin_arg(d));
  if (r == FIDO_ERR_NO_CREDENTIALS)
    return key_error(fmt::format("this security key holds no confer credential for {} (enrol it first with confer "
                                 "keys add on a machine that has your history)",
                                 options.rp_id));
  if (r != FIDO_OK) return operation_error(d, r, "the security key did not sign in");
  if (fido_assert_count(a.get()) < 1) return key_error("the security key answered no assertion");
  if (!(fido_assert_flags(a.get(), 0) & kFlagUserVerified))
    return key_error("the security key did not verify you (no user-verified flag); refused");
  Discovered out;
  const uint8_t* id = fido_assert_id_ptr(a.get(), 0);
  out.credential_id.assign(id, id + fido_assert_id_len(a.get(), 0));
  CONFER_TRY(out.authenticator_data,
             unwrap_cbor_bytes(fido_assert_authdata_ptr(a.get(), 0), fido_assert_authdata_len(a.get(), 0)));
  const uint8_t* sig = fido_assert_sig_ptr(a.get(), 0);
  out.signature.assign(sig, sig + fido_assert_sig_len(a.get(), 0));
  if (out.credential_id.empty() || out.signature.empty()) return key_error("the security key's assertion is incomplete");
  return out;
}

Result<PrfOutput> prf(const DeviceOptions& options, const Interaction& interaction, ByteView credential_id,
                      ByteView input, std::optional<ByteView> second, const std::string* client_data_json) {
  CONFER_TRY(Device d, open_device(options, interaction));
  return assertion_prf(d, interaction, options.rp_id, credential_id, input, second, client_data_json);
}

}  // namespace confer::keys::fido
