#include "transport/frames.hpp"

#include <openssl/rand.h>

#include <atomic>
#include <chrono>

#include <fmt/format.h>

#include <google/protobuf/stubs/logging.h>

#include "confer.pb.h"

namespace confer::transport {

namespace {

// libprotobuf logs an ERROR line for every string field with invalid UTF-8, so a hostile
// peer could flood our stderr; the parse fails either way, which is all we need.
void quiet_protobuf() {
  static const bool once = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)once;
}

}  // namespace

int64_t random_id() {
  int64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) == 1) return v;
  // Ids travel inside the encrypted channel and need only be distinct, not secret: if the
  // generator fails, a process-wide counter over the clock still keeps them apart.
  static std::atomic<int64_t> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return static_cast<int64_t>(now) ^ (counter.fetch_add(1) << 48);
}

std::vector<Bytes> encode_frames(ByteView message, int64_t chunk_id) {
  size_t total = message.empty() ? 1 : (message.size() + kMaxFramePayload - 1) / kMaxFramePayload;
  std::vector<Bytes> out;
  out.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    size_t begin = i * kMaxFramePayload;
    size_t len = std::min(kMaxFramePayload, message.size() - begin);
    confer::NoiseTransportFrame f;
    f.set_chunk_id(chunk_id);
    f.set_chunk_index(static_cast<uint32_t>(i));
    f.set_total_chunks(static_cast<uint32_t>(total));
    f.set_payload(reinterpret_cast<const char*>(message.data() + begin), len);
    std::string s = f.SerializeAsString();
    out.emplace_back(s.begin(), s.end());
  }
  return out;
}

FrameAssembler::FrameAssembler(size_t max_message_size, size_t max_open_groups)
    : max_message_size_(max_message_size), max_open_groups_(max_open_groups) {}

size_t FrameAssembler::buffered() const {
  size_t total = 0;
  for (const auto& [id, g] : groups_) total += g.bytes;
  return total;
}

Result<std::optional<Bytes>> FrameAssembler::add(ByteView bytes) {
  quiet_protobuf();
  confer::NoiseTransportFrame f;
  if (!f.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(Errc::protocol, "frame: expected a NoiseTransportFrame, saw bytes that do not decode");
  uint32_t total = f.has_total_chunks() ? f.total_chunks() : 1;
  uint32_t index = f.chunk_index();
  size_t max_chunks = max_message_size_ / kMaxFramePayload + 1;
  if (total == 0 || total > max_chunks)
    return make_error(Errc::protocol, fmt::format("frame: expected 1 to {} chunks, saw {}", max_chunks, total));
  if (index >= total)
    return make_error(Errc::protocol, fmt::format("frame: chunk index {} is not below its total {}", index, total));
  if (f.payload().size() > kMaxFramePayload)
    return make_error(Errc::protocol, fmt::format("frame: payload of {} bytes exceeds {}", f.payload().size(),
                                                  kMaxFramePayload));
  Bytes payload(f.payload().begin(), f.payload().end());
  if (total == 1) return std::optional<Bytes>(std::move(payload));

  auto it = groups_.find(f.chunk_id());
  if (it == groups_.end()) {
    if (groups_.size() >= max_open_groups_)
      return make_error(Errc::protocol, fmt::format("frame: more than {} incomplete messages at once",
                                                    max_open_groups_));
    Group g;
    g.total = total;
    g.pieces.resize(total);
    it = groups_.emplace(f.chunk_id(), std::move(g)).first;
  }
  Group& g = it->second;
  if (total != g.total)
    return make_error(Errc::protocol, fmt::format("frame: message announced {} chunks, then {}", g.total, total));
  auto& slot = g.pieces[index];
  if (slot) {
    g.bytes -= slot->size();
    --g.received;
  }
  g.bytes += payload.size();
  if (g.bytes > max_message_size_)
    return make_error(Errc::protocol, fmt::format("frame: message exceeds {} bytes", max_message_size_));
  slot = std::move(payload);
  ++g.received;
  if (g.received < g.total) return std::optional<Bytes>();
  Bytes whole;
  whole.reserve(g.bytes);
  for (auto& piece : g.pieces) whole.insert(whole.end(), piece->begin(), piece->end());
  groups_.erase(it);
  return std::optional<Bytes>(std::move(whole));
}

Bytes encode_request(const Request& r) {
  confer::WebsocketRequest m;
  m.set_id(r.id);
  m.set_verb(r.verb);
  m.set_path(r.path);
  if (!r.body.empty()) m.set_body(reinterpret_cast<const char*>(r.body.data()), r.body.size());
  std::string s = m.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

Result<Request> decode_request(ByteView bytes) {
  quiet_protobuf();
  confer::WebsocketRequest m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(Errc::protocol, "request: expected a WebsocketRequest, saw bytes that do not decode");
  if (!m.has_id()) return make_error(Errc::protocol, "request: missing required field id");
  if (m.has_chunk())
    return make_error(Errc::protocol, "request: streamed uploads are not supported by this server");
  if (m.verb().empty() || m.path().empty())
    return make_error(Errc::protocol, "request: expected both verb and path");
  Request r;
  r.id = m.id();
  r.verb = m.verb();
  r.path = m.path();
  r.body.assign(m.body().begin(), m.body().end());
  return r;
}

Bytes encode_response(const Response& r) {
  confer::WebsocketResponse m;
  m.set_id(r.id);
  m.set_status(r.status);
  if (!r.body.empty()) m.set_body(reinterpret_cast<const char*>(r.body.data()), r.body.size());
  for (const auto& [k, v] : r.headers) (*m.mutable_headers())[k] = v;
  std::string s = m.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

Result<Response> decode_response(ByteView bytes) {
  quiet_protobuf();
  confer::WebsocketResponse m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(Errc::protocol, "response: expected a WebsocketResponse, saw bytes that do not decode");
  if (!m.has_id()) return make_error(Errc::protocol, "response: missing required field id");
  Response r;
  r.id = m.id();
  r.status = m.status();
  r.body.assign(m.body().begin(), m.body().end());
  for (const auto& [k, v] : m.headers()) r.headers[k] = v;
  return r;
}

}  // namespace confer::transport
