// Inside lib/store: the head record's plaintext, shared by conversations.cpp and sync_local.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include "store/history.hpp"

namespace confer::store {

nlohmann::json head_json(const Conversation& c);
// The title's logical clock (Conversation::title_clock): a new title, one tick on; which
// of two heads' titles wins; and the clock read from a head (absent in older heads: 0).
void set_title(Conversation& c, std::string title, const std::string& device);
bool title_wins(const Conversation& a, const Conversation& b);
void read_title_clock(const nlohmann::json& head, Conversation& c);
inline constexpr size_t kMaxTitleBytes = 200;

}  // namespace confer::store
