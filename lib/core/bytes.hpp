// Byte strings, hex and base64, files.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace confer {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

std::string to_hex(ByteView bytes);
// Accepts upper or lower case; rejects odd length and non-hex characters.
Result<Bytes> from_hex(std::string_view hex);

std::string to_base64(ByteView bytes);
// Standard alphabet, padding optional, surrounding/embedded whitespace ignored.
Result<Bytes> from_base64(std::string_view text);

Result<Bytes> read_file(const std::string& path);  // "-" is stdin
// Writes to a temporary file in the same directory, then renames: never a partial file.
Result<void> write_file_atomic(const std::string& path, ByteView bytes, unsigned mode = 0644);

bool all_zero(ByteView bytes) noexcept;
// Appends u16 big-endian length || field; false (nothing appended) past 65535 bytes.
// For AADs and other encodings where variable-length fields must not run together.
bool append_length_prefixed(Bytes& out, ByteView field);
// Constant time for equal lengths.
bool equal_ct(ByteView a, ByteView b) noexcept;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

uint32_t load_le32(const uint8_t* p) noexcept;
uint64_t load_le64(const uint8_t* p) noexcept;
void store_le32(uint8_t* p, uint32_t v) noexcept;
void store_le64(uint8_t* p, uint64_t v) noexcept;

}  // namespace confer
