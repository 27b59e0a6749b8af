// confer models: the models the attested server offers (its upstream's list, proxied
// through the verified channel), one per line or as JSON.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chat/protocol.hpp"
#include "client/session.hpp"
#include "commands/common.hpp"
#include "commands/trust_flags.hpp"
#include "commands/user_config.hpp"
#include "core/json.hpp"
#include "transport/client.hpp"

namespace confer::cli {

namespace {

struct ModelsOptions {
  std::string server;
  TrustFlags trust;
  bool json = false;
  bool offline = false;
  int timeout = 30;
};

Result<std::vector<std::string>> ask_models(transport::ClientChannel& channel, int timeout_s) {
  transport::Request req;
  req.id = transport::random_id();
  req.verb = "GET";
  req.path = std::string(chat::kModelsPath);
  channel.send(req);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    CONFER_TRY(auto next, channel.next(std::chrono::milliseconds(100)));
    if (!next || next->id != req.id) continue;
    std::string body(next->body.begin(), next->body.end());
    if (next->status != 200)
      return make_error(Errc::protocol, fmt::format("the server could not list models: {} {}", next->status, body));
    CONFER_TRY(nlohmann::json doc, parse_json(body, "model list", JsonLimits{1u << 20, 16}, Errc::protocol));
    std::vector<std::string> ids;
    if (doc.is_object() && doc.contains("data") && doc["data"].is_array())
      for (const auto& m : doc["data"])
        if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
    return ids;
  }
  return make_error(Errc::protocol, fmt::format("the server sent no model list within {} s", timeout_s));
}

int run(ModelsOptions o) {
  if (o.json) set_json_errors(true);
  auto cfg = load_user_config();
  if (!cfg) return fail(cfg.error());
  if (o.server.empty()) o.server = cfg->server;
  apply_config_defaults(o.trust, *cfg);
  auto url = configured_server(o.server);
  if (!url) return o.server.empty() ? fail(url.error(), {kNoServerHint}) : fail(url.error());
  auto trust = build_trust(o.trust);
  if (!trust) return fail(trust.error());
  trust->offline = o.offline;
  attest::Verification refused;
  auto session = client::open_attested_session(*url, *trust, &refused);
  if (!session) return fail_session(session.error(), refused, *url, false);
  if (session->verification.development_root())
    print_warning(std::string("the server's evidence chains to a development root, NOT to ") +
                  (session->verification.tdx ? "Intel" : "AMD"));
  auto ids = ask_models(*session->channel, o.timeout);
  if (!ids) return fail(ids.error());
  if (o.json) {
    std::printf("%s\n", dump_json(nlohmann::json(*ids)).c_str());
  } else {
    for (const auto& m : *ids) std::printf("%s\n", m.c_str());
  }
  return kExitOk;
}

}  // namespace

Result<std::vector<std::string>> server_models(transport::ClientChannel& channel, int timeout_s) {
  return ask_models(channel, timeout_s);
}

Handler setup_models(CLI::App& app) {
  auto o = std::make_shared<ModelsOptions>();
  app.add_option("--server", o->server, "ws://, wss://, http:// or https:// URL of confer-server (default: config)");
  declare_trust_flags(app, o->trust);
  app.add_flag("--json", o->json, "A JSON array of names on stdout");
  app.add_flag("--offline", o->offline, "Never fetch collateral (AMD's VCEK, Intel's TDX collateral): it must come with the evidence or the cache");
  app.add_option("--timeout", o->timeout, "Seconds to wait for the list")->check(CLI::Range(1, 600));
  return [o] { return run(*o); };
}

}  // namespace confer::cli
