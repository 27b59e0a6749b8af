#include "support.hpp"

#include <cctype>
#include <cstdlib>
#include <tuple>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <doctest/doctest.h>

namespace confer::test {

namespace fs = std::filesystem;

std::string vectors_dir() {
  const char* env = std::getenv("CONFER_VECTORS");
  fs::path dir = env != nullptr && *env != '\0' ? fs::path(env)
                                                : fs::path(CONFER_SOURCE_DIR) / ".." / "shared" / "vectors";
  std::error_code ec;
  if (fs::is_directory(dir / "sev-snp", ec)) return dir.string();
  return {};
}

bool have_vectors() {
  if (!vectors_dir().empty()) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    FAIL("the test vectors are absent under CI=true; set CONFER_VECTORS or place shared/ beside the repo");
  }
  skip("vectors folder absent (set CONFER_VECTORS)");
  return false;
}

Bytes vector_file(const std::string& relative) {
  auto bytes = read_file(vectors_dir() + "/" + relative);
  REQUIRE_MESSAGE(bytes.ok(), relative);
  return std::move(bytes).value();
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "confer-test-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::file(const std::string& name, ByteView contents) const {
  std::string p = path_ + "/" + name;
  fs::create_directories(fs::path(p).parent_path());
  REQUIRE(write_file_atomic(p, contents).ok());
  return p;
}

std::string TempDir::file(const std::string& name, const std::string& contents) const {
  return file(name, as_bytes(contents));
}

LoopbackHttp::LoopbackHttp(int status, Bytes body) : status_(status), body_(std::move(body)) { start(); }

LoopbackHttp::LoopbackHttp(Handler handler) : handler_(std::move(handler)) { start(); }

void LoopbackHttp::start() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd_, 8) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, 100);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      if (ready <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, size_t(n));
      }
      size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
      std::string target = sp1 != std::string::npos && sp2 != std::string::npos ? req.substr(sp1 + 1, sp2 - sp1 - 1) : "";
      {
        std::lock_guard<std::mutex> lock(mu_);
        targets_.push_back(target);
      }
      int status = status_;
      std::string body(body_.begin(), body_.end());
      std::string extra;
      if (handler_) {
        // The request body, by Content-Length (case-insensitively found).
        size_t head_end = req.find("\r\n\r\n");
        std::string lower = req.substr(0, head_end);
        for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        size_t cl = lower.find("content-length:");
        size_t want = cl == std::string::npos ? 0 : size_t(std::strtoul(lower.c_str() + cl + 15, nullptr, 10));
        std::string request_body = head_end == std::string::npos ? "" : req.substr(head_end + 4);
        while (request_body.size() < want && want < (8u << 20)) {
          ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          request_body.append(buf, size_t(n));
        }
        Reply reply = handler_(target, request_body);
        status = reply.status;
        body = std::move(reply.body);
        for (const auto& h : reply.headers) extra += h + "\r\n";
      }
      std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\n" + extra +
                         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      (void)::write(c, head.data(), head.size());
      (void)::write(c, body.data(), body.size());
      ::close(c);
    }
  });
}

LoopbackHttp::~LoopbackHttp() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  thread_.join();
  ::close(fd_);
}

std::string LoopbackHttp::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> LoopbackHttp::targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

std::string wait_for_file(const std::string& path, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto bytes = read_file(path);
    if (bytes && !bytes->empty()) return std::string(bytes->begin(), bytes->end());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("timed out waiting for " << path);
  return {};
}

const dev::DevAuthority& dev_authority(attest::Product product) {
  static std::mutex mu;
  static std::map<attest::Product, dev::DevAuthority> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(product);
  if (it == cache.end()) {
    auto a = dev::DevAuthority::create(product);
    REQUIRE(a.ok());
    it = cache.emplace(product, std::move(a).value()).first;
  }
  return it->second;
}

DevEvidence make_dev_evidence(const attest::SnpReport& report, const dev::DevCertSpec* spec, attest::Product product) {
  const auto& authority = dev_authority(product);
  dev::DevCertSpec s = spec != nullptr ? *spec : authority.spec_for(report);
  auto signer = authority.issue(s);
  REQUIRE(signer.ok());
  auto bytes = dev::sign_report(report, signer->key.get());
  REQUIRE(bytes.ok());
  return DevEvidence{report, std::move(bytes).value(), signer->cert};
}

}  // namespace confer::test
