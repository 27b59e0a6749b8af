// One check model for every verifier (SEV-SNP, Sigstore, the release, and TDX to come).
//
// A verifier returns Result<...> holding a CheckList: an Err is an internal failure (no
// verdict possible), a refusal is a CheckList with a failed check. Every check says what
// was expected and what was seen, so that the human report, --json and the refusal
// message are the same facts. A check may hold the checks it was decided by (the
// release check holds the Sigstore bundle's checks).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace confer {

enum class CheckStatus { ok, failed, skipped };
const char* check_status_name(CheckStatus s) noexcept;  // "ok", "failed", "skipped"

struct Check {
  std::string name;  // stable, e.g. "policy.debug": scripts match on it
  CheckStatus status = CheckStatus::failed;
  std::string expected;
  std::string seen;
  std::vector<Check> children;  // the checks this one was decided by, if any

  bool ok() const noexcept { return status == CheckStatus::ok; }
  bool failed() const noexcept { return status == CheckStatus::failed; }
};

class CheckList {
 public:
  // Records a check that passed when `ok`, else failed; returns `ok`.
  bool add(std::string_view name, bool ok, std::string expected, std::string seen);
  void pass(std::string_view name, std::string expected, std::string seen);
  void fail(std::string_view name, std::string expected, std::string seen);
  void skip(std::string_view name, std::string expected, std::string seen);
  Check& push(Check check);
  void append(const CheckList& other);

  // The first failed top-level check in order, or null.
  const Check* first_failure() const noexcept;
  // At least one check, and none failed.
  bool passed() const noexcept;
  // The first top-level check with this name, or null.
  const Check* find(std::string_view name) const noexcept;

  const std::vector<Check>& all() const noexcept { return checks_; }
  bool empty() const noexcept { return checks_.empty(); }
  size_t size() const noexcept { return checks_.size(); }
  auto begin() const noexcept { return checks_.begin(); }
  auto end() const noexcept { return checks_.end(); }

 private:
  std::vector<Check> checks_;
};

// A list holding one failed check (for input that never reached a verifier).
CheckList refused_by(std::string_view name, std::string expected, std::string seen);

// [{"name", "status", "expected", "seen"[, "checks": [...]]}, ...] in order.
nlohmann::ordered_json checks_json(const CheckList& list);

}  // namespace confer
