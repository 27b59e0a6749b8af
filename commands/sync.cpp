// confer sync: the same history on every machine the account logs in from, through the
// attested server, which holds only ciphertext (docs/sync.md).
#include "commands/sync.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "account/auth_key.hpp"
#include "client/account.hpp"
#include "commands/common.hpp"
#include "commands/trust_flags.hpp"
#include "commands/user_config.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "sync/remote.hpp"

namespace confer::cli {

namespace wa = confer::account;
using nlohmann::json;

Bytes encode_way_in(const store::Credential& c) {
  json j = {{"v", 1},
            {"kind", c.kind},
            {"rp_id", c.rp_id},
            {"prf_input", wa::base64url(c.salt)},
            {"wrapped_root", wa::base64url(c.wrapped_root)},
            {"algorithm", c.algorithm},
            {"public_key", wa::base64url(c.public_key)},
            {"created", c.created}};
  std::string text = dump_json(j);
  return Bytes(text.begin(), text.end());
}

Result<store::Credential> decode_way_in(ByteView blob, ByteView credential_id) {
  auto bad = [] { return make_error(Errc::protocol, "the server's record of this security key is malformed"); };
  auto j = parse_json(blob, "way in", JsonLimits{8192, 4}, Errc::protocol);
  if (!j || !j->is_object()) return bad();
  store::Credential c;
  c.id.assign(credential_id.begin(), credential_id.end());
  auto text = [&](const char* k) { const json* v = json_detail::member(*j, k); return v && v->is_string() ? v->get<std::string>() : std::string(); };
  c.kind = text("kind");
  c.label = "security key (enrolled on another machine)";
  c.rp_id = text("rp_id");
  auto salt = wa::from_base64url(text("prf_input"));
  auto wrapped = wa::from_base64url(text("wrapped_root"));
  auto pk = wa::from_base64url(text("public_key"));
  if (c.kind != "fido" || !salt || salt->size() != 32 || !wrapped || !pk) return bad();
  c.salt = std::move(*salt);
  c.wrapped_root = std::move(*wrapped);
  c.public_key = std::move(*pk);
  const json* alg = json_detail::member(*j, "algorithm");
  c.algorithm = alg && alg->is_number_integer() ? alg->get<int64_t>() : wa::kCoseEs256;
  const json* created = json_detail::member(*j, "created");
  c.created = created && created->is_number_integer() ? created->get<int64_t>() : now_utc();
  return c;
}

namespace {

std::string random_device_id() {
  Bytes raw(8);
  if (!crypto::fill_random(raw.data(), raw.size())) return "device";
  return to_hex(raw);
}

void draw(const sync::Progress& p) {
  if (p.total <= 0) return;
  int width = 30;
  int filled = int(width * std::min<int64_t>(p.done, p.total) / p.total);
  std::fprintf(stderr, "\r%s %s%s %lld/%lld", std::string_view(p.phase) == "pull" ? "pulling" : "pushing",
               std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
               static_cast<long long>(p.done), static_cast<long long>(p.total));
  std::fflush(stderr);
}

}  // namespace

std::string describe(const sync::Report& r) {
  return fmt::format("synced: {} pulled, {} pushed{} (change {}{})", r.pulled, r.pushed,
                     r.conflicts ? fmt::format(", {} merged after a conflict", r.conflicts) : "", r.cursor,
                     r.devices ? fmt::format(", {} other device(s) checked", r.devices) : "");
}

Result<sync::Report> sync_over(store::HistoryStore& history, const store::Unlocked& keys,
                               client::AttestedSession& session, bool progress) {
  CONFER_TRY(auto auth, wa::auth_key_pair(keys.root));
  CONFER_TRY(auto in, client::login_with_auth_key(*session.channel, keys.account_id, auth));
  (void)in;
  auto remote = sync::channel_remote(*session.channel);
  bool bar = progress && ::isatty(2) == 1;
  auto result = sync::run(history, keys, *remote, bar ? std::function<void(const sync::Progress&)>(draw) : nullptr);
  if (bar) std::fprintf(stderr, "\r%60s\r", "");
  return result;
}

Result<sync::Report> register_with_server(store::HistoryStore& history, const store::Unlocked& keys,
                                          const store::Credential& credential, const wa::Assertion& assertion,
                                          client::AttestedSession& session, const std::string& server_url) {
  if (credential.public_key.empty())
    return make_error(Errc::usage, credential.label + " was enrolled before confer kept public keys; enrol a key "
                                                      "again with confer keys add to register with a server");
  CONFER_TRY(auto auth, wa::auth_key_pair(keys.root));
  client::NewCredential nc{credential.id, credential.algorithm, credential.public_key, encode_way_in(credential)};
  CONFER_TRY(auto in, client::register_account(*session.channel, keys.account_id, auth.public_key, nc, assertion));
  (void)in;
  CONFER_TRY_VOID(history.enable_sync({server_url, random_device_id()}));
  auto remote = sync::channel_remote(*session.channel);
  return sync::run(history, keys, *remote);
}

std::optional<AccountSession> open_account_session(std::string server, TrustFlags flags, bool offline, int& exit_code) {
  auto cfg = load_user_config();
  if (!cfg) {
    exit_code = fail(cfg.error());
    return std::nullopt;
  }
  apply_config_defaults(flags, *cfg);
  if (server.empty()) server = cfg->server;
  auto url = configured_server(server);
  if (!url) {
    exit_code = fail(url.error(), {"name the server with --server, or server = \"...\" in config.toml"});
    return std::nullopt;
  }
  auto trust = build_trust(flags);
  if (!trust) {
    exit_code = fail(trust.error());
    return std::nullopt;
  }
  trust->offline = offline;
  set_collateral_locations(*trust);
  attest::Verification refused;
  auto session = client::open_attested_session(*url, *trust, &refused);
  if (!session) {
    exit_code = fail_session(session.error(), refused, *url, trust->require_fresh);
    return std::nullopt;
  }
  if (session->verification.development_root())
    print_warning(std::string("the server's evidence chains to a development root, NOT to ") +
                  (session->verification.tdx ? "Intel" : "AMD"));
  return AccountSession{*url, std::move(*session)};
}

namespace {

struct SyncOptions {
  std::string server;
  TrustFlags trust;
  KeyFlags key;
  bool json = false;
  bool offline = false;
};

int run(SyncOptions o) {
  if (o.json) set_json_errors(true);
  auto history = open_history(false);
  if (!history) return fail(history.error());
  std::optional<store::Account> account;
  if (*history) {
    auto a = (*history)->account();
    if (!a) return fail(a.error());
    account = *a;
  }
  if (!account)
    return fail(make_error(Errc::key, "no account on this machine yet"),
                {"on your first machine: confer login --register --server URL",
                 "on another machine, with a security key enrolled on the first: confer login --server URL"});
  auto settings = (*history)->sync_settings();
  if (!settings) return fail(settings.error());
  if (o.server.empty() && *settings) o.server = (*settings)->server;
  int code = kExitOk;
  auto opened = open_account_session(o.server, o.trust, o.offline, code);
  if (!opened) return code;
  if (*settings && opened->url.text() != (*settings)->server)
    return fail(make_error(Errc::usage, fmt::format("this history syncs with {}, not {}", (*settings)->server,
                                                    opened->url.text())));
  auto* url = &opened->url;
  auto* session = &opened->session;
  Result<sync::Report> report = make_error(Errc::internal, "");
  if (!*settings) {
    // First sync of this account: register it, signing the challenge with the touch that opens the history.
    auto creds = (*history)->credentials();
    if (!creds) return fail(creds.error());
    const store::Credential* key = nullptr;
    for (const auto& c : *creds)
      if (c.kind == "fido" && !c.public_key.empty()) key = &c;
    if (key == nullptr)
      return fail(make_error(Errc::usage, "registering with a server needs a security key whose public key this "
                                          "history kept"),
                  {"enrol one with confer keys add --device PATH (file authenticators and recovery codes cannot sign in)"});
    auto challenge = client::request_challenge(*session->channel);
    if (!challenge) return fail(challenge.error());
    std::string cdj = challenge->client_data_json();
    std::pair<Bytes, Bytes> signed_pair;
    auto kek = security_key_prf(*key, o.key, key->salt, &cdj, &signed_pair);
    if (!kek) return fail(kek.error());
    auto keys = (*history)->unlock(*key, *kek);
    if (!keys) return fail(keys.error());
    wa::Assertion a{key->id, cdj, signed_pair.first, signed_pair.second};
    report = register_with_server(**history, *keys, *key, a, *session, url->text());
    if (report) print_note(fmt::format("account {} registered with {}", keys->account_id, url->text()));
  } else {
    auto keys = unlock_for_use(**history, o.key, can_ask_user());
    if (!keys) return fail(keys.error(), {"unlock it for scripts: confer login --remember 15m"});
    report = sync_over(**history, *keys, *session, !o.json);
  }
  if (!report) return fail(report.error());
  if (o.json) {
    std::printf("%s\n", dump_json(json{{"type", "sync"}, {"pulled", report->pulled}, {"pushed", report->pushed},
                                       {"conflicts", report->conflicts}, {"cursor", report->cursor},
                                       {"devices", report->devices}, {"bytes_down", report->bytes_down},
                                       {"bytes_up", report->bytes_up}})
                            .c_str());
  } else {
    print_note(describe(*report));
  }
  return kExitOk;
}

}  // namespace

Handler setup_sync(CLI::App& app) {
  auto o = std::make_shared<SyncOptions>();
  app.add_option("--server", o->server, "ws://, wss://, http:// or https:// URL of confer-server (default: the one "
                                        "this history syncs with, else the config's)");
  declare_trust_flags(app, o->trust);
  declare_key_flags(app, o->key, false);
  app.add_flag("--json", o->json, "One JSON summary on stdout");
  app.add_flag("--offline", o->offline, "Never fetch collateral (AMD's VCEK, Intel's TDX collateral): it must come with the evidence or the cache");
  return [o] { return run(*o); };
}

}  // namespace confer::cli
