#include "crypto/secret.hpp"

#include <openssl/rand.h>
#include <sodium.h>

#include <string>
#include <utility>

namespace confer::crypto {

Result<void> sodium_ready() {
  // sodium_init() is itself safe to call from several threads; the static makes the
  // outcome a single decision per process.
  static const int status = sodium_init();
  if (status < 0) return make_error(Errc::internal, "libsodium: initialisation failed");
  return {};
}

Result<void> fill_random(uint8_t* p, size_t n) {
  if (n > 0 && RAND_bytes(p, static_cast<int>(n)) != 1)
    return make_error(Errc::internal, "the random generator failed");
  return {};
}

Result<SecretBytes> SecretBytes::random(size_t size) {
  CONFER_TRY(SecretBytes s, allocate(size));
  CONFER_TRY_VOID(fill_random(s.data(), s.size()));
  return s;
}

Result<SecretBytes> SecretBytes::allocate(size_t size) {
  CONFER_TRY_VOID(sodium_ready());
  if (size == 0) return SecretBytes();
  void* p = sodium_malloc(size);
  if (p == nullptr)
    return make_error(Errc::internal,
                      "libsodium: cannot allocate " + std::to_string(size) + " bytes of guarded memory");
  // sodium_malloc fills with a canary pattern; start from a known state.
  sodium_memzero(p, size);
  return SecretBytes(static_cast<uint8_t*>(p), size);
}

SecretBytes::~SecretBytes() { release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::release() noexcept {
  // sodium_free zeroes the region before unmapping it.
  if (data_ != nullptr) sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
}

bool SecretBytes::equals(ByteView other) const noexcept {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void SecretBytes::wipe() noexcept {
  if (data_ != nullptr) sodium_memzero(data_, size_);
}

}  // namespace confer::crypto
