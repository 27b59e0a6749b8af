#include "crypto/ossl.hpp"

#include <openssl/err.h>

#include <atomic>

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

namespace {
std::atomic<bool> g_keep_detail{false};
}  // namespace

void keep_openssl_detail(bool on) noexcept { g_keep_detail = on; }

std::string openssl_detail() {
  std::string raw = openssl_error();
  return g_keep_detail ? " [OpenSSL: " + raw + "]" : std::string();
}

}  // namespace confer::crypto
