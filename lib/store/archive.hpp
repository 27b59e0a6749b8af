// The portable encrypted archive of confer export --encrypted / confer import
// (docs/archive.md): a passphrase through Argon2id gives the key; each conversation is
// one libsodium secretstream message (XChaCha20-Poly1305), the header bound into every
// one, and a final message counts what came before, so an archive cut short, reordered,
// spliced or altered anywhere does not import. One conversation is in memory at a time
// on both sides.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "keys/file_authenticator.hpp"
#include "store/export.hpp"
#include "store/history.hpp"

namespace confer::store {

inline constexpr size_t kArchiveHeaderSize = 60;
inline constexpr size_t kMaxArchiveMessage = 64u << 20;  // one conversation's JSON

struct ArchivedConversation {
  Conversation head;
  std::vector<Turn> turns;
  std::map<std::string, std::string> evidence;  // the saved evidence its receipts name, by digest
};

struct ArchiveCounts {
  size_t conversations = 0, turns = 0;
  size_t skipped = 0, skipped_turns = 0;  // import: what this history has already
};

// Writes the archive of what the filter selects to `write`. Errc::usage for a
// passphrase under 8 bytes or Argon2id limits out of range.
Result<ArchiveCounts> write_archive(HistoryStore& history, const Unlocked& keys, const ExportFilter& filter,
                                    ByteView passphrase, const keys::Argon2Params& params,
                                    const std::function<Result<void>(ByteView)>& write);

// `read` fills up to n bytes and returns how many (0 at the end). Each conversation is
// given to `take` once its message has opened. Errc::key when the first message does not
// open (a wrong passphrase, or an altered header); Errc::parse for anything else that is
// not an intact archive, naming where.
using ArchiveReader = std::function<Result<size_t>(uint8_t* into, size_t n)>;
Result<ArchiveCounts> read_archive(const ArchiveReader& read, ByteView passphrase,
                                   const std::function<Result<void>(ArchivedConversation&&)>& take);

// One conversation message's JSON, as read_archive checks it once it has opened (every
// field typed, bounded). For the fuzzer too.
Result<ArchivedConversation> parse_archived_conversation(std::string_view text);

// read_archive into the history, all in one transaction committed only once the
// archive's final message has opened: a bad archive leaves the history as it was.
// Conversations whose id the history has already are skipped (counted).
Result<ArchiveCounts> import_archive(HistoryStore& history, const Unlocked& keys, const ArchiveReader& read,
                                     ByteView passphrase);

}  // namespace confer::store
