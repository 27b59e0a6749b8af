// Application messages over Noise: NoiseTransportFrame chunking and reassembly, and the
// WebsocketRequest / WebsocketResponse RPC envelope (DESIGN §3, CONFER-PROTOCOL §6-7).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bytes.hpp"

namespace confer::transport {

// Noise plaintext limit 65519 minus the frame's own overhead (30 bytes).
inline constexpr size_t kMaxFramePayload = 65489;

// Serialised NoiseTransportFrames for one message, each at most kMaxFramePayload of payload.
std::vector<Bytes> encode_frames(ByteView message, int64_t chunk_id);

// Reassembles frames into messages. Bounded: total size, open groups, chunk counts.
class FrameAssembler {
 public:
  FrameAssembler(size_t max_message_size, size_t max_open_groups);
  // A complete message when this frame finished one, nothing while one is incomplete,
  // an error (Errc::protocol) for a frame that breaks the rules or the bounds.
  Result<std::optional<Bytes>> add(ByteView frame);
  // Payload bytes held for incomplete messages (what a half-sent request costs).
  size_t buffered() const;

 private:
  struct Group {
    uint32_t total = 0;
    size_t received = 0;
    size_t bytes = 0;
    std::vector<std::optional<Bytes>> pieces;
  };
  size_t max_message_size_;
  size_t max_open_groups_;
  std::unordered_map<int64_t, Group> groups_;
};

struct Request {
  int64_t id = 0;
  std::string verb;
  std::string path;
  Bytes body;
};

struct Response {
  int64_t id = 0;
  int32_t status = 0;
  Bytes body;
  std::map<std::string, std::string> headers;
};

Bytes encode_request(const Request& r);
Result<Request> decode_request(ByteView bytes);
Bytes encode_response(const Response& r);
Result<Response> decode_response(ByteView bytes);

int64_t random_id();  // random (CSPRNG; distinct even if it fails), for chunk and request ids

}  // namespace confer::transport
