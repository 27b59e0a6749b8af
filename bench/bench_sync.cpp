// Sync's and export's costs, in one process against the real server store (SQLite,
// durable commits) behind an in-process Remote, for histories of 10,000 and 100,000
// records: the first device's first push, a new device's first pull of everything, a
// device's incremental sync of one new turn on top, and an export of the whole history.
// Records and ciphertext bytes moved are counted (the channel carries the ciphertext
// base64 in JSON, about 4/3 of it). The baseline, run in the same process, is raw
// AES-256-GCM opening the same number of records of the same size (the floor any
// encrypted sync or export sits on).
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
#include "store/export.hpp"
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

struct Figures {
  size_t records = 0, bytes = 0;
  double seconds = 0;
};

}  // namespace

// argv[1]: divide the history by this for a quick look (1: the figures in the note).
int main(int argc, char** argv) {
  int scale = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  std::string dir = std::filesystem::temp_directory_path() / ("confer-bench-sync-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto root = keys::random_key().value();
  // Each conversation is 40 records: its data key, its head and 38 turns.
  constexpr int kTurns = 38;
  for (int conversations : {250 / scale, 2500 / scale}) {
    std::string d = dir + "/" + std::to_string(conversations);
    std::filesystem::create_directories(d);
    auto server = server::store::open_store("sqlite:" + d + "/server.db").value();
    if (!*server->create_account({kAccount, Bytes(32, 1), now_utc()},
                                 {Bytes(16, 9), kAccount, -7, Bytes(64, 2), 0, Bytes(61, 3), now_utc()}))
      return 1;
    StoreRemote remote(*server, kAccount);
    auto a = device(d, "a", root);
    // Setup without fsync; everything timed below commits durably (synchronous=FULL).
    if (!a.history.database().exec("PRAGMA synchronous=OFF")) return 1;
    for (int c = 0; c < conversations; ++c) {
      auto conv = a.history.create_conversation(a.keys).value();
      for (int t = 0; t < kTurns; ++t)
        if (!a.history.append_turn(a.keys, conv.id, make_turn(t))) return 1;
    }
    if (!a.history.database().exec("PRAGMA synchronous=FULL")) return 1;
    auto t0 = Clock::now();
    auto pushed = sync::run(a.history, a.keys, remote);
    Figures push{pushed ? pushed->pushed : 0, pushed ? pushed->bytes_up : 0, since(t0)};
    if (!pushed) return std::fprintf(stderr, "%s\n", pushed.error().message.c_str()), 1;
    auto b = device(d, "b", root);
    t0 = Clock::now();
    auto pulled = sync::run(b.history, b.keys, remote);
    Figures pull{pulled ? pulled->pulled : 0, pulled ? pulled->bytes_down : 0, since(t0)};
    if (!pulled) return std::fprintf(stderr, "%s\n", pulled.error().message.c_str()), 1;
    size_t record_size = pull.bytes / std::max<size_t>(pull.records, 1);
    double raw = raw_decrypt_seconds(pull.records, record_size);
    // One new turn on A, synced; then B's incremental sync, timed (median of 5).
    std::vector<Figures> incremental;
    auto last = a.history.last_conversation_id().value();
    for (int i = 0; i < 5; ++i) {
      if (!a.history.append_turn(a.keys, *last, make_turn(100 + i))) return 1;
      if (!sync::run(a.history, a.keys, remote)) return 1;
      t0 = Clock::now();
      auto inc = sync::run(b.history, b.keys, remote);
      double s = since(t0);
      if (!inc || inc->pulled != 2) return std::fprintf(stderr, "incremental sync pulled %zu\n", inc ? inc->pulled : 0), 1;
      incremental.push_back({inc->pulled, inc->bytes_down, s});
    }
    std::sort(incremental.begin(), incremental.end(), [](const Figures& x, const Figures& y) { return x.seconds < y.seconds; });
    const Figures& inc = incremental[2];
    // Export of B's whole history as JSON, against raw AES-256-GCM opens of its records.
    size_t exported_bytes = 0;
    t0 = Clock::now();
    auto exported = store::export_history(b.history, b.keys, store::ExportFormat::json, {},
                                          [&](std::string_view s) { exported_bytes += s.size(); });
    double export_s = since(t0);
    if (!exported) return std::fprintf(stderr, "%s\n", exported.error().message.c_str()), 1;
    size_t records = pull.records + 2 * incremental.size();
    double raw_export = raw_decrypt_seconds(records, record_size);
    std::printf("history of %zu records (%d conversations, %zu bytes of ciphertext each on average):\n", pull.records,
                conversations, record_size);
    std::printf("  first push: %zu records, %.1f MB up, %.2f s (%.0f us/record)\n", push.records, double(push.bytes) / 1e6,
                push.seconds, 1e6 * push.seconds / double(push.records));
    std::printf("  first pull (a new device): %zu records, %.1f MB down, %.2f s (%.0f us/record; %.0fx raw AES-256-GCM "
                "opens of the same records, %.3f s)\n",
                pull.records, double(pull.bytes) / 1e6, pull.seconds, 1e6 * pull.seconds / double(pull.records), pull.seconds / raw,
                raw);
    std::printf("  one new turn, incremental sync: %zu records, %zu bytes down, %.2f ms (%.4fx the raw opens of the "
                "whole history)\n",
                inc.records, inc.bytes, 1e3 * inc.seconds, inc.seconds / raw);
    std::printf("  export (JSON) of %zu turns: %.1f MB in %.2f s, %.0f turns/s, %.1f MB/s; %.1fx raw AES-256-GCM opens "
                "of the same records (%.3f s)\n",
                exported->turns, double(exported_bytes) / 1e6, export_s, double(exported->turns) / export_s,
                double(exported_bytes) / 1e6 / export_s, export_s / raw_export, raw_export);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
