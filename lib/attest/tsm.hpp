// The Linux configfs-tsm report interface (Documentation/ABI/testing/configfs-tsm-report):
// a confidential guest asks its TSM (SEV-SNP, TDX, ...) for a signed attestation report
// that binds 64 bytes of caller data, without a vendor-specific ioctl.
//
//   mkdir  $root/$name          the kernel populates the entry with its attributes
//   write  $name/inblob         up to 64 bytes of report data (bumps $name/generation)
//   read   $name/outblob        the kernel generates the report on this read
//   read   $name/provider       "sev_guest", "tdx_guest", ...: the outblob's format
//   read   $name/auxblob        optional supplemental data (SEV: the certificate table)
//   read   $name/generation     counts writes to the entry; detects a racing writer
//   rmdir  $root/$name
#pragma once

#include <cstdint>
#include <string>

#include "core/bytes.hpp"

namespace confer::attest {

inline constexpr const char* kTsmReportRoot = "/sys/kernel/config/tsm/report";

struct TsmReport {
  std::string provider;  // e.g. "sev_guest", "tdx_guest" (trailing newline removed)
  Bytes outblob;         // the provider-specific report
  Bytes auxblob;         // may be empty
  uint64_t generation = 0;
};

// Creates a fresh entry "confer-<random hex>" (mode 0700) under `root`, writes the
// 64-byte `report_data` to its inblob, reads outblob, provider, auxblob (absent or empty
// is fine) and generation, and removes the entry on every path. Fails with
// Errc::attestation when the generation shows another writer raced this one, and with
// Errc::usage unless `report_data` is exactly 64 bytes.
//
// `root` may also be a plain directory that mimics configfs (tests): there attributes do
// not appear by themselves, so a missing outblob is polled for (every 5 ms, up to 2 s),
// an absent generation before the write counts as 0, and the attribute files are
// unlinked before the entry is removed.
Result<TsmReport> tsm_report(const std::string& root, ByteView report_data);

}  // namespace confer::attest
