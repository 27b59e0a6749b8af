// The fake authenticator's state file and the libfido2 I/O hooks that load and save it.
#include <exception>

#include "dev/fake_authenticator.hpp"

namespace confer::dev {

namespace {

using nlohmann::json;
constexpr size_t kMaxStateFile = 1u << 20;

Result<Bytes> hex_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return make_error(Errc::parse, std::string("fake authenticator credential: expected hex '") + key + "'");
  return from_hex(it->get<std::string>());
}

Result<FakeCredential> credential_from_json(const json& j) {
  FakeCredential c;
  CONFER_TRY(c.id, hex_field(j, "id"));
  CONFER_TRY(c.user_id, hex_field(j, "user_id"));
  CONFER_TRY(c.key_der, hex_field(j, "key"));
  CONFER_TRY(c.cred_random_uv, hex_field(j, "cred_random_uv"));
  CONFER_TRY(c.cred_random_no_uv, hex_field(j, "cred_random_no_uv"));
  if (c.cred_random_uv.size() != 32 || c.cred_random_no_uv.size() != 32)
    return make_error(Errc::parse, "fake authenticator credential: CredRandoms are 32 bytes");
  c.rp_id = j.value("rp_id", std::string("confer.to"));
  c.rk = j.value("rk", false);
  c.hmac_secret = j.value("hmac_secret", true);
  c.counter = j.value("counter", 0u);
  return c;
}

struct Handle {
  std::string path;
  FakeAuthenticator fake;
};

void* io_open(const char* path) noexcept {
  try {
    std::string p(path);
    std::string prefix(kFakeDevicePrefix);
    if (p.rfind(prefix, 0) != 0) return nullptr;
    p.erase(0, prefix.size());
    auto state = load_fake_state(p);
    if (!state.ok()) return nullptr;
    return new Handle{p, FakeAuthenticator(std::move(state.value()))};
  } catch (...) {
    return nullptr;
  }
}

void io_close(void* h) noexcept {
  auto* handle = static_cast<Handle*>(h);
  try {
    (void)save_fake_state(handle->path, handle->fake.state());
  } catch (...) {
  }
  delete handle;
}

int io_read(void* h, unsigned char* buf, size_t len, int) noexcept {
  try {
    return static_cast<Handle*>(h)->fake.read(buf, len);
  } catch (...) {
    return -1;
  }
}

int io_write(void* h, const unsigned char* buf, size_t len) noexcept {
  try {
    return static_cast<Handle*>(h)->fake.write(buf, len);
  } catch (...) {
    return -1;
  }
}

}  // namespace

Result<FakeState> fake_state_from_json(const json& j) {
  if (!j.is_object()) return make_error(Errc::parse, "fake authenticator state: expected a JSON object");
  try {
    FakeState s;
    if (j.contains("pin") && j["pin"].is_string()) s.pin = j["pin"].get<std::string>();
    s.pin_retries = j.value("pin_retries", 8);
    s.pin_failures = j.value("pin_failures", 0);
    s.uv = j.value("uv", false);
    s.ctap21 = j.value("ctap", std::string("2.1")) == "2.1";
    if (j.contains("protocols")) s.protocols = j["protocols"].get<std::vector<int>>();
    s.hmac_secret = j.value("hmac_secret", true);
    s.rk = j.value("rk", true);
    s.behaviour = j.value("behaviour", std::string());
    if (j.contains("credentials"))
      for (const auto& c : j["credentials"]) {
        CONFER_TRY(FakeCredential fc, credential_from_json(c));
        s.credentials.push_back(std::move(fc));
      }
    return s;
  } catch (const std::exception& e) {
    return make_error(Errc::parse, std::string("fake authenticator state: ") + e.what());
  }
}

json fake_state_to_json(const FakeState& s) {
  json j;
  j["pin"] = s.pin ? json(*s.pin) : json(nullptr);
  j["pin_retries"] = s.pin_retries;
  j["pin_failures"] = s.pin_failures;
  j["uv"] = s.uv;
  j["ctap"] = s.ctap21 ? "2.1" : "2.0";
  j["protocols"] = s.protocols;
  j["hmac_secret"] = s.hmac_secret;
  j["rk"] = s.rk;
  j["behaviour"] = s.behaviour;
  j["credentials"] = json::array();
  for (const auto& c : s.credentials)
    j["credentials"].push_back({{"id", to_hex(c.id)}, {"rp_id", c.rp_id}, {"user_id", to_hex(c.user_id)},
                                {"rk", c.rk}, {"key", to_hex(c.key_der)}, {"cred_random_uv", to_hex(c.cred_random_uv)},
                                {"cred_random_no_uv", to_hex(c.cred_random_no_uv)}, {"hmac_secret", c.hmac_secret},
                                {"counter", c.counter}});
  return j;
}

Result<FakeState> load_fake_state(const std::string& path) {
  CONFER_TRY(Bytes text, read_file(path));
  if (text.size() > kMaxStateFile) return make_error(Errc::parse, "fake authenticator state: file too large");
  CONFER_TRY(json j, parse_json(ByteView(text), "fake authenticator state"));
  return fake_state_from_json(j);
}

Result<void> save_fake_state(const std::string& path, const FakeState& s) {
  std::string text = dump_json(fake_state_to_json(s), 1) + "\n";
  return write_file_atomic(path, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0600);
}

keys::fido::IoFunctions fake_authenticator_io() { return {io_open, io_close, io_read, io_write}; }

}  // namespace confer::dev
