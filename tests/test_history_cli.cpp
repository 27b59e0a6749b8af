// confer login / keys / history / chat saving, end to end through the real binaries,
// with a file authenticator (security keys are in test_fido.cpp and test_login_fido.cpp).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "crypto/hash.hpp"
#include "keys/hierarchy.hpp"
#include "keys/session.hpp"
#include "store/history.hpp"
#include "support/e2e.hpp"
#include "support/machine.hpp"
#include "support/support.hpp"

using namespace confer;
namespace fs = std::filesystem;

namespace {

using test::Machine;

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> events;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) events.push_back(j);
  }
  return events;
}

// Every file under `dir` that contains `needle`.
std::vector<std::string> files_containing(const std::string& dir, const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto bytes = read_file(e.path().string());
    if (!bytes) continue;
    std::string text(bytes->begin(), bytes->end());
    if (text.find(needle) != std::string::npos) found.push_back(e.path().string());
  }
  return found;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
}

}  // namespace

TEST_CASE("history: chats are saved encrypted, listed, shown, searched and removed") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Machine m;
  // No account yet: the chat works and keeps nothing.
  auto before = m.run(test::trusted(server, {"-q", "nothing kept"}));
  CHECK_MESSAGE(before.exit_code == 0, before.err);
  CHECK_FALSE(fs::exists(m.data() + "/history.db"));
  CHECK(before.err.find("conversation") == std::string::npos);

  m.register_account();
  auto status = m.run({"status", "--json"});
  REQUIRE(status.exit_code == 0);
  auto st = nlohmann::json::parse(status.out);
  CHECK(st["unlocked"] == true);
  CHECK(st["ways_in"] == 1);
  CHECK(st["credential"].get<std::string>().find("file authenticator") != std::string::npos);

  const std::string prompt = "Plaintext-Marker-Prompt about the walrus";
  auto first = m.run(test::trusted(server, {"--json", "-q", prompt}));
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  auto events = json_lines(first.out);
  REQUIRE(events.size() >= 3);
  CHECK(events.front()["type"] == "conversation");
  std::string id = events.front()["id"];
  CHECK(events.back() == nlohmann::json{{"type", "saved"}, {"conversation", id}, {"turn", 1}});
  CHECK(first.err.find("conversation " + id) != std::string::npos);

  // -c continues it: the upstream sees the earlier turn.
  auto second = m.run(test::trusted(server, {"-q", "-c"}), "Second-Marker-Prompt\n");
  REQUIRE_MESSAGE(second.exit_code == 0, second.err);
  CHECK(second.err.find("conversation " + id) != std::string::npos);
  auto sent = nlohmann::json::parse(upstream.requests().back());
  CHECK(sent["messages"].size() == 3);
  // --conversation starts (then continues) a named one.
  REQUIRE(m.run(test::trusted(server, {"-q", "--conversation", "work-notes", "Third-Marker-Prompt"})).exit_code == 0);
  CHECK(m.run(test::trusted(server, {"-q", "--conversation", "bad/id", "x"})).exit_code == 2);

  auto list = m.run({"history", "list", "--json"});
  REQUIRE_MESSAGE(list.exit_code == 0, list.err);
  auto all = nlohmann::json::parse(list.out);
  REQUIRE(all.size() == 2);
  CHECK(all[0]["id"] == "work-notes");
  CHECK(all[1]["id"] == id);
  CHECK(all[1]["title"] == prompt);
  CHECK(all[1]["turns"] == 2);
  for (const char* key : {"id", "title", "created", "updated", "turns"}) CHECK(all[1].contains(key));

  auto shown = m.run({"history", "show", id});
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find("echo: " + prompt) != std::string::npos);
  CHECK(shown.out.find("Second-Marker-Prompt") != std::string::npos);
  auto shown_json = nlohmann::json::parse(m.run({"history", "show", id, "--json"}).out);
  CHECK(shown_json["turns"][0]["receipt"]["measurement"] == test::server_measurement());
  CHECK(shown_json["turns"][0]["receipt"]["platform"].get<std::string>().find("SEV-SNP") != std::string::npos);
  auto found = m.run({"history", "search", "WALRUS", "--json"});
  REQUIRE(found.exit_code == 0);
  auto hits = nlohmann::json::parse(found.out);
  REQUIRE(hits.size() >= 1);
  CHECK(hits[0]["conversation"] == id);
  CHECK(m.run({"history", "show", "no-such"}).exit_code == 2);

  // Nothing readable on disk: not the prompts, the answers, nor the titles.
  for (const std::string dir : {"/data", "/config", "/cache"}) {
    for (const std::string needle : {"Plaintext-Marker", "walrus", "Second-Marker", "Third-Marker", "echo: "}) {
      auto leaks = files_containing(m.home.path() + dir, needle);
      CHECK_MESSAGE(leaks.empty(), needle << " found in " << (leaks.empty() ? "" : leaks[0]));
    }
  }
  for (const auto& e : fs::recursive_directory_iterator(m.home.path() + "/data/confer")) {
    if (e.is_directory()) CHECK_MESSAGE(mode_of(e.path()) == 0700, e.path());
    else CHECK_MESSAGE(mode_of(e.path()) == 0600, e.path());
  }
  CHECK(mode_of(m.data()) == 0700);
  CHECK(mode_of(m.authenticator) == 0600);

  auto rm = m.run({"history", "rm", id});
  CHECK_MESSAGE(rm.exit_code == 0, rm.err);
  CHECK(nlohmann::json::parse(m.run({"history", "--json"}).out).size() == 1);
  CHECK(m.run({"history", "rm", id}).exit_code == 2);
}

TEST_CASE("history: a locked key stops a piped chat before anything is sent, and --incognito saves nothing") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Machine m;
  m.register_account("");
  auto locked = m.run(test::trusted(server, {"-q", "never sent"}));
  CHECK(locked.exit_code == 4);
  CHECK(locked.err.find("locked") != std::string::npos);
  CHECK(locked.err.find("confer login --remember") != std::string::npos);
  CHECK(locked.err.find("--incognito") != std::string::npos);
  CHECK(upstream.requests().empty());
  auto listed = m.run({"history", "list"});
  CHECK(listed.exit_code == 4);

  auto incognito = m.run(test::trusted(server, {"-q", "--incognito", "off the record"}));
  CHECK_MESSAGE(incognito.exit_code == 0, incognito.err);
  CHECK(upstream.requests().size() == 1);
  CHECK(m.run(test::trusted(server, {"--incognito", "-c", "x"})).exit_code == 2);

  // Unlock, and the history holds only what was saved: nothing.
  REQUIRE(m.run(m.file_key({"login", "--remember", "2m"})).exit_code == 0);
  CHECK(nlohmann::json::parse(m.run({"history", "--json"}).out).empty());
  auto status = m.run({"status"});
  CHECK(status.out.find("unlocked until") != std::string::npos);
  REQUIRE(m.run({"logout"}).exit_code == 0);
  CHECK(m.run({"status"}).out.find("locked") != std::string::npos);
  auto wrong = m.home.file("wrong", "not the passphrase\n");
  auto bad = m.run({"login", "--authenticator", "file:" + m.authenticator, "--passphrase-file", wrong});
  CHECK(bad.exit_code == 4);
  CHECK(bad.err.find("passphrase") != std::string::npos);
}

TEST_CASE("keys: add a recovery code, recover with it, rotate, and never remove the last way in") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Machine m;
  m.register_account();
  REQUIRE(m.run(test::trusted(server, {"-q", "kept across rotation"})).exit_code == 0);
  auto only = nlohmann::json::parse(m.run({"keys", "list", "--json"}).out);
  REQUIRE(only.size() == 1);
  auto last = m.run({"keys", "remove", only[0]["id"].get<std::string>().substr(0, 8)});
  CHECK(last.exit_code == 2);
  CHECK(last.err.find("last way") != std::string::npos);

  auto added = m.run({"keys", "add", "--recovery", "--argon2-ops", "1", "--argon2-memory", "8"});
  REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  std::string code = added.out.substr(0, added.out.find('\n'));
  CHECK(code.size() == 14 * 4 + 13);
  CHECK(nlohmann::json::parse(m.run({"keys", "list", "--json"}).out).size() == 2);

  REQUIRE(m.run({"logout"}).exit_code == 0);
  std::string typo = code;
  typo[0] = typo[0] == 'A' ? 'B' : 'A';
  CHECK(m.run({"login", "--recovery"}, typo + "\n").exit_code == 2);
  auto recovered = m.run({"login", "--recovery", "--remember", "5m"}, code + "\n");
  REQUIRE_MESSAGE(recovered.exit_code == 0, recovered.err);
  CHECK(m.run({"history", "--json"}).out.find("kept across rotation") != std::string::npos);

  // The root key as it is before the rotation, read where the session keeps it.
  std::string store_path = m.data() + "/history.db";
  auto before = keys::recall_session(store_path);
  REQUIRE(before);
  REQUIRE(before->has_value());
  crypto::SecretBytes old_root = std::move((*before)->root);
  std::string account = (*before)->account_id;

  auto rotated = m.run(m.file_key({"keys", "rotate", "--argon2-ops", "1", "--argon2-memory", "8"}));
  REQUIRE_MESSAGE(rotated.exit_code == 0, rotated.err);
  std::string new_code = rotated.out.substr(0, rotated.out.find('\n'));
  CHECK(new_code.size() == code.size());
  CHECK(new_code != code);
  // The session carries the new key: history still reads, and chat still saves.
  CHECK(m.run({"history", "--json"}).out.find("kept across rotation") != std::string::npos);
  REQUIRE(m.run(test::trusted(server, {"-q", "-c", "after rotation"})).exit_code == 0);
  {
    // The old root opens nothing: no data key, old or new, no conversation, no way in's wrap.
    auto history = store::HistoryStore::open(store_path);
    REQUIRE(history);
    auto old_records = keys::derive_subkey(old_root, keys::Subkey::records);
    auto wraps = history->database().prepare("SELECT conversation_id, wrapped FROM data_keys");
    int n = 0;
    while (*wraps->step()) {
      std::string conversation = wraps->column_text(0);
      keys::WrapContext ctx{keys::kDataKeyWrap, as_bytes(account), as_bytes(conversation)};
      CHECK_FALSE(keys::unwrap_key(*old_records, wraps->column_blob(1), ctx));
      ++n;
    }
    CHECK(n == 2);
    auto old = store::unlocked_from_root(account, {}, std::move(old_root));
    CHECK(history->list(*old).error().code == Errc::key);
  }
  REQUIRE(m.run({"logout"}).exit_code == 0);
  CHECK(m.run({"login", "--recovery"}, code + "\n").exit_code == 4);  // the old code opens nothing
  REQUIRE(m.run(m.file_key({"login", "--remember", "1m"})).exit_code == 0);
  auto shown = nlohmann::json::parse(m.run({"history", "show", nlohmann::json::parse(
                                                                   m.run({"history", "--json"}).out)[0]["id"], "--json"})
                                         .out);
  CHECK(shown["turns"].size() == 2);
}

TEST_CASE("history: SIGKILL at random points while saving loses no turn reported saved") {
  test::Upstream upstream({"--tokens", "2", "--delay-ms", "1"});
  test::Server server(upstream.url);
  Machine m;
  m.register_account("30m");
  std::mt19937 rng(12345);
  std::map<std::string, int64_t> reported;  // conversation -> highest turn reported saved
  // How long one chat takes here, so the kills land across its whole run.
  int64_t span = 1'000'000;
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(m.run(test::trusted(server, {"-q", "-c", "--json", "warm-up"})).exit_code == 0);
    span = std::min<int64_t>(
        span, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
  }
  int killed = 0;
  for (int i = 0; i < 50; ++i) {
    test::SpawnOptions o;
    o.env = m.env;
    o.capture = true;
    o.stdin_text = "";
    auto args = test::trusted(server, {"-q", "-c", "--json", "--no-stdin", "turn " + std::to_string(i)});
    auto t0 = std::chrono::steady_clock::now();
    test::Process p(CONFER_BIN, args, o);
    int64_t delay = std::uniform_int_distribution<int64_t>(0, span * 3 / 2)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    // The span follows the machine's load: a run that finished says how long one takes
    // now; a kill later than the span says runs have become slower.
    if (p.running()) {
      ::kill(p.pid(), SIGKILL);
      ++killed;
      if (delay >= span) span += span / 4 + 1;
    } else {
      int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      span = (3 * span + std::min(took, 2 * span)) / 4;
    }
    auto r = p.wait();
    for (const auto& e : json_lines(r.out))
      if (e["type"] == "saved") reported[e["conversation"]] = std::max(reported[e["conversation"]], e["turn"].get<int64_t>());
    // The store opens, and holds every turn reported so far, numbered without gaps.
    auto list = m.run({"history", "--json"});
    REQUIRE_MESSAGE(list.exit_code == 0, list.err);
    for (const auto& [id, turns] : reported) {
      auto shown = m.run({"history", "show", id, "--json"});
      REQUIRE_MESSAGE(shown.exit_code == 0, shown.err);
      auto j = nlohmann::json::parse(shown.out);
      CHECK(int64_t(j["turns"].size()) >= turns);
      for (size_t k = 0; k < j["turns"].size(); ++k) CHECK(j["turns"][k]["index"] == int64_t(k + 1));
    }
  }
  int64_t saved = reported.empty() ? 0 : reported.begin()->second - 3;
  MESSAGE(killed << " of 50 runs killed mid-way (one run: " << span << " ms); " << saved << " turns reported saved");
  // Both kinds happened: kills before, during and after a save, and saves that finished.
  CHECK(killed >= 10);
  CHECK(saved >= 5);
}

TEST_CASE("export: the history as JSON, JSON Lines and Markdown with receipts, to a 0600 file written atomically") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Machine m;
  m.register_account();
  for (const char* p : {"Export-Marker first question", "Export-Marker second question"}) {
    auto r = m.run(test::trusted(server, {"-q", p}));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  auto other = m.run(test::trusted(server, {"-q", "Another conversation"}));
  REQUIRE(other.exit_code == 0);

  auto json_out = m.run({"export"});
  REQUIRE_MESSAGE(json_out.exit_code == 0, json_out.err);
  auto doc = nlohmann::json::parse(json_out.out);
  REQUIRE(doc.size() == 3);
  CHECK(doc[0]["turns"][0]["prompt"] == "Export-Marker first question");  // oldest first
  auto receipt = doc[0]["turns"][0]["receipt"];
  CHECK(receipt["platform"].get<std::string>().find("SEV-SNP") != std::string::npos);
  CHECK(receipt["measurement"] == test::server_measurement());
  CHECK(receipt["server_key"].get<std::string>().size() == 64);

  auto lines = m.run({"export", "--format", "jsonl"});
  REQUIRE(lines.exit_code == 0);
  auto turns = json_lines(lines.out);
  CHECK(turns.size() == 3);
  CHECK(turns[0]["conversation"] == doc[0]["id"]);

  std::string id = doc[2]["id"];
  auto md = m.run({"export", "--format", "markdown", "--conversation", id});
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.find("# Another conversation") != std::string::npos);
  CHECK(md.out.find("> receipt: AMD SEV-SNP") != std::string::npos);
  CHECK(md.out.find("Export-Marker") == std::string::npos);
  auto since = m.run({"export", "--since", "2999-01-01"});
  REQUIRE(since.exit_code == 0);
  CHECK(nlohmann::json::parse(since.out).empty());

  std::string file = m.home.path() + "/out/export.json";
  fs::create_directories(m.home.path() + "/out");
  auto to_file = m.run({"export", "-o", file});
  REQUIRE_MESSAGE(to_file.exit_code == 0, to_file.err);
  CHECK(to_file.out.empty());
  CHECK(to_file.err.find("exported 3 conversation(s), 3 turn(s)") != std::string::npos);
  CHECK(mode_of(file) == 0600);
  CHECK(nlohmann::json::parse(*read_file(file)) == doc);

  // Bad input loses nothing: an unknown conversation or date, a folder that is not there.
  auto unknown = m.run({"export", "--conversation", "nope", "-o", file});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("no conversation nope") != std::string::npos);
  CHECK(m.run({"export", "--since", "yesterday"}).err.find("--since: expected a date") != std::string::npos);
  CHECK(m.run({"export", "-o", m.home.path() + "/missing/x.json"}).exit_code == 1);
  CHECK(nlohmann::json::parse(*read_file(file)) == doc);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(m.home.path() + "/out")) entries += e.is_regular_file() ? 1 : 0;
  CHECK(entries == 1);  // no partial file left beside it
  // Locked: exit 4, nothing written.
  REQUIRE(m.run({"logout"}).exit_code == 0);
  auto locked = m.run({"export", "-o", m.home.path() + "/out/locked.json"});
  CHECK(locked.exit_code == 4);
  CHECK_FALSE(fs::exists(m.home.path() + "/out/locked.json"));
}

TEST_CASE("export --encrypted and import: an archive carries the history to another machine's account, all or nothing") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Machine m;
  m.register_account();
  for (const char* p : {"Archive-Marker first question", "Archive-Marker second question"}) {
    auto r = m.run(test::trusted(server, {"-q", p}));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  REQUIRE(m.run(test::trusted(server, {"-q", "Another conversation"})).exit_code == 0);
  std::string words = m.home.file("archive-pass", "a long archive passphrase\n");
  std::string archive = m.home.path() + "/out/history.confer";
  fs::create_directories(m.home.path() + "/out");
  std::vector<std::string> cheap = {"--argon2-ops", "1", "--argon2-memory", "8", "--archive-passphrase-file", words};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  auto out = m.run(with({"export", "--encrypted", "-o", archive}, cheap));
  REQUIRE_MESSAGE(out.exit_code == 0, out.err);
  CHECK(out.err.find("exported 3 conversation(s), 3 turn(s)") != std::string::npos);
  CHECK(mode_of(archive) == 0600);
  auto bytes = read_file(archive).value();
  CHECK(std::string(bytes.begin(), bytes.begin() + 8) == "CONFERAR");
  CHECK(std::string(bytes.begin(), bytes.end()).find("Archive-Marker") == std::string::npos);
  CHECK(m.run(with({"export", "--encrypted", "--format", "markdown", "-o", archive + "2"}, cheap)).exit_code == 2);
  CHECK_FALSE(fs::exists(archive + "2"));
  auto stray = m.run({"export", "--archive-passphrase-file", words, "-o", archive + "2"});
  CHECK(stray.exit_code == 2);
  CHECK(stray.err.find("--archive-passphrase-file goes with --encrypted") != std::string::npos);
  CHECK_FALSE(fs::exists(archive + "2"));

  // Another machine, its own account: the import brings every conversation and turn.
  Machine n;
  n.register_account();
  std::string n_words = n.home.file("archive-pass", "a long archive passphrase\n");
  auto wrong = n.run({"import", archive, "--archive-passphrase-file", n.home.file("wrong", "not the passphrase\n")});
  CHECK(wrong.exit_code == 4);
  CHECK(wrong.err.find("wrong passphrase") != std::string::npos);
  Bytes cut(bytes.begin(), bytes.end() - 5);
  std::string cut_file = n.home.path() + "/cut.confer";
  std::ofstream(cut_file, std::ios::binary).write(reinterpret_cast<const char*>(cut.data()), long(cut.size()));
  auto truncated = n.run({"import", cut_file, "--archive-passphrase-file", n_words});
  CHECK(truncated.exit_code == 1);
  CHECK(truncated.err.find("the archive ends inside a message") != std::string::npos);
  CHECK(nlohmann::json::parse(n.run({"history", "--json"}).out).empty());  // nothing of it kept

  auto in = n.run({"import", archive, "--archive-passphrase-file", n_words, "--json"});
  REQUIRE_MESSAGE(in.exit_code == 0, in.err);
  CHECK(nlohmann::json::parse(in.out) == nlohmann::json{{"conversations", 3}, {"turns", 3}, {"skipped", 0}});
  auto mine = nlohmann::json::parse(m.run({"export"}).out);
  auto theirs = nlohmann::json::parse(n.run({"export"}).out);
  CHECK(theirs == mine);
  auto again = n.run({"import", archive, "--archive-passphrase-file", n_words});
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("imported 0 conversation(s), 0 turn(s) from " + archive + " (3 already here, skipped)") != std::string::npos);
  CHECK(nlohmann::json::parse(n.run({"export"}).out) == mine);
  CHECK(n.run({"import", n.home.path() + "/none.confer", "--archive-passphrase-file", n_words}).exit_code == 1);
}

TEST_CASE("verify-attestation --receipt: an exported turn re-checked offline against the evidence saved with it, and each altered twin refused") {
  test::Upstream upstream;
  test::Server server(upstream.url);
  Machine m;
  m.register_account();
  REQUIRE(m.run(test::trusted(server, {"-q", "Receipt-Marker one"})).exit_code == 0);
  auto lines = m.run({"export", "--format", "jsonl"});
  REQUIRE(lines.exit_code == 0);
  auto turns = json_lines(lines.out);
  REQUIRE(turns.size() == 1);
  nlohmann::json turn = turns[0];
  REQUIRE(turn.contains("evidence_document"));
  CHECK(turn["receipt"]["evidence"].get<std::string>().size() == 64);
  fs::create_directories(m.home.path() + "/out");
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = m.home.path() + "/out/" + name;
    std::ofstream(path) << text;
    return path;
  };
  std::vector<std::string> trust = {"--trust-root", server.root};
  auto check = [&](const std::string& file) {
    std::vector<std::string> args = {"verify-attestation", "--receipt", file};
    args.insert(args.end(), trust.begin(), trust.end());
    return m.run(args);
  };
  auto good = check(write("turn.jsonl", turn.dump() + "\n"));
  CHECK_MESSAGE(good.exit_code == 0, good.err);
  CHECK(good.err.find("1 receipt(s) re-checked against their saved evidence: all verified") != std::string::npos);
  CHECK(good.out.find("receipt.measurement") != std::string::npos);
  // The whole JSON export, where each conversation carries its evidence by digest.
  auto whole = m.run({"export", "-o", m.home.path() + "/out/all.json"});
  REQUIRE(whole.exit_code == 0);
  CHECK(check(m.home.path() + "/out/all.json").exit_code == 0);
  // The server is gone: still verifies (offline, from the export alone).
  {
    auto json_run = m.run({"verify-attestation", "--receipt", m.home.path() + "/out/turn.jsonl", "--trust-root", server.root, "--json"});
    CHECK(json_run.exit_code == 0);
    CHECK(nlohmann::json::parse(json_run.out)["verdict"] == "verified");
  }

  auto refused = [&](nlohmann::json altered, const std::string& check_name) {
    auto r = check(write("altered.jsonl", altered.dump() + "\n"));
    CHECK(r.exit_code == 3);
    CHECK_MESSAGE(r.err.find("refused: " + check_name) != std::string::npos, r.err);
  };
  auto t = turn;
  t["receipt"]["measurement"] = std::string(96, '0');
  refused(t, "receipt.measurement");
  t = turn;
  std::string doc = t["evidence_document"];
  doc[doc.size() / 2] = doc[doc.size() / 2] == 'A' ? 'B' : 'A';
  t["evidence_document"] = doc;
  refused(t, "receipt.evidence");
  t = turn;
  t.erase("evidence_document");
  refused(t, "receipt.evidence");
  t = turn;
  t["receipt"]["server_key"] = std::string(64, 'a');
  refused(t, "receipt.server_key");
  t = turn;
  t["receipt"]["evidence"] = "";
  refused(t, "receipt.evidence");
  // Evidence re-signed or swapped: its digest is the receipt's, but it is not evidence for that key.
  t = turn;
  auto ev = nlohmann::json::parse(doc.empty() ? "{}" : turn["evidence_document"].get<std::string>());
  ev.erase("channel");
  t["evidence_document"] = ev.dump();
  t["receipt"]["evidence"] = to_hex(crypto::sha256(as_bytes(ev.dump())));
  t["receipt"]["server_key"] = std::string(64, 'b');
  refused(t, "channel.binding");
  // The dev root not trusted: refused like the live server would be.
  trust.clear();
  CHECK(check(m.home.path() + "/out/turn.jsonl").exit_code == 3);
  CHECK(m.run({"verify-attestation", "--receipt", m.home.path() + "/out/turn.jsonl", "--at", "2026-01-01T00:00:00Z"}).exit_code == 2);
  CHECK(m.run({"verify-attestation", "--receipt", write("junk.json", "{\"x\": 1}")}).exit_code == 1);
}
