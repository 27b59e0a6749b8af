// Verification time: RFC 3339 in, seconds since the epoch inside.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace confer {

using UnixTime = int64_t;

// "2025-06-01T00:00:00Z", "2025-06-01T02:00:00+02:00", fractional seconds allowed.
Result<UnixTime> parse_rfc3339(std::string_view text);
std::string format_rfc3339(UnixTime t);  // always UTC, "Z"
// "YYYY-MM-DD HH:MM" in the local time zone, for people (never for parsing back).
std::string format_local_minutes(UnixTime t);

UnixTime now_utc();

}  // namespace confer
