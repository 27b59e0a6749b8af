// Sync's costs, in one process against the real server store (SQLite) behind an
// in-process Remote: a new device's first pull of the whole history, and a device's
// incremental sync of one new turn as the history grows. The baseline, run in the same
// process, is raw AES-256-GCM opening the same number of records of the same size (the
// floor any encrypted sync sits on). Prints one line per figure.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/time.hpp"
#include "crypto/aead.hpp"
#include "keys/hierarchy.hpp"
#include "server/store/store.hpp"
#include "server/store/store_remote.hpp"
#include "bench_support.hpp"
#include "store/history.hpp"
#include "sync/engine.hpp"

using namespace confer;
using namespace confer::bench;

namespace {

constexpr const char* kAccount = "bench";

using server::store::StoreRemote;

struct Device {
  store::HistoryStore history;
  store::Unlocked keys;
};

Device device(const std::string& dir, const std::string& name, const crypto::SecretBytes& root) {
  auto history = store::HistoryStore::open(dir + "/" + name + ".db");
  if (!history) std::exit(1);
  auto kek = keys::random_key().value();
  store::Credential c;
  c.id = Bytes(16, uint8_t(name[0]));
  c.kind = "file";
  c.label = "bench";
  c.wrapped_root = keys::wrap_key(kek, root, store::root_wrap_context(kAccount, c)).value();
  if (!history->create_account({kAccount, now_utc(), 1}, c)) std::exit(1);
  auto keys = history->unlock(c, kek).value();
  if (!history->enable_sync({"ws://bench", name})) std::exit(1);
  return Device{std::move(*history), std::move(keys)};
}

}  // namespace

int main() {
  std::string dir = std::filesystem::temp_directory_path() / ("confer-bench-sync-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto root = keys::random_key().value();
  for (int conversations : {100, 1000}) {
    std::string d = dir + "/" + std::to_string(conversations);
    std::filesystem::create_directories(d);
    auto server = server::store::open_store("sqlite:" + d + "/server.db").value();
    if (!*server->create_account({kAccount, Bytes(32, 1), now_utc()},
                                 {Bytes(16, 9), kAccount, -7, Bytes(64, 2), 0, Bytes(61, 3), now_utc()}))
      return 1;
    StoreRemote remote(*server, kAccount);
    auto a = device(d, "a", root);
    constexpr int kTurns = 10;
    for (int c = 0; c < conversations; ++c) {
      auto conv = a.history.create_conversation(a.keys).value();
      for (int t = 0; t < kTurns; ++t)
        if (!a.history.append_turn(a.keys, conv.id, make_turn(t))) return 1;
    }
    auto t0 = Clock::now();
    auto pushed = sync::run(a.history, a.keys, remote);
    double push_s = since(t0);
    if (!pushed) return std::fprintf(stderr, "%s\n", pushed.error().message.c_str()), 1;
    auto b = device(d, "b", root);
    t0 = Clock::now();
    auto pulled = sync::run(b.history, b.keys, remote);
    double pull_s = since(t0);
    if (!pulled) return std::fprintf(stderr, "%s\n", pulled.error().message.c_str()), 1;
    size_t records = pulled->pulled;
    double raw = raw_decrypt_seconds(records, 600);
    // One new turn on A, synced; then B's incremental sync, timed (median of 5).
    std::vector<double> incremental;
    auto last = a.history.last_conversation_id().value();
    for (int i = 0; i < 5; ++i) {
      if (!a.history.append_turn(a.keys, *last, make_turn(100 + i))) return 1;
      if (!sync::run(a.history, a.keys, remote)) return 1;
      t0 = Clock::now();
      auto inc = sync::run(b.history, b.keys, remote);
      incremental.push_back(since(t0));
      if (!inc || inc->pulled != 2) return std::fprintf(stderr, "incremental sync pulled %zu\n", inc ? inc->pulled : 0), 1;
    }
    std::sort(incremental.begin(), incremental.end());
    std::printf("history of %d conversations (%zu records): first push %.3f s, first pull %.3f s (%.0f us/record, %.0fx "
                "raw AES-GCM); one new turn synced: %.2f ms (%.2fx one raw AES-GCM open per record of the history)\n",
                conversations, records, push_s, pull_s, 1e6 * pull_s / double(records), pull_s / raw,
                1e3 * incremental[2], incremental[2] / raw);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
