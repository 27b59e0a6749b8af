#include "sync/remote.hpp"

#include <fmt/format.h>

#include "account/webauthn.hpp"
#include "client/session.hpp"
#include "core/json.hpp"

namespace confer::sync {

namespace {

using nlohmann::json;
constexpr size_t kMaxChangesPerPage = 10000;

Error bad(std::string why) { return make_error(Errc::protocol, "the server's answer is malformed: " + std::move(why)); }

Error refused(const std::string& what, const transport::Response& r) {
  // 401: the session; 413: a quota or size limit, which is the account's state, not a
  // lie; 5xx: the server's store; anything else breaks the protocol.
  Errc code = r.status == 401 ? Errc::key : r.status == 413 ? Errc::io : r.status >= 500 ? Errc::network : Errc::protocol;
  return make_error(code, fmt::format("{}: the server answered {}: {}", what, r.status, client::answer_text(r)));
}

Result<Bytes> b64(const json& obj, const char* key, std::string_view where) {
  const json* v = json_detail::member(obj, key);
  if (v == nullptr || !v->is_string()) return bad(fmt::format("{}: expected \"{}\" as base64url", where, key));
  auto out = account::from_base64url(v->get<std::string>());
  if (!out) return bad(fmt::format("{}: \"{}\" is not base64url", where, key));
  return out;
}

class ChannelRemote final : public Remote {
 public:
  ChannelRemote(transport::ClientChannel& channel, std::chrono::seconds timeout) : channel_(channel), timeout_(timeout) {}

  Result<RemotePage> changes(int64_t since) override {
    CONFER_TRY(auto r, call("GET", fmt::format("/v1/store/changes?since={}", since), {}));
    if (r.status != 200) return refused("reading the change log", r);
    return parse_changes(r.body);
  }

  Result<std::vector<PutResult>> put_many(std::span<const Write> writes) override {
    json list = json::array();
    for (const auto& w : writes) {
      json one = {{"id", w.id}, {"kind", w.kind}, {"expected_revision", w.expected_revision}, {"deleted", w.deleted}};
      if (!w.deleted) one["ciphertext"] = account::base64url(w.ciphertext);
      list.push_back(std::move(one));
    }
    std::string what = writes.size() == 1 ? "writing record " + writes.front().id
                                          : fmt::format("writing {} records", writes.size());
    CONFER_TRY(auto r, call("POST", "/v1/store/records", dump_json(json{{"records", std::move(list)}})));
    if (r.status != 200) return refused(what, r);
    return parse_put_results(r.body, writes);
  }

  Result<std::vector<RemoteCheckpoint>> checkpoints() override {
    CONFER_TRY(auto r, call("GET", "/v1/store/checkpoints", {}));
    if (r.status != 200) return refused("reading the devices' checkpoints", r);
    CONFER_TRY(json j, parse_json(r.body, "the checkpoints", JsonLimits{1 << 20, 6}, Errc::protocol));
    const json* list = json_detail::member(j, "checkpoints");
    if (list == nullptr || !list->is_array() || list->size() > 1000) return bad("expected \"checkpoints\" as an array");
    std::vector<RemoteCheckpoint> out;
    for (const auto& c : *list) {
      if (!c.is_object()) return bad("a checkpoint is not an object");
      RemoteCheckpoint cp;
      CONFER_TRY(cp.device, json_detail::required_string(c, "device", "a checkpoint"));
      CONFER_TRY(cp.seq, json_detail::required_int64(c, "seq", "a checkpoint"));
      CONFER_TRY(cp.digest, b64(c, "digest", "a checkpoint"));
      out.push_back(std::move(cp));
    }
    return out;
  }

  Result<void> publish(const std::string& device, int64_t seq, ByteView digest) override {
    json body = {{"seq", seq}, {"digest", account::base64url(digest)}};
    CONFER_TRY(auto r, call("PUT", "/v1/store/checkpoints/" + device, dump_json(body)));
    if (r.status != 200) return refused("publishing this device's checkpoint", r);
    return {};
  }

 private:
  Result<transport::Response> call(const std::string& verb, const std::string& path, const std::string& body) {
    return client::request(channel_, verb, path, body, timeout_);
  }

  transport::ClientChannel& channel_;
  std::chrono::seconds timeout_;
};

}  // namespace

Result<std::vector<PutResult>> parse_put_results(ByteView body, std::span<const Write> writes) {
  auto parsed = parse_json(body, "the server's answer", JsonLimits{64u << 10, 4}, Errc::protocol);
  if (!parsed) return bad(parsed.error().message);
  const json* list = parsed->is_object() ? json_detail::member(*parsed, "results") : nullptr;
  if (list == nullptr || !list->is_array()) return bad("writing records: expected \"results\" as an array");
  if (list->size() != writes.size())
    return bad(fmt::format("writing {} records: {} results", writes.size(), list->size()));
  std::vector<PutResult> out;
  out.reserve(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    const json& one = (*list)[i];
    if (!one.is_object()) return bad("a write's result is not an object");
    const json* stored = json_detail::member(one, "stored");
    if (stored == nullptr || !stored->is_boolean()) return bad("a write's result: expected \"stored\" as true or false");
    PutResult p;
    p.stored = stored->get<bool>();
    CONFER_TRY(p.revision, json_detail::required_int64(one, "revision", "a write's result"));
    if (p.stored) {
      CONFER_TRY(p.seq, json_detail::required_int64(one, "seq", "a write's result"));
      if (p.revision != writes[i].expected_revision + 1 || p.seq < 1)
        return bad(fmt::format("record {} written at revision {} (seq {}), expected revision {}", writes[i].id, p.revision,
                               p.seq, writes[i].expected_revision + 1));
    } else if (p.revision == writes[i].expected_revision || p.revision < 0) {
      return bad(fmt::format("record {}: a conflict at the revision it expected ({})", writes[i].id, p.revision));
    }
    out.push_back(p);
  }
  return out;
}

namespace {
Result<RemotePage> parse_changes_strict(ByteView body);
}

// A server whose answer does not parse broke the protocol: exit 5 like any other lie.
Result<RemotePage> parse_changes(ByteView body) {
  auto r = parse_changes_strict(body);
  if (!r && r.error().code == Errc::parse) return make_error(Errc::protocol, "the server's answer is malformed: " + r.error().message);
  return r;
}

namespace {
Result<RemotePage> parse_changes_strict(ByteView body) {
  CONFER_TRY(json j, parse_json(body, "the change log", JsonLimits{32u << 20, 6}, Errc::protocol));
  if (!j.is_object()) return bad("the change log is not an object");
  RemotePage page;
  CONFER_TRY(page.head, json_detail::required_int64(j, "head", "the change log"));
  const json* more = json_detail::member(j, "more");
  if (more == nullptr || !more->is_boolean()) return bad("the change log: expected \"more\" as true or false");
  page.more = more->get<bool>();
  const json* list = json_detail::member(j, "changes");
  if (list == nullptr || !list->is_array()) return bad("the change log: expected \"changes\" as an array");
  if (list->size() > kMaxChangesPerPage) return bad(fmt::format("{} changes in one page, at most {}", list->size(), kMaxChangesPerPage));
  for (const auto& c : *list) {
    if (!c.is_object()) return bad("a change is not an object");
    RemoteChange rc;
    CONFER_TRY(rc.seq, json_detail::required_int64(c, "seq", "a change"));
    CONFER_TRY(rc.id, json_detail::required_string(c, "id", "a change"));
    CONFER_TRY(int64_t kind, json_detail::required_int64(c, "kind", "a change"));
    if (kind < 1 || kind > 255) return bad(fmt::format("change {}: kind {}", rc.seq, kind));
    rc.kind = int(kind);
    CONFER_TRY(rc.revision, json_detail::required_int64(c, "revision", "a change"));
    const json* del = json_detail::member(c, "deleted");
    if (del == nullptr || !del->is_boolean()) return bad(fmt::format("change {}: expected \"deleted\"", rc.seq));
    rc.deleted = del->get<bool>();
    CONFER_TRY(rc.hash, b64(c, "hash", "a change"));
    if (rc.hash.size() != 32) return bad(fmt::format("change {}: a hash of {} bytes", rc.seq, rc.hash.size()));
    if (json_detail::member(c, "ciphertext") != nullptr) {
      CONFER_TRY(rc.ciphertext, b64(c, "ciphertext", "a change"));
    }
    page.changes.push_back(std::move(rc));
  }
  return page;
}
}  // namespace

std::unique_ptr<Remote> channel_remote(transport::ClientChannel& channel, std::chrono::seconds timeout) {
  return std::make_unique<ChannelRemote>(channel, timeout);
}

}  // namespace confer::sync
