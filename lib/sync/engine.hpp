// confer sync (docs/sync.md): pull the change log since the cursor, check every entry
// against what this device knows (consecutive numbers, revisions that only go up by
// one, bytes that match the log's hash, nothing withheld), apply it to the history,
// push what is pending with compare-and-set, and publish a MAC'd checkpoint of the log
// so the other devices can tell when the server shows them a different history.
//
// Every page is applied in one transaction with the cursor, so an interrupted sync
// resumes where it stopped, and rerunning it is always safe.
#pragma once

#include <functional>
#include <string>

#include "store/history.hpp"
#include "sync/remote.hpp"

namespace confer::sync {

struct Progress {
  const char* phase = "";  // "pull" or "push"
  int64_t done = 0;
  int64_t total = 0;
};

struct Report {
  size_t pulled = 0;     // records from other devices applied here
  size_t pushed = 0;     // records written to the server
  size_t conflicts = 0;  // writes another device beat, merged and written again
  size_t bytes_down = 0, bytes_up = 0;
  int64_t cursor = 0;    // the last change of the log this device has checked
  size_t devices = 0;    // other devices whose checkpoints were checked
};

// Errc::protocol (exit 5) for a server caught dropping, rolling back, reordering or
// forking records, naming what was seen; the history is left as it was before the page
// that showed it.
Result<Report> run(store::HistoryStore& history, const store::Unlocked& keys, Remote& remote,
                   const std::function<void(const Progress&)>& progress = {});

// The log's chain: SHA-256("confer/chain/v1" || previous || u64 seq || u16 len || id ||
// u8 kind || u64 revision || u8 deleted || hash), starting from 32 zero bytes.
Bytes chain_next(ByteView previous, const RemoteChange& change);
// HMAC-SHA-256(records key, "confer/checkpoint/v1" || u16 len || device || u64 seq || chain).
Result<Bytes> checkpoint_digest(const crypto::SecretBytes& records_key, const std::string& device, int64_t seq,
                                ByteView chain);

}  // namespace confer::sync
