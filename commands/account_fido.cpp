// Security keys as ways in (commands/account.hpp): a credential registered with
// hmac-secret, and its PRF with user verification, through lib/keys/fido.
#include <unistd.h>

#include <fmt/format.h>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "core/time.hpp"
#include "keys/fido.hpp"
#include "keys/hierarchy.hpp"

namespace confer::cli {

const char* const kWrongCredentialMarker = "not registered on this key";

namespace {

keys::fido::Interaction terminal_interaction() {
  keys::fido::Interaction i;
  i.read_pin = [](const std::string& prompt) { return read_secret_from_tty(prompt); };
  i.notice = [](const std::string& text) { print_note(text); };
  return i;
}

keys::fido::DeviceOptions device_options(const KeyFlags& flags, const std::string& rp_id) {
  keys::fido::DeviceOptions d;
  d.path = flags.device;
  d.rp_id = rp_id;
  d.timeout_ms = flags.timeout * 1000;
  return d;
}

}  // namespace

Result<NewWayIn> new_security_key(const KeyFlags& flags, const std::string& account_id,
                                  const std::string* client_data_json) {
  auto options = device_options(flags, flags.rp_id);
  NewWayIn w;
  w.credential.kind = "fido";
  w.credential.rp_id = flags.rp_id;
  w.credential.locator = options.path;
  w.credential.salt.resize(keys::kKeySize);
  CONFER_TRY_VOID(crypto::fill_random(w.credential.salt.data(), w.credential.salt.size()));
  w.credential.created = now_utc();
  auto user_id = from_hex(account_id);
  Bytes uid = user_id.ok() ? user_id.value() : Bytes(account_id.begin(), account_id.end());
  // makeCredential, then the PRF: proves hmac-secret works before anything depends on it.
  CONFER_TRY(keys::fido::Registration reg,
             keys::fido::register_credential(options, terminal_interaction(), uid,
                                             "confer " + account_id.substr(0, 8), w.credential.salt,
                                             client_data_json));
  w.credential.id = reg.credential_id;
  w.credential.public_key = reg.public_key;
  w.credential.algorithm = reg.algorithm;
  w.authenticator_data = std::move(reg.authenticator_data);
  w.signature = std::move(reg.signature);
  w.credential.locator = reg.path;
  w.credential.label = "security key (" + reg.device + ")";
  CONFER_TRY(w.kek, keys::derive_kek(reg.prf));
  return w;
}

Result<crypto::SecretBytes> security_key_prf(const store::Credential& c, const KeyFlags& flags, ByteView input,
                                             const std::string* client_data_json, std::pair<Bytes, Bytes>* signed_out) {
  auto options = device_options(flags, c.rp_id);
  // Without --device: where the key was enrolled, when that is still there (hidraw
  // numbers change with replugging), else the only key plugged in.
  bool hidraw = c.locator.rfind("/dev/", 0) == 0;
  if (options.path.empty() && !c.locator.empty() && (!hidraw || ::access(c.locator.c_str(), F_OK) == 0))
    options.path = c.locator;
  CONFER_TRY(keys::fido::PrfOutput out,
             keys::fido::prf(options, terminal_interaction(), c.id, input, std::nullopt, client_data_json));
  if (signed_out != nullptr && out.assertion)
    *signed_out = {std::move(out.assertion->authenticator_data), std::move(out.assertion->signature)};
  return keys::derive_kek(out.first);
}

Result<DiscoveredKey> discover_security_key(const KeyFlags& flags, const std::string& client_data_json) {
  auto options = device_options(flags, flags.rp_id);
  CONFER_TRY(keys::fido::Discovered d, keys::fido::discover(options, terminal_interaction(), client_data_json));
  return DiscoveredKey{std::move(d.credential_id), std::move(d.authenticator_data), std::move(d.signature)};
}

}  // namespace confer::cli
