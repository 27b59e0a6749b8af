// The history decrypted for export (confer export): JSON (one array of conversations),
// JSON Lines (one turn per line) or Markdown, oldest conversation first, each assistant
// turn with the receipt of the server that answered it. One conversation is in memory
// at a time, whatever the history's size; the text goes to `write` as it is made.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

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

// Errc::usage for a conversation that does not exist; errors of the history as they come
// (what was written before them stays written: the caller's sink decides whether to keep it).
Result<ExportCounts> export_history(HistoryStore& history, const Unlocked& keys, ExportFormat format,
                                    const ExportFilter& filter, const std::function<void(std::string_view)>& write);

}  // namespace confer::store
