// C2SP signed notes and transparency-log checkpoints (tlog-checkpoint).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::sigstore {

struct NoteSignature {
  std::string name;
  Bytes key_hint;   // 4 bytes
  Bytes signature;  // the rest
};

// "<origin>\n<size>\n<base64 root>\n[extension lines\n]" "\n" "— <name> <base64(hint ‖ sig)>\n"...
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Bytes root_hash;
  std::vector<std::string> extensions;
  std::string signed_text;  // the note text up to and including the line before the blank line
  std::vector<NoteSignature> signatures;

  static Result<Checkpoint> parse(std::string_view envelope);
};

// Verifies that some signature line whose key hint equals `key_hint` is a valid
// signature by `key` over the note text; lines with other hints (witnesses,
// unknown keys) are ignored. Fails when no line carries the hint or none verifies.
Result<void> verify_checkpoint(const Checkpoint& cp, EVP_PKEY* key, ByteView key_hint);

}  // namespace confer::sigstore
