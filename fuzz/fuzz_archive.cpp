// The encrypted archive of confer import: the whole reader on any bytes (the key
// derivation only where the header asks for the cheapest, so the fuzzer spends its time
// on parsing), and a conversation message's JSON as it is checked once opened.
#include <cstdint>
#include <string>

#include "store/archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace confer;
  if (size > (1u << 20)) return 0;
  (void)store::parse_archived_conversation(std::string_view(reinterpret_cast<const char*>(data), size));
  auto u32 = [&](size_t at) {
    return uint32_t(data[at]) << 24 | uint32_t(data[at + 1]) << 16 | uint32_t(data[at + 2]) << 8 | uint32_t(data[at + 3]);
  };
  if (size >= store::kArchiveHeaderSize && (u32(12) > 1 || u32(16) > 8192)) return 0;
  size_t at = 0;
  store::ArchiveReader read = [&](uint8_t* into, size_t n) -> Result<size_t> {
    size_t k = std::min(n, size - at);
    std::copy_n(data + at, k, into);
    at += k;
    return k;
  };
  static const std::string passphrase = "correct horse battery staple";
  (void)store::read_archive(read, as_bytes(passphrase), [](store::ArchivedConversation&&) -> Result<void> { return {}; });
  return 0;
}
