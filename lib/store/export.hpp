// The history decrypted for export (confer export): JSON (one array of conversations),
// JSON Lines (one turn per line) or Markdown, oldest conversation first, each assistant
// turn with the receipt of the server that answered it. One conversation is in memory
// at a time, whatever the history's size; the text goes to `write` as it is made.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/history.hpp"

namespace confer::store {

enum class ExportFormat { json, jsonl, markdown };

struct ExportFilter {
  std::string conversation;  // only this one (empty: all)
  int64_t since = 0;         // only conversations updated at or after this time
};

struct ExportCounts {
  size_t conversations = 0, turns = 0, bytes = 0;
};

// What the filter selects, oldest first (as a transcript reads). Errc::usage for a
// conversation that does not exist. Shared by the plaintext export and the archive.
Result<std::vector<Conversation>> selected_conversations(HistoryStore& history, const Unlocked& keys,
                                                         const ExportFilter& filter);
// The saved evidence documents `turns`' receipts name, by digest (those this machine has).
Result<std::map<std::string, std::string>> evidence_of(HistoryStore& history, const Unlocked& keys,
                                                       const std::vector<Turn>& turns);

// Errc::usage for a conversation that does not exist; errors of the history as they come
// (what was written before them stays written: the caller's sink decides whether to keep it).
Result<ExportCounts> export_history(HistoryStore& history, const Unlocked& keys, ExportFormat format,
                                    const ExportFilter& filter, const std::function<void(std::string_view)>& write);

}  // namespace confer::store
