// confer history [list|show ID|rm ID|search TEXT] [--json]: the encrypted local history,
// decrypted in memory.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "core/json.hpp"
#include "core/time.hpp"

namespace confer::cli {

namespace {

using nlohmann::json;

struct HistoryOptions {
  KeyFlags key;
  bool json = false;
  std::string id;
  std::string text;
};

const std::initializer_list<std::string> kLockedHints = {
    "unlock it for a while first: confer login --remember 15m"};

json conversation_json(const store::Conversation& c) {
  return {{"id", c.id}, {"title", c.title}, {"created", format_rfc3339(c.created)},
          {"updated", format_rfc3339(c.updated)}, {"turns", c.turns}};
}

json turn_json(const store::Turn& t) {
  return {{"index", t.index},
          {"prompt", t.prompt},
          {"reply", t.reply},
          {"model", t.model},
          {"time", format_rfc3339(t.time)},
          {"receipt",
           {{"platform", t.receipt.platform},
            {"measurement", t.receipt.measurement},
            {"release", t.receipt.release},
            {"server_key", t.receipt.server_key},
            {"verified", format_rfc3339(t.receipt.verified)}}}};
}

void print_json(const json& j) { std::printf("%s\n", dump_json(j).c_str()); }

int list(store::HistoryStore& history, const store::Unlocked& keys, const HistoryOptions& o) {
  auto all = history.list(keys);
  if (!all) return fail(all.error());
  if (o.json) {
    json out = json::array();
    for (const auto& c : *all) out.push_back(conversation_json(c));
    print_json(out);
    return kExitOk;
  }
  if (all->empty()) print_note("no conversations yet");
  for (const auto& c : *all)
    std::printf("%-16s  %s  %3lld turn(s)  %s\n", c.id.c_str(), format_local_minutes(c.updated).c_str(),
                static_cast<long long>(c.turns), c.title.empty() ? "(untitled)" : c.title.c_str());
  return kExitOk;
}

int show(store::HistoryStore& history, const store::Unlocked& keys, const HistoryOptions& o) {
  auto c = history.find(keys, o.id);
  if (!c) return fail(c.error());
  if (!*c) return fail(make_error(Errc::usage, fmt::format("no conversation {}", o.id)), {"confer history list"});
  auto turns = history.turns(keys, o.id);
  if (!turns) return fail(turns.error());
  if (o.json) {
    json j = conversation_json(**c);
    j["turns"] = json::array();
    for (const auto& t : *turns) j["turns"].push_back(turn_json(t));
    print_json(j);
    return kExitOk;
  }
  std::printf("# %s\n\n", (*c)->title.empty() ? "(untitled)" : (*c)->title.c_str());
  std::printf("conversation %s, started %s, %lld turn(s)\n", (*c)->id.c_str(), format_local_minutes((*c)->created).c_str(),
              static_cast<long long>((*c)->turns));
  for (const auto& t : *turns) {
    std::printf("\n## You (%s)\n\n%s\n", format_local_minutes(t.time).c_str(), t.prompt.c_str());
    std::string m = t.receipt.measurement.substr(0, 16);
    std::printf("\n## Assistant (%s; %s, measurement %s…, %s)\n\n%s\n", t.model.empty() ? "default model" : t.model.c_str(),
                t.receipt.platform.c_str(), m.c_str(), t.receipt.release.c_str(), t.reply.c_str());
  }
  return kExitOk;
}

int remove(store::HistoryStore& history, const HistoryOptions& o) {
  if (auto r = history.remove_conversation(o.id); !r) return fail(r.error(), {"confer history list"});
  print_note(fmt::format("removed conversation {}: its records and data keys are gone", o.id));
  return kExitOk;
}

int rename(store::HistoryStore& history, const store::Unlocked& keys, const HistoryOptions& o) {
  if (auto r = history.rename_conversation(keys, o.id, o.text); !r) return fail(r.error(), {"confer history list"});
  auto synced = history.sync_settings();
  print_note(fmt::format("renamed conversation {}{}", o.id,
                         synced && *synced ? " (the other devices see it after the next confer sync or chat)" : ""));
  return kExitOk;
}

int search(store::HistoryStore& history, const store::Unlocked& keys, const HistoryOptions& o) {
  if (o.text.empty()) return fail(make_error(Errc::usage, "search: expected some text to look for"));
  auto hits = history.search(keys, o.text);
  if (!hits) return fail(hits.error());
  if (o.json) {
    json out = json::array();
    for (const auto& h : *hits)
      out.push_back({{"conversation", h.conversation_id}, {"title", h.title}, {"turn", h.turn}, {"snippet", h.snippet}});
    print_json(out);
    return kExitOk;
  }
  if (hits->empty()) print_note(fmt::format("nothing matches '{}'", o.text));
  for (const auto& h : *hits)
    std::printf("%s  %s  %s\n    %s\n", h.conversation_id.c_str(),
                h.turn == 0 ? "title" : fmt::format("turn {}", h.turn).c_str(), h.title.c_str(), h.snippet.c_str());
  return kExitOk;
}

int run(const HistoryOptions& o, CLI::App* show_cmd, CLI::App* rm_cmd, CLI::App* search_cmd, CLI::App* rename_cmd) {
  if (o.json) set_json_errors(true);
  auto history = open_history(false);
  if (!history) return fail(history.error());
  auto account = *history ? (*history)->account() : Result<std::optional<store::Account>>(std::nullopt);
  if (!account) return fail(account.error());
  if (!*account) {
    bool one = show_cmd->parsed() || rm_cmd->parsed() || rename_cmd->parsed();
    if (o.json && !one) print_json(json::array());
    if (one)
      return fail(make_error(Errc::key, "no account on this machine yet, so no conversation to show, rename or remove"),
                  {"chats are saved once an account exists: confer login --register"});
    print_note("no history: chats are saved once an account exists (confer login --register)");
    return kExitOk;
  }
  if (rm_cmd->parsed()) return remove(**history, o);
  if (rename_cmd->parsed()) {
    // A title that cannot be one is refused before the key is asked for.
    if (auto t = store::normalize_title(o.text); !t) return fail(t.error());
  }
  auto keys = unlock_for_use(**history, o.key, true);
  if (!keys) return fail(keys.error(), kLockedHints);
  if (show_cmd->parsed()) return show(**history, *keys, o);
  if (search_cmd->parsed()) return search(**history, *keys, o);
  if (rename_cmd->parsed()) return rename(**history, *keys, o);
  return list(**history, *keys, o);
}

}  // namespace

Handler setup_history(CLI::App& app) {
  auto o = std::make_shared<HistoryOptions>();
  app.require_subcommand(0, 1);
  app.add_flag("--json", o->json, "JSON on stdout");
  declare_key_flags(app, o->key, false);
  CLI::App* l = app.add_subcommand("list", "Conversations, newest first (the default)");
  l->fallthrough();
  l->add_flag("--json", o->json, "A JSON array of {id, title, created, updated, turns}");
  CLI::App* s = app.add_subcommand("show", "One conversation as text");
  s->fallthrough();
  s->add_option("id", o->id, "The conversation id")->required();
  s->add_flag("--json", o->json, "One JSON object with every turn and its receipt");
  CLI::App* r = app.add_subcommand("rm", "Remove a conversation for good: its records and data keys");
  r->fallthrough();
  r->add_option("id", o->id, "The conversation id")->required();
  CLI::App* f = app.add_subcommand("search", "Find text in titles, prompts and answers (decrypted in memory)");
  f->fallthrough();
  f->add_option("text", o->text, "What to look for (any case)")->required();
  f->add_flag("--json", o->json, "A JSON array of {conversation, title, turn, snippet}");
  CLI::App* n = app.add_subcommand("rename", "Give a conversation a new title (synced; concurrent renames settle alike on every device)");
  n->fallthrough();
  n->add_option("id", o->id, "The conversation id")->required();
  n->add_option("title", o->text, "The new title (one line, at most 200 bytes)")->required();
  return [o, s, r, f, n] { return run(*o, s, r, f, n); };
}

}  // namespace confer::cli
