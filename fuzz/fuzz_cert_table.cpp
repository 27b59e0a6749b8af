// The SEV-SNP certificate table that configfs-tsm hands the server as auxblob: 24-byte
// entries (GUID, offset, length) pointing into the same buffer. What parses must
// rebuild into a table that parses to the same certificates.
#include <cstdlib>

#include "server/attestation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64 << 10)) return 0;  // a real table is three certificates, a few KiB
  auto t = confer::server::parse_cert_table({data, size});
  if (!t) return 0;
  auto again = confer::server::parse_cert_table(confer::server::make_cert_table(*t));
  if (!again || again->vcek != t->vcek || again->ask != t->ask || again->ark != t->ark) std::abort();
  return 0;
}
