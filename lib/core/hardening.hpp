// Processes that hold keys and prompts (confer, confer-server) call this first thing in
// main: no core dumps, and not dumpable, so other processes of the same user cannot
// ptrace them or read their memory through /proc.
#pragma once

#include "core/result.hpp"

namespace confer {

// prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0 (soft and hard). An error names which
// step failed; the caller decides whether to go on.
Result<void> harden_process();

}  // namespace confer
