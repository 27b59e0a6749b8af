// confer keys list|add|remove|rotate: the ways into the history (security keys, file
// authenticators, the recovery code) and the root key's rotation.
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "commands/sync.hpp"
#include "client/account.hpp"
#include "account/auth_key.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "keys/session.hpp"

namespace confer::cli {

namespace {

struct KeysOptions {
  KeyFlags key;
  bool json = false;
  bool recovery = false;
  std::string id;
};

std::string short_id(const Bytes& id) { return to_hex(id).substr(0, 12); }

// The history and its root key, from the live session: changing the ways in needs it.
Result<std::pair<store::HistoryStore, store::Unlocked>> unlocked_history(const char* why) {
  CONFER_TRY(auto history, open_history(false));
  if (!history) return make_error(Errc::key, "no account on this machine yet (confer login --register creates one)");
  CONFER_TRY(auto account, history->account());
  if (!account) return make_error(Errc::key, "no account on this machine yet (confer login --register creates one)");
  CONFER_TRY(auto keys, unlock_from_session(*history));
  if (!keys)
    return make_error(Errc::key, fmt::format("{} needs the history unlocked: run confer login --remember 5m first",
                                             why));
  return std::pair(std::move(*history), std::move(*keys));
}

int list(const KeysOptions& o) {
  if (o.json) set_json_errors(true);
  auto history = open_history(false);
  if (!history) return fail(history.error());
  std::vector<store::Credential> all;
  if (*history) {
    auto c = (*history)->credentials();
    if (!c) return fail(c.error());
    all = std::move(*c);
  }
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : all)
      out.push_back({{"id", to_hex(c.id)}, {"kind", c.kind}, {"label", c.label}, {"rp_id", c.rp_id},
                     {"created", format_rfc3339(c.created)}});
    std::printf("%s\n", dump_json(out).c_str());
    return kExitOk;
  }
  if (all.empty()) {
    print_note("no ways in: confer login --register creates the account");
    return kExitOk;
  }
  for (const auto& c : all)
    std::printf("%-12s  %-8s  %s  %s\n", short_id(c.id).c_str(), c.kind.c_str(), format_local_minutes(c.created).c_str(),
                c.label.c_str());
  return kExitOk;
}

Result<void> add_recovery(store::HistoryStore& history, const store::Unlocked& keys, const KeyFlags& flags) {
  CONFER_TRY(std::vector<store::Credential> before, history.credentials());
  CONFER_TRY(NewRecovery r, new_recovery(flags));
  CONFER_TRY(r.credential.wrapped_root,
             keys::wrap_key(r.kek, keys.root, store::root_wrap_context(keys.account_id, r.credential)));
  CONFER_TRY_VOID(history.add_credential(r.credential));
  for (const auto& c : before)
    if (c.kind == "recovery") CONFER_TRY_VOID(history.remove_credential(c.id));
  print_note("your recovery code, shown this once: write it down and keep it apart from your keys");
  std::printf("%s\n", r.code.c_str());
  std::fflush(stdout);
  if (before.size() != 0)
    for (const auto& c : before)
      if (c.kind == "recovery") print_note("the previous recovery code no longer opens anything");
  return {};
}

int add(const KeysOptions& o) {
  if (o.recovery && (!o.key.authenticator.empty() || !o.key.device.empty()))
    return fail(make_error(Errc::usage, "keys add --recovery makes a recovery code; --authenticator and --device "
                                        "name another kind of way in"),
                {"add them one at a time: confer keys add --recovery, then confer keys add --device PATH"});
  auto unlocked = unlocked_history("adding a way in");
  if (!unlocked) return fail(unlocked.error());
  auto& [history, keys] = *unlocked;
  if (o.recovery) {
    if (auto r = add_recovery(history, keys, o.key); !r) return fail(r.error());
    return kExitOk;
  }
  // A synced account enrols the key with its server too, so another machine can sign in
  // with it: the touch that derives its key also signs the server's challenge.
  auto settings = history.sync_settings();
  if (!settings) return fail(settings.error());
  auto file = file_authenticator_path(o.key);
  if (!file) return fail(file.error());
  std::optional<AccountSession> remote;
  std::string cdj;
  if (*settings && !*file) {
    int code = kExitOk;
    remote = open_account_session((*settings)->server, TrustFlags{}, false, code);
    if (!remote) return code;
    auto auth = account::auth_key_pair(keys.root);
    if (!auth) return fail(auth.error());
    auto in = client::login_with_auth_key(*remote->session.channel, keys.account_id, *auth);
    if (!in) return fail(in.error());
    auto challenge = client::request_challenge(*remote->session.channel);
    if (!challenge) return fail(challenge.error());
    cdj = challenge->client_data_json();
  }
  auto way = new_way_in(o.key, keys.account_id, remote ? &cdj : nullptr);
  if (!way) return fail(way.error());
  auto wrapped = keys::wrap_key(way->kek, keys.root, store::root_wrap_context(keys.account_id, way->credential));
  if (!wrapped) return fail(wrapped.error());
  way->credential.wrapped_root = std::move(*wrapped);
  if (remote) {
    client::NewCredential nc{way->credential.id, way->credential.algorithm, way->credential.public_key,
                             encode_way_in(way->credential)};
    account::Assertion a{way->credential.id, cdj, way->authenticator_data, way->signature};
    if (auto r = client::add_credential(*remote->session.channel, nc, a); !r) return fail(r.error());
  }
  if (auto r = history.add_credential(way->credential); !r) return fail(r.error());
  print_note(fmt::format("added {} ({}){}", way->credential.label, short_id(way->credential.id),
                         remote ? "; enrolled with " + remote->url.text() + ", so another machine can sign in with it"
                                : ""));
  return kExitOk;
}

int remove(const KeysOptions& o) {
  auto history = open_history(false);
  if (!history) return fail(history.error());
  if (!*history) return fail(make_error(Errc::key, "no account on this machine yet (confer login --register creates one)"));
  auto all = (*history)->credentials();
  if (!all) return fail(all.error());
  std::vector<const store::Credential*> matches;
  for (const auto& c : *all)
    if (!o.id.empty() && to_hex(c.id).rfind(o.id, 0) == 0) matches.push_back(&c);
  if (matches.size() != 1)
    return fail(make_error(Errc::usage, fmt::format("expected the id (or a unique prefix) of one way in, saw '{}' "
                                                    "matching {}",
                                                    o.id, matches.size())),
                {"confer keys list shows them"});
  const store::Credential& c = *matches[0];
  if (auto r = (*history)->remove_credential(c.id); !r) return fail(r.error());
  print_note(fmt::format("removed {}: it no longer opens this history", c.label));
  return kExitOk;
}

// A way in's kek; for a security key that is not the one plugged in, asks (on a
// terminal) for it to be plugged in, up to three times.
Result<crypto::SecretBytes> kek_of_present_key(const store::Credential& c, const KeyFlags& flags, ByteView input) {
  for (int attempt = 1;; ++attempt) {
    auto kek = way_in_kek(c, flags, input);
    if (kek || c.kind != "fido" || attempt == 3 || !flags.device.empty() || !can_ask_user()) return kek;
    const std::string& m = kek.error().message;
    if (m.find(kWrongCredentialMarker) == std::string::npos && m.find("no security key found") == std::string::npos)
      return kek;
    print_error(m);
    CONFER_TRY(crypto::SecretBytes ignored,
               read_secret_from_tty(fmt::format("Plug in {} ({}) alone and press Enter: ", c.label, short_id(c.id))));
  }
}

Result<std::vector<store::Credential>> new_wraps(store::HistoryStore& history, const store::Unlocked& next,
                                                 const KeyFlags& flags, std::string& recovery_code) {
  CONFER_TRY(std::vector<store::Credential> all, history.credentials());
  std::vector<store::Credential> out;
  for (store::Credential c : all) {
    crypto::SecretBytes kek;
    if (c.kind == "recovery") {
      CONFER_TRY(NewRecovery r, new_recovery(flags));
      recovery_code = r.code;
      c = std::move(r.credential);
      kek = std::move(r.kek);
    } else {
      print_note(fmt::format("rewrapping for {} ({})", c.label, short_id(c.id)));
      Bytes input(keys::kKeySize);
      CONFER_TRY_VOID(crypto::fill_random(input.data(), input.size()));
      CONFER_TRY(kek, kek_of_present_key(c, flags, input));
      c.salt = std::move(input);
    }
    CONFER_TRY(c.wrapped_root, keys::wrap_key(kek, next.root, store::root_wrap_context(next.account_id, c)));
    out.push_back(std::move(c));
  }
  return out;
}

int rotate(const KeysOptions& o) {
  auto unlocked = unlocked_history("rotating the key");
  if (!unlocked) return fail(unlocked.error());
  auto& [history, current] = *unlocked;
  auto root = keys::random_key();
  if (!root) return fail(root.error());
  auto next = store::unlocked_from_root(current.account_id, current.credential_id, std::move(*root));
  if (!next) return fail(next.error());
  std::string recovery_code;
  auto wraps = new_wraps(history, *next, o.key, recovery_code);
  if (!wraps) return fail(wraps.error(), {"nothing was changed; every way in must be present to rotate (or remove "
                                          "the missing one first: confer keys remove ID)"});
  if (auto r = history.rotate(current, *next, *wraps); !r) return fail(r.error(), {"nothing was changed"});
  // The session now holds the new key, for the time it had left.
  if (auto s = keys::recall_session(history.path()); s && *s) {
    keys::Session fresh;
    fresh.account_id = next->account_id;
    fresh.credential_id = (*s)->credential_id;
    fresh.credential_label = (*s)->credential_label;
    fresh.expires = (*s)->expires;
    auto copy = crypto::SecretBytes::allocate(keys::kKeySize);
    if (copy) {
      std::memcpy(copy->data(), next->root.data(), keys::kKeySize);
      fresh.root = std::move(*copy);
      if (auto r = keys::remember_session(history.path(), fresh); !r) (void)keys::forget_session(history.path());
    }
  }
  print_note(fmt::format("rotated: a new root key for {} way(s) in; every data key rewrapped and the old wraps "
                         "destroyed",
                         wraps->size()));
  if (!recovery_code.empty()) {
    print_note("your NEW recovery code (the old one no longer works), shown this once:");
    std::printf("%s\n", recovery_code.c_str());
  }
  return kExitOk;
}

}  // namespace

Handler setup_keys(CLI::App& app) {
  auto o = std::make_shared<KeysOptions>();
  app.require_subcommand(1, 1);
  CLI::App* l = app.add_subcommand("list", "List the ways into the history");
  l->add_flag("--json", o->json, "A JSON array on stdout");
  CLI::App* a = app.add_subcommand("add", "Enrol another security key, a file authenticator, or a recovery code");
  a->add_flag("--recovery", o->recovery, "Print a new recovery code (once) that opens the history without a key");
  declare_key_flags(*a, o->key, true);
  CLI::App* r = app.add_subcommand("remove", "Remove a way in (never the last one)");
  r->add_option("id", o->id, "Its id, or a unique prefix (confer keys list)")->required();
  CLI::App* rot = app.add_subcommand("rotate", "A new root key: every way in and data key rewrapped");
  declare_key_flags(*rot, o->key, true);
  return [o, l, a, r, rot] {
    if (l->parsed()) return list(*o);
    if (a->parsed()) return add(*o);
    if (r->parsed()) return remove(*o);
    if (rot->parsed()) return rotate(*o);
    return int(kExitUsage);
  };
}

}  // namespace confer::cli
