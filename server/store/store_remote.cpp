#include "server/store/store_remote.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace confer::server::store {

Result<sync::RemotePage> StoreRemote::changes(int64_t since) {
  CONFER_TRY(auto page, store_.changes(account_, since, page_records_, page_bytes_));
  sync::RemotePage out;
  out.head = page.head;
  out.more = page.more;
  for (auto& c : page.changes)
    out.changes.push_back({c.seq, c.id, int(c.kind), c.revision, c.deleted, c.hash, c.ciphertext});
  return out;
}

Result<sync::PutResult> StoreRemote::put(const std::string& id, int kind, int64_t expected, bool deleted, ByteView ct) {
  CONFER_TRY(auto r, store_.put(account_, id, kind, expected, deleted, ct));
  switch (r.status) {
    case PutStatus::stored: return sync::PutResult{true, r.revision, r.seq};
    case PutStatus::conflict: return sync::PutResult{false, r.revision, 0};
    case PutStatus::quota: return make_error(Errc::io, "over the account's quota: " + r.detail);
    case PutStatus::no_account: return make_error(Errc::key, "the account no longer exists");
  }
  return make_error(Errc::internal, "unknown write outcome");
}

Result<std::vector<sync::RemoteCheckpoint>> StoreRemote::checkpoints() {
  CONFER_TRY(auto cps, store_.checkpoints(account_));
  std::vector<sync::RemoteCheckpoint> out;
  for (auto& c : cps) out.push_back({c.device, c.seq, c.digest});
  return out;
}

Result<void> StoreRemote::publish(const std::string& device, int64_t seq, ByteView digest) {
  CONFER_TRY(bool ok, store_.put_checkpoint(account_, {device, seq, Bytes(digest.begin(), digest.end()), now_utc()}));
  if (!ok) return make_error(Errc::io, "the account has its maximum of devices");
  return {};
}

}  // namespace confer::server::store
