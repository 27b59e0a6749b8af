#include "store/export.hpp"

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/time.hpp"

namespace confer::store {

namespace {

using nlohmann::ordered_json;

ordered_json receipt_json(const Receipt& r) {
  return {{"platform", r.platform}, {"measurement", r.measurement}, {"release", r.release},
          {"server_key", r.server_key}, {"verified", format_rfc3339(r.verified)}, {"evidence", r.evidence}};
}

ordered_json turn_json(const Turn& t) {
  return {{"index", t.index}, {"time", format_rfc3339(t.time)}, {"prompt", t.prompt},
          {"reply", t.reply}, {"model", t.model},               {"receipt", receipt_json(t.receipt)}};
}

ordered_json head_json(const Conversation& c) {
  return {{"id", c.id}, {"title", c.title}, {"created", format_rfc3339(c.created)}, {"updated", format_rfc3339(c.updated)}};
}

std::string markdown_of(const Conversation& c, const std::vector<Turn>& turns) {
  std::string out = fmt::format("# {}\n\n_conversation {}, {} turn(s), {} to {}_\n\n", c.title.empty() ? c.id : c.title,
                                c.id, turns.size(), format_rfc3339(c.created), format_rfc3339(c.updated));
  for (const auto& t : turns) {
    out += fmt::format("## {}. You ({})\n\n{}\n\n## {}. {}\n\n{}\n\n", t.index, format_rfc3339(t.time), t.prompt,
                       t.index, t.model.empty() ? "Assistant" : t.model, t.reply);
    out += fmt::format("> receipt: {}, measurement {}, release: {}, server key {}, verified {}\n\n", t.receipt.platform,
                       t.receipt.measurement, t.receipt.release, t.receipt.server_key, format_rfc3339(t.receipt.verified));
  }
  return out;
}

}  // namespace

Result<std::vector<Conversation>> selected_conversations(HistoryStore& history, const Unlocked& keys,
                                                         const ExportFilter& filter) {
  CONFER_TRY(auto list, history.list(keys));  // newest first
  std::vector<Conversation> out;
  bool found = false;
  for (auto it = list.rbegin(); it != list.rend(); ++it) {
    if (!filter.conversation.empty() && it->id != filter.conversation) continue;
    found = true;
    if (it->updated < filter.since) continue;
    out.push_back(std::move(*it));
  }
  if (!filter.conversation.empty() && !found)
    return make_error(Errc::usage, fmt::format("no conversation {}", filter.conversation));
  return out;
}

Result<std::map<std::string, std::string>> evidence_of(HistoryStore& history, const Unlocked& keys,
                                                       const std::vector<Turn>& turns) {
  std::map<std::string, std::string> out;
  for (const auto& t : turns) {
    if (t.receipt.evidence.empty() || out.count(t.receipt.evidence) > 0) continue;
    CONFER_TRY(auto doc, history.evidence(keys, t.receipt.evidence));
    if (doc) out.emplace(t.receipt.evidence, std::move(*doc));
  }
  return out;
}

Result<ExportCounts> export_history(HistoryStore& history, const Unlocked& keys, ExportFormat format,
                                    const ExportFilter& filter, const std::function<void(std::string_view)>& write) {
  CONFER_TRY(auto selected, selected_conversations(history, keys, filter));
  ExportCounts counts;
  auto out = [&](std::string_view s) {
    counts.bytes += s.size();
    write(s);
  };
  bool first = true;
  if (format == ExportFormat::json) out("[");
  for (const auto& c : selected) {
    CONFER_TRY(auto turns, history.turns(keys, c.id));
    // The saved evidence each receipt names, for verify-attestation --receipt.
    CONFER_TRY(auto evidence, evidence_of(history, keys, turns));
    if (format == ExportFormat::json) {
      ordered_json j = head_json(c);
      j["turns"] = ordered_json::array();
      for (const auto& t : turns) j["turns"].push_back(turn_json(t));
      if (!evidence.empty()) j["evidence"] = evidence;
      out(first ? "\n" : ",\n");
      out(dump_json(j, 2));
    } else if (format == ExportFormat::jsonl) {
      for (const auto& t : turns) {
        ordered_json j = turn_json(t);
        j["conversation"] = c.id;
        j["title"] = c.title;
        if (auto e = evidence.find(t.receipt.evidence); e != evidence.end()) j["evidence_document"] = e->second;
        out(dump_json(j));
        out("\n");
      }
    } else {
      if (!first) out("\n---\n\n");
      out(markdown_of(c, turns));
    }
    first = false;
    ++counts.conversations;
    counts.turns += turns.size();
  }
  if (format == ExportFormat::json) out(first ? "]\n" : "\n]\n");
  return counts;
}

}  // namespace confer::store
