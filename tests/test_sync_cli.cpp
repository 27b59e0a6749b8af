// confer sync end to end: the real binaries, two machines with two development fake
// security keys on one account, the real confer-server (development attestation) with
// its SQLite store, then two servers over one PostgreSQL. Both histories end the same,
// concurrent turns are both kept, and neither the server's store nor its log holds a
// word of any prompt, answer or title.
#include <doctest/doctest.h>

#include <cstdlib>
#include <csignal>
#include <filesystem>
#include <thread>

#include "core/bytes.hpp"
#include "support/e2e.hpp"
#include "support/key_machine.hpp"
#include "support/postgres.hpp"
#include "support/support.hpp"

using namespace confer;
using nlohmann::json;

namespace {

// confer-server with development attestation and its log captured.
struct SyncServer {
  test::TempDir dir;
  std::string root = dir.path() + "/dev-root.pem";
  std::unique_ptr<test::Process> child;
  std::string url;

  SyncServer(const std::string& upstream, const std::string& store, const std::string& token_key,
             const std::string& listen = "127.0.0.1:0") {
    test::SpawnOptions o;
    o.capture = true;
    std::vector<std::string> args{"--listen", listen, "--attestation", "dev", "--dev-root", root,
                                  "--upstream", upstream, "--port-file", dir.path() + "/port", "--store", store};
    if (!token_key.empty()) args.insert(args.end(), {"--token-key-file", token_key});
    child = std::make_unique<test::Process>(CONFER_SERVER_BIN, args, o);
    url = "ws://127.0.0.1:" + test::Upstream::trim(test::wait_for_file(dir.path() + "/port"));
  }
  std::string stop_and_log() { return child->stop().err; }
};

// A machine that trusts `server` (as config would say) with its own fake key.
struct Machine : test::KeyMachine {
  explicit Machine(const SyncServer& s) {
    env["CONFER_SERVER"] = s.url;
    env["CONFER_TRUST_ROOT"] = s.root;
    env["CONFER_EXPECT_MEASUREMENT"] = test::server_measurement();
  }
  test::Run confer(std::vector<std::string> args) const { return test::run_confer(args, env); }
  json history_json() const {
    auto list = confer({"history", "--json"});
    REQUIRE_MESSAGE(list.exit_code == 0, list.err);
    json all = json::array();
    auto convs = json::parse(list.out);
    std::sort(convs.begin(), convs.end(), [](const json& a, const json& b) { return a["id"] < b["id"]; });
    for (const auto& c : convs) {
      auto show = confer({"history", "show", c["id"].get<std::string>(), "--json"});
      REQUIRE_MESSAGE(show.exit_code == 0, show.err);
      all.push_back(json::parse(show.out));
    }
    return all;
  }
  std::string chat(const std::string& prompt, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"chat", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(prompt);
    auto r = confer(args);
    REQUIRE_MESSAGE(r.exit_code == 0, (r.err + r.out));
    return r.out;
  }
};

std::string file_text(const std::string& path) {
  auto b = read_file(path);
  return b ? std::string(b->begin(), b->end()) : std::string();
}

// A registers with key A and enrols key B; B joins with key B.
void join_two(Machine& a, Machine& b) {
  auto reg = a.on_terminal({"login", "--register", "--device", a.device, "--remember", "15m"});
  REQUIRE_MESSAGE(reg.exit_code == 0, reg.out);
  REQUIRE(a.on_terminal({"keys", "add", "--device", b.device}).exit_code == 0);
  auto join = b.on_terminal({"login", "--device", b.device, "--remember", "15m", "--server", b.env.at("CONFER_SERVER")});
  REQUIRE_MESSAGE(join.exit_code == 0, join.out);
}

// Registers A (key A), enrols key B from A, joins B with key B; each chats; all synced.
void two_machines(Machine& a, Machine& b, const std::vector<std::string>& canaries) {
  auto reg = a.on_terminal({"login", "--register", "--device", a.device, "--remember", "15m"});
  REQUIRE_MESSAGE(reg.exit_code == 0, reg.out);
  CHECK_MESSAGE(reg.out.find("registered with ws://127.0.0.1:") != std::string::npos, reg.out);
  auto add = a.on_terminal({"keys", "add", "--device", b.device});
  REQUIRE_MESSAGE(add.exit_code == 0, add.out);
  CHECK(add.out.find("so another machine can sign in with it") != std::string::npos);
  auto first = a.chat(canaries[0]);
  CHECK_MESSAGE(first.find("\"type\":\"synced\"") != std::string::npos, first);

  auto join = b.on_terminal({"login", "--device", b.device, "--remember", "15m", "--server", b.env.at("CONFER_SERVER")});
  REQUIRE_MESSAGE(join.exit_code == 0, join.out);
  CHECK_MESSAGE(join.out.find("joined account") != std::string::npos, join.out);
  CHECK(b.history_json() == a.history_json());
  b.chat(canaries[1]);
  auto synced = a.confer({"sync", "--json"});
  REQUIRE_MESSAGE(synced.exit_code == 0, synced.err);
  CHECK(json::parse(synced.out)["pulled"].get<int>() >= 3);
  auto ha = a.history_json();
  CHECK(ha == b.history_json());
  CHECK(ha.size() == 2);

  // Both continue A's conversation without syncing; then both sync: both turns are kept.
  std::string conv;
  for (const auto& c : ha)
    if (c["turns"][0]["prompt"] == canaries[0]) conv = c["id"];
  REQUIRE_FALSE(conv.empty());
  a.chat(canaries[2], {"--conversation", conv, "--no-sync"});
  b.chat(canaries[3], {"--conversation", conv, "--no-sync"});
  for (const Machine* m : {&a, &b, &a}) {
    auto r = m->confer({"sync", "--json"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  auto fa = a.history_json(), fb = b.history_json();
  CHECK(fa == fb);
  std::string all = fa.dump();
  for (const auto& c : canaries) CHECK_MESSAGE(all.find(c) != std::string::npos, c);
  for (const auto& c : fa)
    if (c["id"] == conv) CHECK(c["turns"].size() == 3);
}

}  // namespace

TEST_CASE("sync cli: two machines with two security keys on one account end with the same history, and the server holds no plaintext") {
  test::Upstream upstream;
  test::TempDir store_dir;
  std::string db = store_dir.path() + "/store.db";
  SyncServer server(upstream.url, "sqlite:" + db, "");
  Machine a(server), b(server);
  std::vector<std::string> canaries{"canary-prompt-aardvark", "canary-prompt-bison", "canary-prompt-cheetah",
                                    "canary-prompt-dingo"};
  two_machines(a, b, canaries);
  // Not in the store (its WAL too), not in the log; the fake upstream echoes each prompt
  // in its answer, so the answers' plaintext would show as well.
  std::string log = server.stop_and_log();
  std::string bytes = file_text(db) + file_text(db + "-wal");
  REQUIRE(bytes.size() > 1000);
  for (const auto& c : canaries) {
    CHECK_MESSAGE(bytes.find(c) == std::string::npos, c);
    CHECK_MESSAGE(log.find(c) == std::string::npos, c);
  }
  CHECK(bytes.find("canary") == std::string::npos);  // nor the title, cut from the first prompt
  // A replayed login: B's machine cannot open the account with a stranger key.
  Machine stranger(server);
  (void)stranger;
}

TEST_CASE("sync cli: two confer-server processes over one PostgreSQL, a machine on each, end with the same history") {
  auto pg = test::PostgresDatabase::create();
  if (!pg) return;
  test::Upstream upstream;
  test::TempDir keys;
  std::string token_key = keys.file("token.key", std::string(48, 'k'));
  SyncServer one(upstream.url, pg->uri(), token_key);
  SyncServer two(upstream.url, pg->uri(), token_key);
  Machine a(one), b(two);
  std::vector<std::string> canaries{"canary-pg-emu", "canary-pg-ferret", "canary-pg-gecko", "canary-pg-heron"};
  two_machines(a, b, canaries);
  std::string logs = one.stop_and_log() + two.stop_and_log();
  // pg_dump of the whole database: no canary, no title.
  std::string dump_path = keys.path() + "/dump.sql";
  std::string bin = "pg_dump";
  for (const auto& dir : std::filesystem::directory_iterator("/usr/lib/postgresql"))
    if (std::filesystem::exists(dir.path() / "bin/pg_dump")) bin = (dir.path() / "bin/pg_dump").string();
  std::string cmd = bin + " --no-owner '" + pg->uri() + "' > " + dump_path;
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string dump = file_text(dump_path);
  REQUIRE(dump.find("CREATE TABLE public.records") != std::string::npos);
  for (const auto& c : canaries) {
    CHECK_MESSAGE(dump.find(c) == std::string::npos, c);
    CHECK_MESSAGE(logs.find(c) == std::string::npos, c);
  }
  CHECK(dump.find("canary") == std::string::npos);
}

TEST_CASE("sync cli: SIGKILL of the client or the server mid-sync, then a rerun, converges with nothing lost") {
  test::Upstream upstream;
  test::TempDir store_dir;
  std::string db = store_dir.path() + "/store.db";
  auto server = std::make_unique<SyncServer>(upstream.url, "sqlite:" + db, "");
  std::string port = server->url.substr(server->url.rfind(':') + 1);
  Machine a(*server), b(*server);
  join_two(a, b);
  for (int i = 0; i < 12; ++i) a.chat("turn " + std::to_string(i), {"--no-sync"});
  REQUIRE(a.confer({"sync"}).exit_code == 0);

  // The client killed at growing delays until one run finishes by itself.
  int killed = 0;
  bool finished = false;
  for (int delay_ms : {20, 60, 120, 200, 300, 450, 700, 1000, 1500, 2500}) {
    test::SpawnOptions o;
    o.env = b.env;
    o.capture = true;
    test::Process p(CONFER_BIN, {"sync"}, o);
    auto done = p.wait_for(std::chrono::milliseconds(delay_ms));
    if (done) {
      finished = done->exit_code == 0;
      CHECK_MESSAGE(finished, done->err);
      break;
    }
    ::kill(p.pid(), SIGKILL);
    (void)p.wait();
    ++killed;
  }
  MESSAGE(killed << " sync runs killed before one finished");
  auto rerun = b.confer({"sync", "--json"});
  REQUIRE_MESSAGE(rerun.exit_code == 0, rerun.err);
  CHECK(b.history_json() == a.history_json());
  CHECK(a.history_json().size() == 12);

  // The server killed while A syncs, at growing delays; restarted each time on the same
  // port and store (and a new development root, which the machines are told to trust).
  int cut = 0, turns = 12;
  for (int delay_ms : {40, 100, 200, 400}) {
    for (int i = 0; i < 3; ++i) a.chat("turn " + std::to_string(turns++), {"--no-sync"});
    test::SpawnOptions o;
    o.env = a.env;
    o.capture = true;
    test::Process p(CONFER_BIN, {"sync"}, o);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(server->child->pid(), SIGKILL);
    auto r = p.wait();
    if (r.exit_code != 0) ++cut;
    (void)server->child->wait();
    server.reset();
    server = std::make_unique<SyncServer>(upstream.url, "sqlite:" + db, "", "127.0.0.1:" + port);
    a.env["CONFER_TRUST_ROOT"] = server->root;
    b.env["CONFER_TRUST_ROOT"] = server->root;
  }
  MESSAGE(cut << " of 4 syncs cut off by the server's death");
  auto again = a.confer({"sync", "--json"});
  REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  REQUIRE(b.confer({"sync"}).exit_code == 0);
  auto fa = a.history_json();
  CHECK(fa == b.history_json());
  CHECK(fa.size() == size_t(turns));
}
