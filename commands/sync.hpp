// Accounts on a server and sync, for the commands that reach them: confer sync, login
// (--register with a server; a new machine joining), keys add, and chat after a turn.
#pragma once

#include <optional>
#include <string>

#include "client/session.hpp"
#include "account/webauthn.hpp"
#include "commands/account.hpp"
#include "commands/trust_flags.hpp"
#include "sync/engine.hpp"

namespace confer::cli {

// A way in as the server keeps it for other machines: opaque to the server (the wrap is
// under the way in's kek), so a new machine can open the root key after signing in.
Bytes encode_way_in(const store::Credential& credential);
Result<store::Credential> decode_way_in(ByteView blob, ByteView credential_id);

// Registers the account with the server behind `session`, with `credential` (which
// signed `assertion` over the session's challenge), turns sync on and pushes everything.
Result<sync::Report> register_with_server(store::HistoryStore& history, const store::Unlocked& keys,
                                          const store::Credential& credential, const confer::account::Assertion& assertion,
                                          client::AttestedSession& session, const std::string& server_url);
// Signs in with the account's auth key (no touch) and syncs. `progress` draws on stderr.
Result<sync::Report> sync_over(store::HistoryStore& history, const store::Unlocked& keys,
                               client::AttestedSession& session, bool progress);
// An attested session to the account's server, verified as chat verifies it: the
// server from `server`, else the history's, else the config's; trust from `flags` with
// the config's defaults. On failure the reason is printed and `exit_code` set.
struct AccountSession {
  transport::ServerUrl url;
  client::AttestedSession session;
};
std::optional<AccountSession> open_account_session(std::string server, TrustFlags flags, bool offline, int& exit_code);

// One line for the terminal: "synced: 3 pulled, 2 pushed (change 41)".
std::string describe(const sync::Report& r);

}  // namespace confer::cli
