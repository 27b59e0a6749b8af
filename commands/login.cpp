// confer login, logout, status: the account's key, one touch to open it, and the
// unlocked session scripts use.
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "keys/fido.hpp"
#include "keys/session.hpp"

namespace confer::cli {

namespace {

struct LoginOptions {
  KeyFlags key;
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
  auto way = new_way_in(o.key, account.id);
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
  if (!o.remember.empty()) {
    auto keys = store::unlocked_from_root(account.id, way->credential.id, std::move(*root));
    if (!keys) return fail(keys.error());
    if (auto r = remember(history, *keys, way->credential.label, o.remember); !r) return fail(r.error());
  }
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
  if (!*account)
    return fail(make_error(Errc::key, "no account on this machine yet"),
                {"create one with your security key: confer login --register",
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
