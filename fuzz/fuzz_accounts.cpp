// Accounts and sync, both ends: confer-server's account and storage routes (bodies from
// any client), and what the client parses from a server (the change log, a session
// token, a batch write's results, a clientDataJSON and authenticator data checked as an assertion).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "account/token.hpp"
#include "account/webauthn.hpp"
#include "server/accounts.hpp"
#include "sync/remote.hpp"

namespace {

confer::server::AccountService& service() {
  static std::unique_ptr<confer::server::AccountService> s = [] {
    static std::string dir = "/tmp/confer-fuzz-accounts-" + std::to_string(::getpid());
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    std::string path = dir + "/store.db";
    auto store = confer::server::store::open_store("sqlite:" + path);
    confer::server::AccountConfig config;
    config.token_key.assign(32, 7);
    return std::make_unique<confer::server::AccountService>(
        store ? std::shared_ptr<confer::server::store::Store>(std::move(store).value()) : nullptr, config,
        confer::Bytes(32, 1));
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  using namespace confer;
  ByteView input(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sync::parse_changes(input);
  static const Bytes one(16, 1);
  static const sync::Write writes[2] = {{"a", 2, 0, false, one}, {"b", 3, 4, true, {}}};
  (void)sync::parse_put_results(input, writes);
  (void)account::verify_token(Bytes(32, 7), text, 1'800'000'000);
  account::Assertion a;
  a.client_data_json = std::string(text);
  a.authenticator_data.assign(data, data + std::min<size_t>(size, 64));
  a.signature.assign(data, data + std::min<size_t>(size, 72));
  (void)account::verify_assertion(a, {Bytes(32, 1), "https://confer.to", "confer.to"}, account::kCoseEs256,
                                  Bytes(data, data + std::min<size_t>(size, 64)));
  (void)account::from_base64url(text);
  static server::ConnectionAuth anonymous;
  static server::ConnectionAuth signed_in;
  signed_in.account = "fuzz";
  signed_in.expires = INT64_MAX;
  auto& svc = service();
  for (const char* path : {"/v1/account/register", "/v1/account/login", "/v1/account/session"}) {
    (void)svc.handle(anonymous, "POST", "/v1/account/challenge", {}, 1'800'000'000, nullptr);
    (void)svc.handle(anonymous, "POST", path, input, 1'800'000'000, nullptr);
  }
  (void)svc.handle(signed_in, "PUT", "/v1/store/records/fuzz-1", input, 1'800'000'000, nullptr);
  (void)svc.handle(signed_in, "POST", "/v1/store/records", input, 1'800'000'000, nullptr);
  (void)svc.handle(signed_in, "PUT", "/v1/store/checkpoints/dev", input, 1'800'000'000, nullptr);
  (void)svc.handle(signed_in, "GET", "/v1/store/changes?" + std::string(text.substr(0, 64)), {}, 1'800'000'000, nullptr);
  return 0;
}
