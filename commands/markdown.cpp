#include "commands/markdown.hpp"

#include <md4c.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace confer::cli {

namespace {

constexpr const char* kRule = "────────────────────────────────────────";

// The terminal never sees a control character from the model but newline and tab.
std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) out += "\xef\xbf\xbd";
    else out += c;
  }
  return out;
}

std::string decode_entity(std::string_view e) {
  if (e == "&amp;") return "&";
  if (e == "&lt;") return "<";
  if (e == "&gt;") return ">";
  if (e == "&quot;") return "\"";
  if (e == "&nbsp;") return " ";
  return sanitize(e);
}

// Columns a string takes: UTF-8 code points, SGR sequences not counted.
size_t display_width(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) ++w;
  }
  return w;
}

std::string repeat(const char* s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

class Renderer {
 public:
  explicit Renderer(bool color) : color_(color) {}
  std::string run(std::string_view text) {
    MD_PARSER p{};
    p.flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML;
    p.enter_block = [](MD_BLOCKTYPE t, void* d, void* u) { return static_cast<Renderer*>(u)->enter_block(t, d); };
    p.leave_block = [](MD_BLOCKTYPE t, void* d, void* u) { return static_cast<Renderer*>(u)->leave_block(t, d); };
    p.enter_span = [](MD_SPANTYPE t, void* d, void* u) { return static_cast<Renderer*>(u)->span(t, d, true); };
    p.leave_span = [](MD_SPANTYPE t, void* d, void* u) { return static_cast<Renderer*>(u)->span(t, d, false); };
    p.text = [](MD_TEXTTYPE t, const MD_CHAR* s, MD_SIZE n, void* u) {
      return static_cast<Renderer*>(u)->text(t, std::string_view(s, n));
    };
    if (md_parse(text.data(), static_cast<MD_SIZE>(text.size()), &p, this) != 0) return sanitize(text);
    ensure_newline();
    return out_;
  }

 private:
  struct Prefix {
    std::string first, rest;
    bool used = false;
  };
  struct List {
    bool ordered;
    unsigned next;
  };

  std::string sgr(const char* code) const { return color_ ? std::string("\x1b[") + code + "m" : std::string(); }

  void put(std::string_view s) {
    if (cell_ != nullptr) {
      for (char c : s) *cell_ += c == '\n' ? ' ' : c;
      return;
    }
    for (char c : s) {
      if (line_start_ && c != '\n') {
        for (auto& p : prefixes_) {
          out_ += p.used ? p.rest : p.first;
          p.used = true;
        }
      }
      out_ += c;
      line_start_ = c == '\n';
    }
  }
  void ensure_newline() {
    if (!out_.empty() && !line_start_) put("\n");
  }
  void block_start() {
    ensure_newline();
    if (need_blank_) out_ += "\n";
    need_blank_ = false;
  }
  void block_end() {
    ensure_newline();
    need_blank_ = true;
  }

  int enter_block(MD_BLOCKTYPE type, void* detail) {
    switch (type) {
      case MD_BLOCK_DOC: break;
      case MD_BLOCK_QUOTE:
        block_start();
        prefixes_.push_back({sgr("2") + "│ " + sgr("22"), sgr("2") + "│ " + sgr("22")});
        break;
      case MD_BLOCK_UL:
      case MD_BLOCK_OL: {
        if (lists_.empty()) block_start();
        else ensure_newline();
        unsigned start = type == MD_BLOCK_OL ? static_cast<MD_BLOCK_OL_DETAIL*>(detail)->start : 0;
        lists_.push_back({type == MD_BLOCK_OL, start});
        break;
      }
      case MD_BLOCK_LI: {
        ensure_newline();
        List& l = lists_.back();
        std::string bullet = l.ordered ? std::to_string(l.next++) + ". " : "• ";
        auto* li = static_cast<MD_BLOCK_LI_DETAIL*>(detail);
        if (li->is_task) bullet += li->task_mark == ' ' ? "☐ " : "☑ ";
        prefixes_.push_back({bullet, std::string(display_width(bullet), ' ')});
        break;
      }
      case MD_BLOCK_HR:
        block_start();
        put(sgr("2") + kRule + sgr("22"));
        break;
      case MD_BLOCK_H: {
        block_start();
        unsigned level = static_cast<MD_BLOCK_H_DETAIL*>(detail)->level;
        put(color_ ? sgr(level == 1 ? "1;4" : "1") : std::string(level, '#') + " ");
        break;
      }
      case MD_BLOCK_CODE: {
        block_start();
        auto* c = static_cast<MD_BLOCK_CODE_DETAIL*>(detail);
        std::string lang(c->lang.text ? c->lang.text : "", c->lang.size);
        put(sgr("2") + "┌──" + (lang.empty() ? "" : " " + sanitize(lang)) + sgr("22") + "\n");
        code_ = std::string();
        break;
      }
      case MD_BLOCK_HTML:
      case MD_BLOCK_P: block_start(); break;
      case MD_BLOCK_TABLE:
        block_start();
        rows_.clear();
        aligns_.clear();
        head_rows_ = 0;
        break;
      case MD_BLOCK_THEAD:
      case MD_BLOCK_TBODY: break;
      case MD_BLOCK_TR: rows_.emplace_back(); break;
      case MD_BLOCK_TH:
      case MD_BLOCK_TD:
        rows_.back().emplace_back();
        if (rows_.size() == 1) aligns_.push_back(static_cast<MD_BLOCK_TD_DETAIL*>(detail)->align);
        cell_ = &rows_.back().back();
        break;
    }
    return 0;
  }

  int leave_block(MD_BLOCKTYPE type, void*) {
    switch (type) {
      case MD_BLOCK_QUOTE:
        prefixes_.pop_back();
        block_end();
        break;
      case MD_BLOCK_UL:
      case MD_BLOCK_OL:
        lists_.pop_back();
        if (lists_.empty()) block_end();
        break;
      case MD_BLOCK_LI:
        ensure_newline();
        prefixes_.pop_back();
        break;
      case MD_BLOCK_H:
        if (color_) put(sgr("0"));
        block_end();
        break;
      case MD_BLOCK_CODE: leave_code(); break;
      case MD_BLOCK_TABLE: leave_table(); break;
      case MD_BLOCK_THEAD: head_rows_ = rows_.size(); break;
      case MD_BLOCK_TH:
      case MD_BLOCK_TD: cell_ = nullptr; break;
      case MD_BLOCK_HR:
      case MD_BLOCK_HTML:
      case MD_BLOCK_P: block_end(); break;
      default: break;
    }
    return 0;
  }

  void leave_code() {
    std::string body = std::move(*code_);
    code_.reset();
    if (!body.empty() && body.back() == '\n') body.pop_back();
    size_t start = 0;
    for (;;) {
      size_t nl = body.find('\n', start);
      put(sgr("2") + "│" + sgr("22") + " " + body.substr(start, nl - start) + "\n");
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    put(sgr("2") + "└──" + sgr("22"));
    block_end();
  }

  std::string table_cell(const std::string& text, size_t width, MD_ALIGN align) const {
    size_t gap = width - display_width(text);
    size_t left = align == MD_ALIGN_RIGHT ? gap : align == MD_ALIGN_CENTER ? gap / 2 : 0;
    return std::string(left, ' ') + text + std::string(gap - left, ' ');
  }

  void leave_table() {
    size_t cols = 0;
    for (const auto& r : rows_) cols = std::max(cols, r.size());
    std::vector<size_t> width(cols, 1);
    for (auto& r : rows_) {
      r.resize(cols);
      for (size_t c = 0; c < cols; ++c) width[c] = std::max(width[c], display_width(r[c]));
    }
    aligns_.resize(cols, MD_ALIGN_DEFAULT);
    auto rule = [&](const char* l, const char* m, const char* r) {
      std::string s = sgr("2") + l;
      for (size_t c = 0; c < cols; ++c) s += repeat("─", width[c] + 2) + (c + 1 < cols ? m : r);
      return s + sgr("22") + "\n";
    };
    std::string bar = sgr("2") + "│" + sgr("22");
    put(rule("┌", "┬", "┐"));
    for (size_t i = 0; i < rows_.size(); ++i) {
      if (i == head_rows_ && head_rows_ > 0) put(rule("├", "┼", "┤"));
      std::string line = bar;
      for (size_t c = 0; c < cols; ++c) {
        std::string cell = table_cell(rows_[i][c], width[c], aligns_[c]);
        line += " " + (i < head_rows_ ? sgr("1") + cell + sgr("22") : cell) + " " + bar;
      }
      put(line + "\n");
    }
    put(rule("└", "┴", "┘"));
    block_end();
  }

  int span(MD_SPANTYPE type, void* detail, bool enter) {
    switch (type) {
      case MD_SPAN_EM: put(color_ ? sgr(enter ? "3" : "23") : "*"); break;
      case MD_SPAN_STRONG: put(color_ ? sgr(enter ? "1" : "22") : "**"); break;
      case MD_SPAN_CODE: put(color_ ? sgr(enter ? "36" : "39") : "`"); break;
      case MD_SPAN_DEL: put(color_ ? sgr(enter ? "9" : "29") : "~~"); break;
      case MD_SPAN_A: {
        auto* a = static_cast<MD_SPAN_A_DETAIL*>(detail);
        if (enter) {
          link_start_ = cell_ ? cell_->size() : out_.size();
        } else {
          std::string href = sanitize(std::string_view(a->href.text ? a->href.text : "", a->href.size));
          const std::string& where = cell_ ? *cell_ : out_;
          if (where.compare(link_start_, std::string::npos, href) != 0) put(" " + sgr("2") + "(" + href + ")" + sgr("22"));
        }
        break;
      }
      default: break;
    }
    return 0;
  }

  int text(MD_TEXTTYPE type, std::string_view s) {
    if (code_) {
      *code_ += sanitize(s);
      return 0;
    }
    switch (type) {
      case MD_TEXT_BR:
      case MD_TEXT_SOFTBR: put("\n"); break;
      case MD_TEXT_NULLCHAR: put("\xef\xbf\xbd"); break;
      case MD_TEXT_ENTITY: put(decode_entity(s)); break;
      default: put(sanitize(s)); break;
    }
    return 0;
  }

  bool color_;
  std::string out_;
  bool line_start_ = true;
  bool need_blank_ = false;
  std::vector<Prefix> prefixes_;
  std::vector<List> lists_;
  std::optional<std::string> code_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<MD_ALIGN> aligns_;
  size_t head_rows_ = 0;
  std::string* cell_ = nullptr;
  size_t link_start_ = 0;
};

bool blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// The fence a line opens or closes (``` or ~~~, at most 3 spaces in), or empty.
std::string fence_of(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') ++i;
  if (i >= line.size() || (line[i] != '`' && line[i] != '~')) return {};
  size_t j = i;
  while (j < line.size() && line[j] == line[i]) ++j;
  return j - i >= 3 ? std::string(line.substr(i, j - i)) : std::string();
}

// Whether `block` starts as a plain paragraph (not a heading, list, quote, fence, table,
// rule or indented code), whose complete lines can be shown before it ends.
bool paragraph_start(std::string_view block) {
  size_t i = block.find_first_not_of(' ');
  if (i == std::string_view::npos || i >= 4 || block[i] == '\n') return false;
  char c = block[i];
  if (std::string_view("#>-*+|`~=<_").find(c) != std::string_view::npos) return false;
  if (c >= '0' && c <= '9') {
    size_t j = i;
    while (j < block.size() && block[j] >= '0' && block[j] <= '9') ++j;
    if (j < block.size() && (block[j] == '.' || block[j] == ')')) return false;
  }
  size_t nl = block.find('\n');
  if (nl != std::string_view::npos) {  // a setext underline makes it a heading
    size_t k = block.find_first_not_of(' ', nl + 1);
    if (k != std::string_view::npos && (block[k] == '=' || block[k] == '-')) return false;
  }
  return true;
}

// Emphasis, code, strike-through and links all closed: the words can be rendered apart
// from what follows.
bool spans_closed(std::string_view s) {
  size_t stars = 0, unders = 0, ticks = 0, tildes = 0, open_sq = 0, close_sq = 0, open_par = 0, close_par = 0;
  for (char c : s) {
    stars += c == '*';
    unders += c == '_';
    ticks += c == '`';
    tildes += c == '~';
    open_sq += c == '[';
    close_sq += c == ']';
    open_par += c == '(';
    close_par += c == ')';
  }
  return stars % 2 == 0 && unders % 2 == 0 && ticks % 2 == 0 && tildes % 2 == 0 && open_sq == close_sq &&
         open_par == close_par && s.find('<') == std::string_view::npos && s.find('\\') == std::string_view::npos;
}

// `text` rendered as the rest of a line already begun (`mid_line`): behind a guard
// letter, so that "- b" or "1. x" in mid-sentence is not taken for a list.
std::string render_continuing(const std::string& text, bool mid_line, bool color);

}  // namespace

std::string render_markdown(std::string_view text, bool color) { return Renderer(color).run(text); }

namespace {
std::string render_continuing(const std::string& text, bool mid_line, bool color) {
  if (!mid_line) return render_markdown(text, color);
  std::string r = render_markdown("x" + text, color);
  if (!r.empty() && r[0] == 'x') r.erase(0, 1);
  return r;
}
}  // namespace

std::string MarkdownStream::feed(std::string_view piece) {
  pending_.append(piece);
  // pending_[0, boundary) is whole blocks: it ends at a blank line outside a fence
  // followed by a line at the left margin (an indented one may still belong to a list).
  // Lines are scanned once: the scan resumes where the last whole line ended.
  size_t boundary = 0, first_boundary = 0;
  auto starts_block = [&](std::string_view line) {
    return !in_fence_ && after_blank_ && !blank(line) && line[0] != ' ' && line[0] != '\t';
  };
  for (;;) {
    size_t nl = pending_.find('\n', scan_);
    std::string_view line(pending_.data() + scan_, (nl == std::string::npos ? pending_.size() : nl) - scan_);
    if (starts_block(line)) {
      boundary = scan_;
      if (first_boundary == 0) first_boundary = scan_;
    }
    if (nl == std::string::npos) break;
    std::string f = fence_of(line);
    if (in_fence_) {
      size_t at = line.find(f);
      if (!f.empty() && f[0] == fence_[0] && f.size() >= fence_.size() && blank(line.substr(at + f.size())))
        in_fence_ = false;
    } else if (!f.empty()) {
      in_fence_ = true;
      fence_ = f;
    }
    after_blank_ = !in_fence_ && blank(line);
    scan_ = nl + 1;
  }
  std::string out;
  if (boundary > 0) {
    // The rest of a block partly shown, then whole blocks.
    size_t whole_from = shown_ > 0 ? first_boundary : 0;
    if (shown_ > 0) {
      out = emit(render_continuing(pending_.substr(shown_, first_boundary - shown_), mid_line_, color_), false);
    }
    out += emit(render_markdown(std::string_view(pending_).substr(whole_from, boundary - whole_from), color_), true);
    pending_.erase(0, boundary);
    scan_ -= boundary;
    shown_ = 0;
    mid_line_ = false;
  }
  if (paragraph_start(pending_)) out += paragraph_progress();
  return out;
}

// A paragraph in progress is shown as it grows: each whole line, and within the line the
// words up to the last space once their emphasis, code and links are closed. A piece
// that starts mid-line is rendered behind a guard letter, so that "- b" or "1. x" in the
// middle of a sentence is not taken for a list.
std::string MarkdownStream::paragraph_progress() {
  std::string out;
  auto show = [&](size_t to) {
    std::string piece = pending_.substr(shown_, to - shown_);
    bool whole_line = !piece.empty() && piece.back() == '\n';
    std::string r = render_continuing(piece, mid_line_, color_);
    if (!whole_line) {
      if (!r.empty() && r.back() == '\n') r.pop_back();
      if (piece.back() == ' ') r += ' ';
    }
    out += emit(std::move(r), shown_ == 0);
    shown_ = to;
    mid_line_ = !whole_line;
  };
  size_t last_nl = pending_.rfind('\n');
  if (last_nl != std::string::npos && last_nl + 1 > shown_) show(last_nl + 1);
  size_t space = pending_.rfind(' ');
  if (space != std::string::npos && space + 1 > shown_ && (last_nl == std::string::npos || space > last_nl)) {
    std::string_view words(pending_.data() + shown_, space + 1 - shown_);
    // (A span left open for 4 KiB is a stray mark: shown as it is rather than held.)
    if (!blank(words) && (words.size() > 4096 || spans_closed(words))) show(space + 1);
  }
  return out;
}

std::string MarkdownStream::emit(std::string rendered, bool new_block) {
  if (rendered.empty()) return rendered;
  if (new_block && emitted_) rendered.insert(0, "\n");
  emitted_ = true;
  return rendered;
}

std::string MarkdownStream::finish() {
  std::string rest = pending_.substr(shown_);
  bool new_block = shown_ == 0;
  bool guard = mid_line_;
  pending_.clear();
  scan_ = 0;
  in_fence_ = false;
  after_blank_ = false;
  shown_ = 0;
  mid_line_ = false;
  if (rest.find_first_not_of(" \t\r\n") == std::string::npos) return {};
  return emit(render_continuing(rest, guard, color_), new_block);
}

}  // namespace confer::cli
