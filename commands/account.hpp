// What login, keys, history and chat share: the history store, the ways in (a security
// key, a file authenticator, the recovery code), secrets read from the terminal, and
// unlocking the root key (from the session, or with one touch).
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "crypto/secret.hpp"
#include "keys/file_authenticator.hpp"
#include "store/history.hpp"

namespace confer::cli {

// Where a way in comes from: --device/--rp-id for a security key, --authenticator
// file:PATH with --passphrase-file for a file authenticator.
struct KeyFlags {
  std::string device;
  std::string rp_id = "confer.to";
  std::string authenticator;  // "" or "file:PATH"
  std::string passphrase_file;
  int timeout = 30;  // seconds to wait for a touch
  // The file authenticator's Argon2id parameters when one is created.
  unsigned long long argon2_ops = keys::Argon2Params{}.opslimit;
  size_t argon2_mib = keys::Argon2Params{}.memlimit >> 20;
};
void declare_key_flags(CLI::App& app, KeyFlags& flags, bool creating);

// The file path of --authenticator file:PATH, or nullopt for a security key. Errc::usage
// for any other scheme.
Result<std::optional<std::string>> file_authenticator_path(const KeyFlags& flags);

// A secret typed on /dev/tty with echo off (never from the command line or the
// environment). Errc::key when there is no terminal to ask on.
Result<crypto::SecretBytes> read_secret_from_tty(const std::string& prompt);
// The passphrase: --passphrase-file (its first line), else the terminal.
Result<crypto::SecretBytes> read_passphrase(const KeyFlags& flags, const std::string& prompt);

// The history store at its default path. `create` false: nullopt when there is none yet.
Result<std::optional<store::HistoryStore>> open_history(bool create);

// A new way in under `flags` (registering a credential on the key, or creating the
// authenticator file), its PRF input drawn and its kek derived; `wrapped_root` is left
// for the caller. Defined per kind in account_fido.cpp and account.cpp.
struct NewWayIn {
  store::Credential credential;
  crypto::SecretBytes kek;
  // A security key given a clientDataJSON: its PRF assertion signed it too.
  Bytes authenticator_data, signature;
};
Result<NewWayIn> new_way_in(const KeyFlags& flags, const std::string& account_id,
                            const std::string* client_data_json = nullptr);
// The kek of an enrolled way in for `input` (its stored PRF input, or a new one while
// rotating): a touch, or the file authenticator's passphrase. Not for recovery.
Result<crypto::SecretBytes> way_in_kek(const store::Credential& credential, const KeyFlags& flags, ByteView input);
// Security keys only (account_fido.cpp). An error whose message holds
// kWrongCredentialMarker means the key does not hold that credential.
extern const char* const kWrongCredentialMarker;
Result<NewWayIn> new_security_key(const KeyFlags& flags, const std::string& account_id,
                                  const std::string* client_data_json = nullptr);
// With `client_data_json`, the same touch signs it: `signed_out` gets the authenticator
// data and the signature.
Result<crypto::SecretBytes> security_key_prf(const store::Credential& credential, const KeyFlags& flags,
                                             ByteView input, const std::string* client_data_json = nullptr,
                                             std::pair<Bytes, Bytes>* signed_out = nullptr);
// A new machine signing in with a security key enrolled elsewhere: no allow list.
struct DiscoveredKey {
  Bytes credential_id, authenticator_data, signature;
};
Result<DiscoveredKey> discover_security_key(const KeyFlags& flags, const std::string& client_data_json);

// A new recovery way in: its code (shown once by the caller) and its kek.
struct NewRecovery {
  store::Credential credential;
  crypto::SecretBytes kek;
  std::string code;
};
Result<NewRecovery> new_recovery(const KeyFlags& flags);
// The recovery code: standard input when it is not a terminal, else typed on /dev/tty.
Result<crypto::SecretBytes> recovery_kek_from_user(const store::Credential& recovery);

// The root key from the kernel session, if one is live for this store's account.
Result<std::optional<store::Unlocked>> unlock_from_session(store::HistoryStore& history);
// The root key with the user's help: the way in --authenticator names, or the
// registered security keys (one touch), or --recovery's code.
Result<store::Unlocked> unlock_interactively(store::HistoryStore& history, const KeyFlags& flags,
                                             bool recovery = false);
// For commands that read or write the history: the session's key, else (when `ask` and
// there is a terminal) one touch, else Errc::key saying the key is locked.
Result<store::Unlocked> unlock_for_use(store::HistoryStore& history, const KeyFlags& flags, bool ask);
bool can_ask_user();

// The label of the way in that opened `keys`.
std::string way_in_label(store::HistoryStore& history, const store::Unlocked& keys);

// "2026-12-02 23:15" in local time.

}  // namespace confer::cli
