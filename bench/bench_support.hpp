// What the history and sync benchmarks share: a clock, a turn of typical size, and the
// baseline they are measured against (raw AES-256-GCM opens of records of that size).
#pragma once

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/time.hpp"
#include "crypto/aead.hpp"
#include "store/history.hpp"

namespace confer::bench {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

inline store::Turn make_turn(int i) {
  store::Turn t;
  t.prompt = "question number " + std::to_string(i) + ": " + std::string(80, 'q');
  t.reply = "answer " + std::to_string(i) + ": " + std::string(400, 'a');
  t.model = "bench-model";
  t.receipt = {"AMD SEV-SNP Milan", std::string(96, 'm'), "pinned measurement", std::string(64, 'k'), now_utc(), ""};
  return t;
}

// Raw AES-256-GCM opens of `count` records of `size` bytes: the floor any store sits on.
inline double raw_decrypt_seconds(size_t count, size_t size) {
  uint8_t key[32] = {1};
  crypto::GcmNonce nonce{};
  Bytes plain(size, 'x'), sealed(size + crypto::kGcmTagSize), out(size);
  if (!crypto::aes256gcm_seal(key, nonce, {}, plain, sealed.data())) std::exit(1);
  auto t = Clock::now();
  for (size_t i = 0; i < count; ++i)
    if (!crypto::aes256gcm_open(key, nonce, {}, sealed, out.data())) std::exit(1);
  return since(t);
}

}  // namespace confer::bench
