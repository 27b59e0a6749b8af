// Shared test fixtures: the vectors folder, a temporary folder, a loopback HTTP server,
// running the real binaries (process.hpp), skipping (skip.hpp), and one development
// authority per process (RSA-4096 keys are slow to make).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dev/snp_authority.hpp"
#include "core/bytes.hpp"
#include "process.hpp"
#include "skip.hpp"

namespace confer::test {

// $CONFER_VECTORS, else <source>/../shared/vectors. Empty when absent.
std::string vectors_dir();
// For a test that needs vectors: true when they are there. When absent, under CI=true
// the calling test fails; otherwise it is skipped (skip.hpp) and this returns false, so
// the test returns at once.
bool have_vectors();
Bytes vector_file(const std::string& relative);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, ByteView contents) const;
  std::string file(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

// Serves canned responses on 127.0.0.1 and records each request line's target; or
// answers each request (target, body) with a handler's (status, body), called on the
// server's own thread (so never with doctest assertions).
class LoopbackHttp {
 public:
  struct Reply {
    int status = 200;
    std::string body;
    std::vector<std::string> headers;  // "Name: value"
  };
  using Handler = std::function<Reply(const std::string& target, const std::string& body)>;
  LoopbackHttp(int status, Bytes body);
  explicit LoopbackHttp(Handler handler);
  ~LoopbackHttp();
  std::string base_url() const;
  std::vector<std::string> targets() const;

 private:
  int fd_ = -1;
  int port_ = 0;
  void start();
  int status_ = 200;
  Bytes body_;
  Handler handler_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> targets_;
  bool stop_ = false;
};

// Waits up to `seconds` for `path` to exist and be non-empty; returns its text.
std::string wait_for_file(const std::string& path, int seconds = 60);

const dev::DevAuthority& dev_authority(attest::Product product = attest::Product::milan);

// A signed development report plus its signer, built from a template the caller edits.
struct DevEvidence {
  attest::SnpReport report;
  Bytes bytes;
  crypto::Cert signer;
};
DevEvidence make_dev_evidence(const attest::SnpReport& report, const dev::DevCertSpec* spec = nullptr,
                              attest::Product product = attest::Product::milan);

}  // namespace confer::test
