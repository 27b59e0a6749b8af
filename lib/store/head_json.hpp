// Inside lib/store: the head record's plaintext, shared by conversations.cpp and sync_local.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include "store/history.hpp"

namespace confer::store {

nlohmann::json head_json(const Conversation& c);

}  // namespace confer::store
