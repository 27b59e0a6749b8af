#include "dev/fake_authenticator.hpp"

#include <cbor.h>

#include <algorithm>
#include <cstring>

#include "core/paths.hpp"
#include "crypto/hash.hpp"
#include "crypto/secret.hpp"
#include "dev/fake_ctap.hpp"

namespace confer::dev {

namespace {

// CTAP2 status codes the fake answers with.
constexpr uint8_t kOk = 0x00, kInvalidCommand = 0x01, kInvalidParameter = 0x02, kInvalidLength = 0x03,
                  kInvalidCbor = 0x12, kMissingParameter = 0x14, kOperationDenied = 0x27, kInvalidOption = 0x2C,
                  kNoCredentials = 0x2E, kPinInvalid = 0x31, kPinBlocked = 0x32, kPinAuthInvalid = 0x33,
                  kPinAuthBlocked = 0x34, kPinNotSet = 0x35, kPinRequired = 0x36, kUnauthorizedPermission = 0x40,
                  kInvalidSubcommand = 0x3E;
constexpr int kMaxPinRetries = 8;
constexpr uint8_t kAaguid[16] = {'c', 'o', 'n', 'f', 'e', 'r', '-', 'd', 'e', 'v', '-', 'f', 'a', 'k', 'e', '!'};

// --- CBOR, the small part of it CTAP2 uses -------------------------------------------
struct ItemFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using Item = std::unique_ptr<cbor_item_t, ItemFree>;

Item load(ByteView b) {
  cbor_load_result res{};
  cbor_item_t* it = cbor_load(b.data(), b.size(), &res);
  if (res.error.code != CBOR_ERR_NONE) {
    if (it) cbor_decref(&it);
    return nullptr;
  }
  return Item(it);
}

bool int_key_is(const cbor_item_t* k, int key) {
  if (key >= 0) return cbor_isa_uint(k) && cbor_get_int(k) == static_cast<uint64_t>(key);
  return cbor_isa_negint(k) && cbor_get_int(k) == static_cast<uint64_t>(-1 - key);
}
const cbor_item_t* get(const cbor_item_t* map, int key) {
  if (!map || !cbor_isa_map(map)) return nullptr;
  cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i)
    if (int_key_is(pairs[i].key, key)) return pairs[i].value;
  return nullptr;
}
const cbor_item_t* get(const cbor_item_t* map, const char* key) {
  if (!map || !cbor_isa_map(map)) return nullptr;
  cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    const cbor_item_t* k = pairs[i].key;
    if (cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == std::strlen(key) &&
        std::memcmp(cbor_string_handle(k), key, std::strlen(key)) == 0)
      return pairs[i].value;
  }
  return nullptr;
}
std::optional<Bytes> bytes_of(const cbor_item_t* it) {
  if (!it || !cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it)) return std::nullopt;
  const uint8_t* p = cbor_bytestring_handle(it);
  return Bytes(p, p + cbor_bytestring_length(it));
}
std::optional<std::string> text_of(const cbor_item_t* it) {
  if (!it || !cbor_isa_string(it) || !cbor_string_is_definite(it)) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(it)), cbor_string_length(it));
}
std::optional<int64_t> int_of(const cbor_item_t* it) {
  if (!it) return std::nullopt;
  if (cbor_isa_uint(it)) return static_cast<int64_t>(cbor_get_int(it));
  if (cbor_isa_negint(it)) return -1 - static_cast<int64_t>(cbor_get_int(it));
  return std::nullopt;
}
std::optional<bool> bool_of(const cbor_item_t* it) {
  if (!it || !cbor_is_bool(it)) return std::nullopt;
  return cbor_get_bool(it);
}

Item uint_item(uint64_t v) {
  if (v <= 0xff) return Item(cbor_build_uint8(static_cast<uint8_t>(v)));
  if (v <= 0xffff) return Item(cbor_build_uint16(static_cast<uint16_t>(v)));
  return Item(cbor_build_uint32(static_cast<uint32_t>(v)));
}
Item int_item(int v) { return v >= 0 ? uint_item(static_cast<uint64_t>(v)) : Item(cbor_build_negint8(static_cast<uint8_t>(-1 - v))); }
Item bstr(ByteView b) { return Item(cbor_build_bytestring(b.data(), b.size())); }
Item tstr(const std::string& s) { return Item(cbor_build_string(s.c_str())); }
Item boolean(bool b) { return Item(cbor_build_bool(b)); }

// Entries go in in CTAP2 canonical order: the caller adds them sorted.
class MapBuilder {
 public:
  MapBuilder& add(Item k, Item v) {
    entries_.emplace_back(std::move(k), std::move(v));
    return *this;
  }
  MapBuilder& add(int k, Item v) { return add(int_item(k), std::move(v)); }
  MapBuilder& add(const char* k, Item v) { return add(tstr(k), std::move(v)); }
  Item build() {
    Item map(cbor_new_definite_map(entries_.size()));
    for (auto& [k, v] : entries_) cbor_map_add(map.get(), cbor_pair{cbor_move(k.release()), cbor_move(v.release())});
    entries_.clear();
    return map;
  }

 private:
  std::vector<std::pair<Item, Item>> entries_;
};

Item array_of(std::vector<Item> items) {
  Item a(cbor_new_definite_array(items.size()));
  for (auto& i : items) cbor_array_push(a.get(), cbor_move(i.release()));
  return a;
}

Bytes serialize(const cbor_item_t* it) {
  unsigned char* buf = nullptr;
  size_t cap = 0;
  size_t n = cbor_serialize_alloc(it, &buf, &cap);
  Bytes out(buf, buf + n);
  free(buf);
  return out;
}

Bytes reply(const Item& map) {
  Bytes out{kOk};
  Bytes body = serialize(map.get());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
Bytes status(uint8_t code) { return Bytes{code}; }

Item cose_key(EVP_PKEY* key, int alg) {
  auto xy = ctap::p256_xy(key);
  if (!xy.ok()) return nullptr;
  return MapBuilder().add(1, int_item(2)).add(3, int_item(alg)).add(-1, int_item(1))
      .add(-2, bstr(xy->x)).add(-3, bstr(xy->y)).build();
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  if (!crypto::fill_random(b.data(), n).ok()) b.assign(n, 0x5a);
  return b;
}

void put_u32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

}  // namespace

// --- CTAPHID -----------------------------------------------------------------------

int FakeAuthenticator::write(const uint8_t* buf, size_t len) {
  if (len != 65 || buf[0] != 0) return -1;
  const uint8_t* p = buf + 1;
  uint32_t cid = static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                 static_cast<uint32_t>(p[2]) << 8 | p[3];
  if (p[4] & 0x80) {
    rx_cid_ = cid;
    rx_cmd_ = p[4] & 0x7f;
    rx_need_ = static_cast<size_t>(p[5]) << 8 | p[6];
    rx_seq_ = 0;
    rx_.assign(p + 7, p + 7 + std::min<size_t>(57, rx_need_));
  } else {
    if (cid != rx_cid_ || p[4] != rx_seq_ || rx_.size() >= rx_need_) return static_cast<int>(len);  // stray: ignored
    ++rx_seq_;
    rx_.insert(rx_.end(), p + 5, p + 5 + std::min<size_t>(59, rx_need_ - rx_.size()));
  }
  if (rx_.size() >= rx_need_) {
    Bytes payload = std::move(rx_);
    rx_.clear();
    rx_need_ = 0;
    dispatch(cid, rx_cmd_, payload);
  }
  return static_cast<int>(len);
}

int FakeAuthenticator::read(uint8_t* buf, size_t len) {
  if (tx_.empty()) return -1;
  size_t n = std::min(len, tx_.front().size());
  std::memcpy(buf, tx_.front().data(), n);
  tx_.pop_front();
  return static_cast<int>(n);
}

void FakeAuthenticator::queue_reply(uint32_t cid, uint8_t cmd, ByteView payload) {
  size_t off = 0;
  uint8_t seq = 0;
  do {
    std::vector<uint8_t> pkt(64, 0);
    for (int i = 0; i < 4; ++i) pkt[static_cast<size_t>(i)] = static_cast<uint8_t>(cid >> (24 - 8 * i));
    size_t head = off == 0 ? 7 : 5;
    if (off == 0) {
      pkt[4] = cmd | 0x80;
      pkt[5] = static_cast<uint8_t>(payload.size() >> 8);
      pkt[6] = static_cast<uint8_t>(payload.size());
    } else {
      pkt[4] = seq++;
    }
    size_t n = std::min(payload.size() - off, 64 - head);
    std::memcpy(pkt.data() + head, payload.data() + off, n);
    off += n;
    tx_.push_back(std::move(pkt));
  } while (off < payload.size());
}

void FakeAuthenticator::dispatch(uint32_t cid, uint8_t cmd, const Bytes& payload) {
  constexpr uint8_t kPing = 0x01, kInit = 0x06, kCbor = 0x10, kCancel = 0x11, kError = 0x3F;
  if (cmd == kInit) {
    if (payload.size() != 8) return queue_reply(cid, kError, Bytes{kInvalidLength});
    Bytes r(payload.begin(), payload.end());
    uint32_t fresh = next_cid_++;
    for (int s = 24; s >= 0; s -= 8) r.push_back(static_cast<uint8_t>(fresh >> s));
    r.insert(r.end(), {2, 1, 0, 0, 0x0D});  // CTAPHID 2, version 1.0.0, WINK | CBOR | NMSG
    return queue_reply(cid, kInit, r);
  }
  if (cmd == kPing) return queue_reply(cid, kPing, payload);
  if (cmd == kCancel) return;
  if (cmd != kCbor) return queue_reply(cid, kError, Bytes{kInvalidCommand});
  Bytes r = cbor_command(payload);
  if (!r.empty()) queue_reply(cid, kCbor, r);
}

Bytes FakeAuthenticator::cbor_command(ByteView request) {
  if (request.empty()) return status(kInvalidLength);
  ByteView body = request.subspan(1);
  switch (request[0]) {
    case 0x01: return make_credential(body);
    case 0x02: return get_assertion(body);
    case 0x04: return get_info();
    case 0x06: return client_pin(body);
    default: return status(kInvalidCommand);
  }
}

// --- CTAP2 -------------------------------------------------------------------------

Bytes FakeAuthenticator::get_info() {
  std::vector<Item> versions;
  versions.push_back(tstr("FIDO_2_0"));
  if (state_.ctap21) versions.push_back(tstr("FIDO_2_1"));
  MapBuilder options;
  if (state_.rk) options.add("rk", boolean(true));
  options.add("up", boolean(true));
  if (state_.uv) options.add("uv", boolean(true));
  options.add("clientPin", boolean(state_.pin.has_value()));
  if (state_.ctap21) options.add("pinUvAuthToken", boolean(true));
  std::vector<Item> protocols;
  for (int p : state_.protocols) protocols.push_back(int_item(p));
  MapBuilder info;
  info.add(1, array_of(std::move(versions)));
  if (state_.hmac_secret) {
    std::vector<Item> ext;
    ext.push_back(tstr("hmac-secret"));
    info.add(2, array_of(std::move(ext)));
  }
  info.add(3, bstr(ByteView(kAaguid, 16))).add(4, options.build()).add(5, uint_item(1200))
      .add(6, array_of(std::move(protocols)));
  return reply(info.build());
}

Result<Bytes> FakeAuthenticator::shared_with(const cbor_item_t* platform_key, int protocol) {
  if (std::find(state_.protocols.begin(), state_.protocols.end(), protocol) == state_.protocols.end())
    return make_error(Errc::parse, "protocol not offered");
  if (!key_agreement_) return make_error(Errc::parse, "no key agreement");
  auto x = bytes_of(get(platform_key, -2)), y = bytes_of(get(platform_key, -3));
  if (!x || !y) return make_error(Errc::parse, "no platform key");
  CONFER_TRY(crypto::PkeyPtr peer, ctap::p256_from_xy(*x, *y));
  CONFER_TRY(Bytes z, ctap::ecdh_x(key_agreement_.get(), peer.get()));
  return ctap::shared_secret(protocol, z);
}

Bytes FakeAuthenticator::pin_token(const cbor_item_t* req, int protocol, int subcommand) {
  constexpr int kUsingUv = 6;
  if (subcommand != kUsingUv) {
    if (!state_.pin) return status(kPinNotSet);
    if (state_.pin_retries <= 0) return status(kPinBlocked);
    if (state_.pin_failures >= 3) return status(kPinAuthBlocked);
  } else if (!state_.uv) {
    return status(kInvalidOption);
  }
  auto shared = shared_with(get(req, 3), protocol);
  if (!shared.ok()) return status(kInvalidParameter);
  if (subcommand != kUsingUv) {
    auto enc = bytes_of(get(req, 6));
    if (!enc) return status(kMissingParameter);
    auto hash = ctap::decrypt(protocol, *shared, *enc);
    Bytes want = crypto::sha256(ByteView(reinterpret_cast<const uint8_t*>(state_.pin->data()), state_.pin->size()));
    want.resize(16);
    if (!hash.ok() || *hash != want) {
      --state_.pin_retries;
      ++state_.pin_failures;
      key_agreement_.reset();
      token_.reset();
      return status(state_.pin_retries <= 0 ? kPinBlocked : state_.pin_failures >= 3 ? kPinAuthBlocked : kPinInvalid);
    }
    state_.pin_retries = kMaxPinRetries;
    state_.pin_failures = 0;
  }
  Token t;
  t.value = random_bytes(32);
  t.permissions = subcommand == 5 ? 0x03 : static_cast<uint8_t>(int_of(get(req, 9)).value_or(0));
  t.rp_id = text_of(get(req, 10)).value_or("");
  if (t.permissions == 0) return status(kMissingParameter);
  auto enc_token = ctap::encrypt(protocol, *shared, t.value);
  if (!enc_token.ok()) return status(kInvalidParameter);
  token_ = std::move(t);
  return reply(MapBuilder().add(2, bstr(*enc_token)).build());
}

Bytes FakeAuthenticator::client_pin(ByteView cbor) {
  Item req = load(cbor);
  if (!req || !cbor_isa_map(req.get())) return status(kInvalidCbor);
  auto protocol = int_of(get(req.get(), 1)), sub = int_of(get(req.get(), 2));
  if (!protocol || !sub) return status(kMissingParameter);
  switch (*sub) {
    case 1: return reply(MapBuilder().add(3, uint_item(static_cast<uint64_t>(std::max(0, state_.pin_retries)))).build());
    case 2: {
      if (std::find(state_.protocols.begin(), state_.protocols.end(), *protocol) == state_.protocols.end())
        return status(kInvalidParameter);
      if (!key_agreement_) {
        auto k = ctap::p256_generate();
        if (!k.ok()) return status(kInvalidParameter);
        key_agreement_ = std::move(k.value());
      }
      return reply(MapBuilder().add(1, cose_key(key_agreement_.get(), -25)).build());
    }
    case 5:
    case 6:
    case 9: return pin_token(req.get(), static_cast<int>(*protocol), static_cast<int>(*sub));
    case 7: return reply(MapBuilder().add(5, uint_item(8)).build());
    default: return status(kInvalidSubcommand);
  }
}

uint8_t FakeAuthenticator::check_uv(ByteView cdh, const cbor_item_t* param, int protocol, uint8_t permission,
                                    const std::string& rp_id, const cbor_item_t* options, bool& verified) const {
  verified = false;
  if (param) {
    auto given = bytes_of(param);
    if (!given || !token_) return kPinAuthInvalid;
    auto want = ctap::authenticate(protocol, token_->value, cdh);
    if (!want.ok() || *want != *given) return kPinAuthInvalid;
    if (!(token_->permissions & permission)) return kUnauthorizedPermission;
    if (!token_->rp_id.empty() && token_->rp_id != rp_id) return kUnauthorizedPermission;
    verified = true;
    return kOk;
  }
  if (bool_of(get(options, "uv")).value_or(false)) {
    if (!state_.uv) return kInvalidOption;
    verified = true;
  }
  return kOk;
}

Bytes FakeAuthenticator::make_credential(ByteView cbor) {
  Item req = load(cbor);
  auto cdh = bytes_of(get(req.get(), 1));
  auto rp_id = text_of(get(get(req.get(), 2), "id"));
  auto user_id = bytes_of(get(get(req.get(), 3), "id"));
  if (!req || !cdh || !rp_id || !user_id) return status(kMissingParameter);
  const cbor_item_t* options = get(req.get(), 7);
  bool verified = false;
  uint8_t uv = check_uv(*cdh, get(req.get(), 8), static_cast<int>(int_of(get(req.get(), 9)).value_or(1)), 0x01,
                        *rp_id, options, verified);
  if (uv != kOk) return status(uv);
  if (!verified && state_.pin) return status(kPinRequired);
  if (state_.behaviour == "deny") return status(kOperationDenied);
  if (state_.behaviour == "timeout") return {};
  if (state_.behaviour == "skip-uv") verified = false;
  auto key = ctap::p256_generate();
  if (!key.ok()) return status(kInvalidParameter);
  FakeCredential c;
  c.id = random_bytes(48);
  c.rp_id = *rp_id;
  c.user_id = *user_id;
  c.rk = state_.rk && bool_of(get(options, "rk")).value_or(false);
  auto der = ctap::p256_der(key->get());
  if (!der.ok()) return status(kInvalidParameter);
  c.key_der = std::move(der.value());
  c.hmac_secret = state_.hmac_secret && bool_of(get(get(req.get(), 6), "hmac-secret")).value_or(false);
  c.cred_random_uv = random_bytes(32);
  c.cred_random_no_uv = random_bytes(32);
  Bytes auth = crypto::sha256(ByteView(reinterpret_cast<const uint8_t*>(rp_id->data()), rp_id->size()));
  auth.push_back(static_cast<uint8_t>(0x01 | (verified ? 0x04 : 0) | 0x40 | (c.hmac_secret ? 0x80 : 0)));
  put_u32(auth, 0);
  auth.insert(auth.end(), std::begin(kAaguid), std::end(kAaguid));
  auth.push_back(static_cast<uint8_t>(c.id.size() >> 8));
  auth.push_back(static_cast<uint8_t>(c.id.size()));
  auth.insert(auth.end(), c.id.begin(), c.id.end());
  Bytes cose = serialize(cose_key(key->get(), -7).get());
  auth.insert(auth.end(), cose.begin(), cose.end());
  if (c.hmac_secret) {
    Bytes ext = serialize(MapBuilder().add("hmac-secret", boolean(true)).build().get());
    auth.insert(auth.end(), ext.begin(), ext.end());
  }
  Bytes signed_part = auth;
  signed_part.insert(signed_part.end(), cdh->begin(), cdh->end());
  auto sig = ctap::ecdsa_sign(key->get(), signed_part);
  if (!sig.ok()) return status(kInvalidParameter);
  state_.credentials.push_back(std::move(c));
  Item att = MapBuilder().add("alg", int_item(-7)).add("sig", bstr(*sig)).build();
  return reply(MapBuilder().add(1, tstr("packed")).add(2, bstr(auth)).add(3, std::move(att)).build());
}

Result<Bytes> FakeAuthenticator::hmac_secret(const cbor_item_t* request, const FakeCredential& c, bool verified) {
  int protocol = static_cast<int>(int_of(get(request, 4)).value_or(1));
  CONFER_TRY(Bytes shared, shared_with(get(request, 1), protocol));
  auto salt_enc = bytes_of(get(request, 2)), salt_auth = bytes_of(get(request, 3));
  if (!salt_enc || !salt_auth) return make_error(Errc::parse, "hmac-secret: missing salt");
  CONFER_TRY(Bytes want, ctap::authenticate(protocol, shared, *salt_enc));
  if (want != *salt_auth) return make_error(Errc::key, "hmac-secret: saltAuth");
  CONFER_TRY(Bytes salts, ctap::decrypt(protocol, shared, *salt_enc));
  if (salts.size() != 32 && salts.size() != 64) return make_error(Errc::parse, "hmac-secret: salt length");
  const Bytes& cred_random = verified ? c.cred_random_uv : c.cred_random_no_uv;
  Bytes out(salts.size());
  for (size_t off = 0; off < salts.size(); off += 32)
    CONFER_TRY_VOID(crypto::hmac_sha256(cred_random, {ByteView(salts).subspan(off, 32)}, out.data() + off));
  return ctap::encrypt(protocol, shared, out);
}

Bytes FakeAuthenticator::get_assertion(ByteView cbor) {
  Item req = load(cbor);
  auto rp_id = text_of(get(req.get(), 1));
  auto cdh = bytes_of(get(req.get(), 2));
  if (!req || !rp_id || !cdh) return status(kMissingParameter);
  const cbor_item_t* allow = get(req.get(), 3);
  FakeCredential* found = nullptr;
  for (auto& c : state_.credentials) {
    if (c.rp_id != *rp_id) continue;
    bool listed = false;
    if (allow && cbor_isa_array(allow)) {
      for (size_t i = 0; i < cbor_array_size(allow); ++i)
        if (bytes_of(get(cbor_array_handle(allow)[i], "id")) == c.id) listed = true;
    } else {
      listed = c.rk;
    }
    if (listed) {
      found = &c;
      break;
    }
  }
  if (!found) return status(kNoCredentials);
  const cbor_item_t* options = get(req.get(), 5);
  bool verified = false;
  uint8_t uv = check_uv(*cdh, get(req.get(), 6), static_cast<int>(int_of(get(req.get(), 7)).value_or(1)), 0x02,
                        *rp_id, options, verified);
  if (uv != kOk) return status(uv);
  bool up = bool_of(get(options, "up")).value_or(true);
  if (up && state_.behaviour == "deny") return status(kOperationDenied);
  if (up && state_.behaviour == "timeout") return {};
  if (state_.behaviour == "skip-uv") verified = false;
  Bytes ext;
  const cbor_item_t* hs = get(get(req.get(), 4), "hmac-secret");
  if (hs && found->hmac_secret && state_.hmac_secret) {
    auto enc = hmac_secret(hs, *found, verified);
    if (!enc.ok()) return status(enc.error().code == Errc::key ? kPinAuthInvalid : kInvalidParameter);
    ext = serialize(MapBuilder().add("hmac-secret", bstr(*enc)).build().get());
  }
  ++found->counter;
  Bytes auth = crypto::sha256(ByteView(reinterpret_cast<const uint8_t*>(rp_id->data()), rp_id->size()));
  auth.push_back(static_cast<uint8_t>((up ? 0x01 : 0) | (verified ? 0x04 : 0) | (ext.empty() ? 0 : 0x80)));
  put_u32(auth, found->counter);
  auth.insert(auth.end(), ext.begin(), ext.end());
  Bytes signed_part = auth;
  signed_part.insert(signed_part.end(), cdh->begin(), cdh->end());
  auto key = ctap::p256_from_der(found->key_der);
  if (!key.ok()) return status(kInvalidParameter);
  auto sig = ctap::ecdsa_sign(key->get(), signed_part);
  if (!sig.ok()) return status(kInvalidParameter);
  MapBuilder r;
  r.add(1, MapBuilder().add("id", bstr(found->id)).add("type", tstr("public-key")).build());
  r.add(2, bstr(auth)).add(3, bstr(*sig));
  if (found->rk) r.add(4, MapBuilder().add("id", bstr(found->user_id)).build());
  return reply(r.build());
}

}  // namespace confer::dev
