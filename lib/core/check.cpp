#include "core/check.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace confer {

const char* check_status_name(CheckStatus s) noexcept {
  switch (s) {
    case CheckStatus::ok: return "ok";
    case CheckStatus::failed: return "failed";
    case CheckStatus::skipped: return "skipped";
  }
  return "unknown";
}

bool CheckList::add(std::string_view name, bool ok, std::string expected, std::string seen) {
  checks_.push_back({std::string(name), ok ? CheckStatus::ok : CheckStatus::failed, std::move(expected),
                     std::move(seen), {}});
  return ok;
}

void CheckList::pass(std::string_view name, std::string expected, std::string seen) {
  add(name, true, std::move(expected), std::move(seen));
}

void CheckList::fail(std::string_view name, std::string expected, std::string seen) {
  add(name, false, std::move(expected), std::move(seen));
}

void CheckList::skip(std::string_view name, std::string expected, std::string seen) {
  checks_.push_back({std::string(name), CheckStatus::skipped, std::move(expected), std::move(seen), {}});
}

Check& CheckList::push(Check check) { return checks_.emplace_back(std::move(check)); }

void CheckList::append(const CheckList& other) { checks_.insert(checks_.end(), other.begin(), other.end()); }

const Check* CheckList::first_failure() const noexcept {
  for (const auto& c : checks_)
    if (c.failed()) return &c;
  return nullptr;
}

bool CheckList::passed() const noexcept { return !checks_.empty() && first_failure() == nullptr; }

const Check* CheckList::find(std::string_view name) const noexcept {
  auto it = std::find_if(checks_.begin(), checks_.end(), [&](const Check& c) { return c.name == name; });
  return it == checks_.end() ? nullptr : &*it;
}

CheckList refused_by(std::string_view name, std::string expected, std::string seen) {
  CheckList list;
  list.fail(name, std::move(expected), std::move(seen));
  return list;
}

namespace {
nlohmann::ordered_json check_json(const Check& c) {
  nlohmann::ordered_json j = {{"name", c.name}, {"status", check_status_name(c.status)},
                              {"expected", c.expected}, {"seen", c.seen}};
  if (!c.children.empty()) {
    auto kids = nlohmann::ordered_json::array();
    for (const auto& child : c.children) kids.push_back(check_json(child));
    j["checks"] = std::move(kids);
  }
  return j;
}
}  // namespace

nlohmann::ordered_json checks_json(const CheckList& list) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& c : list) out.push_back(check_json(c));
  return out;
}

}  // namespace confer
