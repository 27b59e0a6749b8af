// The server's record store as the sync engine sees it: the change log, compare-and-set
// writes, and the devices' checkpoints (docs/protocol.md "Accounts and storage"). One
// implementation speaks the routes over the attested channel; tests may give others.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "transport/client.hpp"

namespace confer::sync {

struct RemoteChange {
  int64_t seq = 0;
  std::string id;
  int kind = 0;
  int64_t revision = 0;
  bool deleted = false;
  Bytes hash;  // SHA-256 of the ciphertext written
  std::optional<Bytes> ciphertext;
};

struct RemotePage {
  std::vector<RemoteChange> changes;
  int64_t head = 0;
  bool more = false;
};

struct RemoteCheckpoint {
  std::string device;
  int64_t seq = 0;
  Bytes digest;
};

struct PutResult {
  bool stored = false;   // false: a revision conflict
  int64_t revision = 0;  // stored: the new one; conflict: the server's current one
  int64_t seq = 0;
};

// One write of a batch: `id` at expected_revision + 1 (compare-and-set).
struct Write {
  std::string id;
  int kind = 0;
  int64_t expected_revision = 0;
  bool deleted = false;
  ByteView ciphertext;  // empty for a deletion
};

// A batch is at most this many writes and (past its first) about this much ciphertext,
// so its request stays inside the channel's 1 MiB once base64 has grown it by a third.
inline constexpr size_t kMaxBatchWrites = 256;
inline constexpr size_t kMaxBatchBytes = 384u << 10;

class Remote {
 public:
  virtual ~Remote() = default;
  virtual Result<RemotePage> changes(int64_t since) = 0;
  // One result per write, in order (stored, or a conflict with the current revision),
  // the batch applied in one transaction; over quota or a refused session is an error
  // and nothing of the batch was written.
  virtual Result<std::vector<PutResult>> put_many(std::span<const Write> writes) = 0;
  virtual Result<std::vector<RemoteCheckpoint>> checkpoints() = 0;
  virtual Result<void> publish(const std::string& device, int64_t seq, ByteView digest) = 0;
};

// Over a signed-in attested channel. Answers that break the protocol are Errc::protocol,
// a refused session Errc::key, an unreachable store Errc::network.
std::unique_ptr<Remote> channel_remote(transport::ClientChannel& channel,
                                       std::chrono::seconds timeout = std::chrono::seconds(60));

// Parses one POST /v1/store/records answer to `writes` (one result each, stored at
// expected + 1 or a conflict at another revision). For the fuzzer too.
Result<std::vector<PutResult>> parse_put_results(ByteView body, std::span<const Write> writes);

// Parses one GET /v1/store/changes answer (bounded; every field checked). For the fuzzer too.
Result<RemotePage> parse_changes(ByteView body);

}  // namespace confer::sync
