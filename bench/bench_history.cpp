// The history store's costs, each against raw AES-256-GCM on the same bytes in the same
// run: saving one turn (a durable commit), listing 10,000 conversations, and searching
// 100,000 turns by decrypting them in memory. Prints one line per figure.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/time.hpp"
#include "crypto/aead.hpp"
#include "keys/hierarchy.hpp"
#include "store/history.hpp"
#include "bench_support.hpp"

using namespace confer;
using namespace confer::bench;

namespace {

struct Bench {
  std::string dir;
  store::HistoryStore history;
  store::Unlocked keys;
};

Bench open_bench(const std::string& dir) {
  auto history = store::HistoryStore::open(dir + "/history.db");
  if (!history) std::exit(1);
  auto kek = keys::random_key().value();
  auto root = keys::random_key().value();
  store::Credential c;
  c.id = Bytes(16, 1);
  c.kind = "file";
  c.label = "bench";
  c.wrapped_root = keys::wrap_key(kek, root, store::root_wrap_context("bench", c)).value();
  if (!history->create_account({"bench", now_utc(), 1}, c)) std::exit(1);
  auto keys = history->unlock(c, kek).value();
  return Bench{dir, std::move(history).value(), std::move(keys)};
}

}  // namespace

int main(int argc, char** argv) {
  int scale = argc > 1 ? std::atoi(argv[1]) : 1;  // 1: the figures in the note; smaller for a quick look
  size_t conversations = 10'000 / size_t(scale), turns = 100'000 / size_t(scale);
  std::string dir = (std::filesystem::temp_directory_path() / "confer-bench-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  Bench b = open_bench(dir);
  size_t turn_size = 0;
  {
    auto c = b.history.create_conversation(b.keys).value();
    const int n = 100;
    auto t = Clock::now();
    for (int i = 0; i < n; ++i)
      if (!b.history.append_turn(b.keys, c.id, make_turn(i))) return 1;
    double save = since(t) / n;
    turn_size = b.history.turns(b.keys, c.id).value().front().reply.size() + 300;
    double raw = raw_decrypt_seconds(1000, turn_size) / 1000;
    std::printf("save one turn (durable commit, synchronous=FULL): %.3f ms; raw AES-256-GCM of one turn %.4f ms "
                "(ratio %.0fx)\n",
                save * 1e3, raw * 1e3, save / raw);
  }
  // Bulk setup without fsync: the figures below are reads.
  if (!b.history.database().exec("PRAGMA synchronous=OFF")) return 1;
  for (size_t i = 1; i < conversations; ++i) {
    auto c = b.history.create_conversation(b.keys).value();
    if (!b.history.append_turn(b.keys, c.id, make_turn(int(i)))) return 1;
  }
  {
    auto t = Clock::now();
    auto all = b.history.list(b.keys).value();
    double list = since(t);
    // Each listed conversation costs a data-key unwrap and a head record open.
    double raw = raw_decrypt_seconds(2 * all.size(), 64);
    std::printf("list %zu conversations: %.1f ms; raw AES-256-GCM of the same %zu opens %.1f ms (ratio %.1fx)\n",
                all.size(), list * 1e3, 2 * all.size(), raw * 1e3, list / raw);
  }
  size_t have = conversations + 99;
  auto target = b.history.create_conversation(b.keys).value();
  for (size_t i = have; i < turns; ++i)
    if (!b.history.append_turn(b.keys, target.id, make_turn(int(i)))) return 1;
  {
    auto t = Clock::now();
    auto hits = b.history.search(b.keys, "no such words anywhere", 1).value();
    double search = since(t);
    double raw = raw_decrypt_seconds(turns + conversations, turn_size);
    std::printf("search %zu turns in %zu conversations: %.0f ms (%.0f turns/s); raw AES-256-GCM of the same "
                "records %.0f ms (ratio %.1fx)\n",
                turns, conversations + 1, search * 1e3, double(turns) / search, raw * 1e3, search / raw);
    if (!hits.empty()) return 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
