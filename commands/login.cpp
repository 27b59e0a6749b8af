// confer login, logout, status: the account's key, one touch to open it, and the
// unlocked session scripts use.
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "commands/sync.hpp"
#include "commands/user_config.hpp"
#include "client/account.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "keys/fido.hpp"
#include "keys/session.hpp"

namespace confer::cli {

namespace {

struct LoginOptions {
  KeyFlags key;
  std::string server;
  TrustFlags trust;
  bool offline = false;
  bool local = false;
  bool register_ = false;
  bool list_devices = false;
  bool recovery = false;
  std::string remember;
};

Result<crypto::SecretBytes> copy_secret(const crypto::SecretBytes& s) {
  CONFER_TRY(crypto::SecretBytes out, crypto::SecretBytes::allocate(s.size()));
  if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
  return out;
}

int list_devices() {
  auto devices = keys::fido::list_devices();
  if (!devices) return fail(devices.error());
  if (devices->empty())
    return fail(make_error(Errc::key, "no security key found"),
                {"plug one in, or use a file authenticator: confer login --register --authenticator file:PATH"});
  for (const auto& d : *devices) std::printf("%s\t%s %s\n", d.path.c_str(), d.manufacturer.c_str(), d.product.c_str());
  return kExitOk;
}

Result<void> remember(store::HistoryStore& history, const store::Unlocked& keys, const std::string& label,
                      const std::string& duration) {
  CONFER_TRY(std::chrono::seconds ttl, keys::parse_duration(duration));
  keys::Session s;
  s.account_id = keys.account_id;
  s.credential_id = keys.credential_id;
  s.credential_label = label;
  s.expires = now_utc() + ttl.count();
  CONFER_TRY(s.root, copy_secret(keys.root));
  CONFER_TRY_VOID(keys::remember_session(history.path(), s));
  print_note(fmt::format("unlocked until {} with {} (confer logout locks it)", format_local_minutes(s.expires), label));
  return {};
}

int register_account(store::HistoryStore& history, const LoginOptions& o) {
  auto existing = history.account();
  if (!existing) return fail(existing.error());
  if (*existing)
    return fail(make_error(Errc::usage, fmt::format("this history has an account already ({})", (*existing)->id)),
                {"to enrol another key: confer login --remember 5m, then confer keys add"});
  Bytes raw(16);
  if (auto r = crypto::fill_random(raw.data(), raw.size()); !r) return fail(r.error());
  store::Account account{to_hex(raw), now_utc(), 1};
  // With a server (--server or the config's), the account is registered there too: the
  // touch that derives the history key also signs the server's challenge.
  std::optional<AccountSession> remote;
  std::optional<client::Challenge> challenge;
  std::string cdj;
  auto file = file_authenticator_path(o.key);
  if (!file) return fail(file.error());
  auto cfg = load_user_config();
  if (!cfg) return fail(cfg.error());
  bool with_server = !o.local && !*file && (!o.server.empty() || !cfg->server.empty());
  if (with_server) {
    int code = kExitOk;
    remote = open_account_session(o.server, o.trust, o.offline, code);
    if (!remote) return code;
    auto c = client::request_challenge(*remote->session.channel);
    if (!c) return fail(c.error());
    challenge = std::move(*c);
    cdj = challenge->client_data_json();
  }
  auto way = new_way_in(o.key, account.id, with_server ? &cdj : nullptr);
  if (!way) return fail(way.error());
  auto root = keys::random_key();
  if (!root) return fail(root.error());
  auto wrapped = keys::wrap_key(way->kek, *root, store::root_wrap_context(account.id, way->credential));
  if (!wrapped) return fail(wrapped.error());
  way->credential.wrapped_root = std::move(*wrapped);
  if (auto c = history.create_account(account, way->credential); !c) return fail(c.error());
  print_note(fmt::format("registered {}; history is on (account {})", way->credential.label, account.id));
  if (way->credential.kind == "file")
    print_warning("a file authenticator is weaker than a security key: whoever copies the file can guess the "
                  "passphrase offline");
  print_note("keep a way back in if this key is lost: confer keys add --recovery");
  auto keys = store::unlocked_from_root(account.id, way->credential.id, std::move(*root));
  if (!keys) return fail(keys.error());
  if (remote) {
    account::Assertion a{way->credential.id, cdj, way->authenticator_data, way->signature};
    auto report = register_with_server(history, *keys, way->credential, a, remote->session, remote->url.text());
    if (!report)
      return fail(report.error(), {"the account exists on this machine; register it later with confer sync --server URL"});
    print_note(fmt::format("registered with {}; confer sync keeps every machine's history the same", remote->url.text()));
  }
  if (!o.remember.empty())
    if (auto r = remember(history, *keys, way->credential.label, o.remember); !r) return fail(r.error());
  return kExitOk;
}

// A machine without the history: sign in with a security key enrolled on another
// machine (a discoverable credential), fetch its way in, open the root key with a
// second touch, and pull the history.
int join_account(const LoginOptions& o) {
  int code = kExitOk;
  auto remote = open_account_session(o.server, o.trust, o.offline, code);
  if (!remote) return code;
  auto challenge = client::request_challenge(*remote->session.channel);
  if (!challenge) return fail(challenge.error());
  std::string cdj = challenge->client_data_json();
  auto found = discover_security_key(o.key, cdj);
  if (!found) return fail(found.error());
  auto in = client::login_with_assertion(*remote->session.channel,
                                         {found->credential_id, cdj, found->authenticator_data, found->signature});
  if (!in) return fail(in.error());
  if (!in->wrap) return fail(make_error(Errc::protocol, "the server signed in this key but returned no way in for it"));
  auto credential = decode_way_in(*in->wrap, found->credential_id);
  if (!credential) return fail(credential.error());
  credential->locator = o.key.device;
  print_note("signed in; once more to open the history key");
  auto kek = security_key_prf(*credential, o.key, credential->salt);
  if (!kek) return fail(kek.error());
  auto root = keys::unwrap_key(*kek, credential->wrapped_root, store::root_wrap_context(in->account, *credential));
  if (!root) return fail(make_error(Errc::key, "this security key does not open the account's key: " + root.error().message));
  auto history = open_history(true);
  if (!history) return fail(history.error());
  if (auto c = (**history).create_account({in->account, now_utc(), 1}, *credential); !c) return fail(c.error());
  auto keys = store::unlocked_from_root(in->account, credential->id, std::move(*root));
  if (!keys) return fail(keys.error());
  Bytes device(8);
  if (auto r = crypto::fill_random(device.data(), device.size()); !r) return fail(r.error());
  if (auto r = (**history).enable_sync({remote->url.text(), to_hex(device)}); !r) return fail(r.error());
  auto sync_remote = sync::channel_remote(*remote->session.channel);
  auto report = sync::run(**history, *keys, *sync_remote);
  if (!report) return fail(report.error());
  print_note(fmt::format("joined account {} with {}; {}", in->account, credential->label, describe(*report)));
  if (!o.remember.empty())
    if (auto r = remember(**history, *keys, credential->label, o.remember); !r) return fail(r.error());
  return kExitOk;
}

int login(const LoginOptions& o) {
  if (o.list_devices) return list_devices();
  if (!o.remember.empty())
    if (auto d = keys::parse_duration(o.remember); !d) {
      Error e = d.error();
      if (e.message.rfind("duration: ", 0) == 0) e.message.erase(0, 10);
      return fail(for_option("--remember", std::move(e)));
    }
  auto history = open_history(o.register_);
  if (!history) return fail(history.error());
  if (o.register_) return register_account(**history, o);
  auto account = *history ? (*history)->account() : Result<std::optional<store::Account>>(std::nullopt);
  if (!account) return fail(account.error());
  if (!*account && !o.server.empty()) return join_account(o);
  if (!*account)
    return fail(make_error(Errc::key, "no account on this machine yet"),
                {"create one with your security key: confer login --register",
                 "your account is on a server already: confer login --server URL (with a key enrolled there)",
                 "without a security key: confer login --register --authenticator file:PATH"});
  auto keys = unlock_interactively(**history, o.key, o.recovery);
  if (!keys) return fail(keys.error());
  std::string label = way_in_label(**history, *keys);
  if (!o.remember.empty()) {
    if (auto r = remember(**history, *keys, label, o.remember); !r) return fail(r.error());
  } else {
    print_note(fmt::format("{} opens this history; nothing was kept unlocked (--remember 15m keeps it for scripts)",
                           label));
  }
  if (o.recovery) print_note("recovered: enrol a new key now with confer keys add, and a new code with --recovery");
  return kExitOk;
}

int logout() {
  auto dropped = keys::forget_session(store::HistoryStore::default_path());
  if (!dropped) return fail(dropped.error());
  print_note(*dropped ? "locked: the session key is gone from the kernel keyring" : "already locked");
  return kExitOk;
}

int status(bool as_json) {
  if (as_json) set_json_errors(true);
  auto history = open_history(false);
  if (!history) return fail(history.error());
  nlohmann::json j = {{"history", store::HistoryStore::default_path()}, {"account", nullptr}, {"ways_in", 0},
                      {"conversations", 0}, {"unlocked", false}, {"until", nullptr}, {"credential", nullptr}};
  std::optional<keys::Session> session;
  if (*history) {
    auto account = (*history)->account();
    auto ways = (*history)->credentials();
    auto s = keys::recall_session((*history)->path());
    if (!account || !ways || !s) return fail(!account ? account.error() : !ways ? ways.error() : s.error());
    if (*account) j["account"] = (*account)->id;
    j["ways_in"] = ways->size();
    auto count = (*history)->database().prepare("SELECT COUNT(*) FROM conversations");
    if (count && count->step().ok()) j["conversations"] = count->column_int(0);
    if (*s && *account && (*s)->account_id == (*account)->id) session = std::move(*s);
  }
  if (session) {
    j["unlocked"] = true;
    j["until"] = format_rfc3339(session->expires);
    j["credential"] = session->credential_label;
  }
  if (as_json) {
    std::printf("%s\n", dump_json(j).c_str());
    return kExitOk;
  }
  std::printf("history   %s%s\n", store::HistoryStore::default_path().c_str(), *history ? "" : " (none yet)");
  if (j["account"].is_null()) {
    std::printf("account   none (confer login --register creates one)\n");
    return kExitOk;
  }
  std::printf("account   %s, %d way(s) in, %lld conversation(s)\n", j["account"].get<std::string>().c_str(),
              j["ways_in"].get<int>(), static_cast<long long>(j["conversations"].get<int64_t>()));
  if (session)
    std::printf("session   unlocked until %s (%lld min left) with %s\n", format_local_minutes(session->expires).c_str(),
                static_cast<long long>((session->expires - now_utc() + 59) / 60), session->credential_label.c_str());
  else
    std::printf("session   locked (confer login --remember 15m unlocks it for scripts)\n");
  return kExitOk;
}

}  // namespace

Handler setup_login(CLI::App& app) {
  auto o = std::make_shared<LoginOptions>();
  app.add_flag("--register", o->register_, "Create the account: register a credential on the security key");
  app.add_flag("--list-devices", o->list_devices, "List the security keys plugged in");
  app.add_flag("--recovery", o->recovery, "Open the history with the recovery code instead of a key");
  app.add_option("--remember", o->remember, "Keep the history unlocked for scripts, e.g. 15m (at most 24h)");
  app.add_option("--server", o->server,
                 "confer-server to register the account with (--register), or to join from a new machine "
                 "(default for --register: the config's)");
  app.add_flag("--local", o->local, "With --register: keep the account on this machine only, even if a server is configured");
  app.add_flag("--offline", o->offline, "Never fetch collateral (AMD's VCEK, Intel's TDX collateral): it must come with the evidence or the cache");
  declare_trust_flags(app, o->trust);
  declare_key_flags(app, o->key, true);
  return [o] { return login(*o); };
}

Handler setup_logout(CLI::App& /*app: no options*/) {
  return [] { return logout(); };
}

Handler setup_status(CLI::App& app) {
  auto as_json = std::make_shared<bool>(false);
  app.add_flag("--json", *as_json, "One JSON object on stdout");
  return [as_json] { return status(*as_json); };
}

}  // namespace confer::cli
