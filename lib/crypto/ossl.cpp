#include "crypto/ossl.hpp"

#include <openssl/err.h>

namespace confer::crypto {

std::string openssl_error() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

void clear_openssl_errors() noexcept { ERR_clear_error(); }

}  // namespace confer::crypto
