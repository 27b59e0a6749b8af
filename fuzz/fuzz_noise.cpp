// The Noise XX handshake and transport reading untrusted bytes: the input is offered as
// message 1 to a responder, as message 2 to an initiator that wrote message 1, as
// message 3 to a responder that wrote message 2, and as a transport message to a
// completed pair. Keys are fixed, so every input replays exactly.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>

#include "core/bytes.hpp"
#include "noise/noise.hpp"

using namespace confer;
using namespace confer::noise;

namespace {

std::optional<KeyPair> key(uint8_t fill) {
  uint8_t priv[32];
  for (uint8_t& b : priv) b = fill;
  auto kp = KeyPair::from_private(priv);
  if (!kp) return std::nullopt;
  return std::move(kp).value();
}

std::optional<HandshakeState> party(Role role) {
  auto s = key(role == Role::initiator ? 0x11 : 0x22);
  auto e = key(role == Role::initiator ? 0x33 : 0x44);
  if (!s || !e) std::abort();
  auto hs = HandshakeState::create(role, std::move(*s), as_bytes("fuzz"), std::move(e));
  if (!hs) std::abort();
  return std::move(hs).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  const ByteView input(data, size);
  const ByteView payload = as_bytes("payload");

  // Message 1 to a fresh responder; if it parses, the responder answers, which runs
  // the DH against whatever ephemeral key the input carried.
  {
    auto resp = party(Role::responder);
    if (resp->read_message(input)) (void)resp->write_message(payload);
    if (resp->complete()) std::abort();
  }

  // Message 2 to an initiator that has written message 1.
  auto init = party(Role::initiator);
  auto resp = party(Role::responder);
  auto m1 = init->write_message(payload);
  if (!m1) std::abort();
  {
    auto probe = party(Role::initiator);
    if (!probe->write_message(payload)) std::abort();
    if (probe->read_message(input)) (void)probe->write_message(payload);
  }

  // Message 3 to a responder that has written message 2.
  if (!resp->read_message(*m1)) std::abort();
  auto m2 = resp->write_message(payload);
  if (!m2 || !init->read_message(*m2)) std::abort();
  auto m3 = init->write_message(payload);
  if (!m3) std::abort();
  {
    auto probe = party(Role::responder);
    if (!probe->read_message(*m1) || !probe->write_message(payload)) std::abort();
    if (probe->read_message(input) && !probe->complete()) std::abort();
  }

  // A transport message to a completed pair, both directions.
  if (!resp->read_message(*m3) || !init->complete() || !resp->complete()) std::abort();
  auto ti = init->split();
  auto tr = resp->split();
  if (!ti || !tr) std::abort();
  // Anything accepted must be exactly what the sender would have produced: both
  // directions start at nonce 0.
  if (auto from_init = tr->decrypt(input)) {
    auto again = ti->encrypt(*from_init);
    if (!again || !equal_ct(*again, input)) std::abort();
  }
  if (auto from_resp = ti->decrypt(input)) {
    auto again = tr->encrypt(*from_resp);
    if (!again || !equal_ct(*again, input)) std::abort();
  }
  return 0;
}
