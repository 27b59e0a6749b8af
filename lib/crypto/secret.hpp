// Secret bytes in libsodium guarded memory: locked into RAM, fenced by guard pages,
// zeroed when freed. Move-only; the contents are never printed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace confer::crypto {

// Initialises libsodium once per process (thread-safe); later calls return the first
// outcome. Every user of libsodium calls this before its first libsodium call.
Result<void> sodium_ready();

// `n` bytes from OpenSSL's CSPRNG; Errc::internal when it fails (never silently weak).
Result<void> fill_random(uint8_t* p, size_t n);

class SecretBytes {
 public:
  // Empty: no allocation, size() == 0, data() == nullptr.
  SecretBytes() noexcept = default;
  // `size` zero bytes in guarded memory; Errc::internal when libsodium cannot allocate.
  static Result<SecretBytes> allocate(size_t size);
  // `size` random bytes in guarded memory (fill_random).
  static Result<SecretBytes> random(size_t size);

  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() noexcept { return data_; }
  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  ByteView view() const noexcept { return {data_, size_}; }

  // Constant time in the contents (sodium_memcmp); false when the sizes differ.
  bool equals(ByteView other) const noexcept;
  // Overwrites the contents with zeros, keeping the allocation.
  void wipe() noexcept;

 private:
  SecretBytes(uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}
  void release() noexcept;

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace confer::crypto
