// The frame decoder and the RPC envelopes: what a peer sends after the handshake.
#include "transport/frames.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;  // bounded runs; the parsers' own size limits are tested in tests/
  using namespace confer::transport;
  static FrameAssembler assembler(1 << 20, 8);  // state across inputs, as on a connection
  auto r = assembler.add({data, size});
  if (r && *r) {
    (void)decode_request(**r);
    (void)decode_response(**r);
  }
  (void)decode_request({data, size});
  (void)decode_response({data, size});
  return 0;
}
