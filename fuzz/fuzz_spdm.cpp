// The NVIDIA GPU evidence parsers: the SPDM report, the leaf's DICE extension and the
// expected-measurements file. The first byte picks which one the rest of the input is
// fed to.
#include <string_view>

#include "attest/gpu_verify.hpp"
#include "attest/spdm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 21)) return 0;  // past the parser's own 1 MiB bound, which tests/ covers
  using namespace confer::attest;
  if (size == 0) return 0;
  confer::ByteView rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto report = parse_spdm_report(rest);
      if (report) {
        (void)report->driver_version();
        (void)report->vbios_version();
        (void)report->fwid();
        (void)report->block(1);
      }
      break;
    }
    case 1: {
      auto info = decode_dice_tcb_info(rest);
      if (info) (void)info->fwids.size();
      break;
    }
    default: {
      std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
      (void)parse_gpu_measurements_json(text);
      break;
    }
  }
  return 0;
}
