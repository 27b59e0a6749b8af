#include "commands/line_editor.hpp"

#include <histedit.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#include "commands/chat.hpp"

namespace confer::cli {

namespace {

// libedit, with its history in memory only (H_SAVE is never called).
class EditLineEditor : public LineEditor {
 public:
  explicit EditLineEditor(Completer complete) : complete_(std::move(complete)) {
    el_ = el_init("confer", stdin, stdout, stderr);
    history_ = history_init();
    HistEvent ev;
    history(history_, &ev, H_SETSIZE, 1000);
    history(history_, &ev, H_SETUNIQUE, 1);
    el_set(el_, EL_CLIENTDATA, this);
    el_set(el_, EL_EDITOR, "emacs");
    el_set(el_, EL_PROMPT, &EditLineEditor::prompt_of);
    el_set(el_, EL_HIST, history, history_);
    // The wide call: libedit 3.1's narrow EL_ADDFN copies the name and help and never
    // frees them (LeakSanitizer sees it at every exit).
    el_wset(el_, EL_ADDFN, L"confer-complete", L"Complete a command or model", &EditLineEditor::on_tab);
    el_set(el_, EL_BIND, "^I", "confer-complete", nullptr);
    el_set(el_, EL_BIND, "^R", "em-inc-search-prev", nullptr);
    el_set(el_, EL_BIND, "^L", "ed-clear-screen", nullptr);
    el_set(el_, EL_BIND, "^W", "ed-delete-prev-word", nullptr);
    el_set(el_, EL_BIND, "^U", "em-kill-line", nullptr);
    for (const char* home : {"\\e[H", "\\eOH", "\\e[1~"}) el_set(el_, EL_BIND, home, "ed-move-to-beg", nullptr);
    for (const char* end : {"\\e[F", "\\eOF", "\\e[4~"}) el_set(el_, EL_BIND, end, "ed-move-to-end", nullptr);
    el_set(el_, EL_BIND, "\\e[3~", "ed-delete-next-char", nullptr);
  }
  ~EditLineEditor() override {
    el_end(el_);
    history_end(history_);
  }
  EditLineEditor(const EditLineEditor&) = delete;
  EditLineEditor& operator=(const EditLineEditor&) = delete;

  Read read(const std::string& prompt, std::string& line) override {
    prompt_ = prompt;
    int count = 0;
    errno = 0;
    const char* text = el_gets(el_, &count);
    if (text == nullptr) {
      if (count == -1 && errno == EINTR) {
        std::fputc('\n', stdout);
        el_reset(el_);
        return Read::interrupted;
      }
      return Read::end;
    }
    line.assign(text, static_cast<size_t>(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return Read::line;
  }

  void remember(const std::string& line) override {
    if (line.find_first_not_of(" \t\n") == std::string::npos) return;
    HistEvent ev;
    history(history_, &ev, H_ENTER, line.c_str());
  }

 private:
  static EditLineEditor* self(EditLine* el) {
    void* p = nullptr;
    el_get(el, EL_CLIENTDATA, &p);
    return static_cast<EditLineEditor*>(p);
  }
  static char* prompt_of(EditLine* el) { return self(el)->prompt_.data(); }

  static unsigned char on_tab(EditLine* el, int) {
    const LineInfo* li = el_line(el);
    std::string before(li->buffer, static_cast<size_t>(li->cursor - li->buffer));
    std::vector<std::string> candidates = self(el)->complete_(before);
    if (candidates.empty()) return CC_REFRESH_BEEP;
    size_t word_start = before.find_last_of(' ');
    std::string word = word_start == std::string::npos ? before : before.substr(word_start + 1);
    std::string prefix = common_prefix(candidates);
    if (candidates.size() == 1) prefix += ' ';
    if (prefix.size() > word.size()) {
      el_insertstr(el, prefix.substr(word.size()).c_str());
      return CC_REFRESH;
    }
    std::string list = "\n";
    for (const auto& c : candidates) list += c + "  ";
    std::fprintf(stdout, "%s\n", list.c_str());
    return CC_REDISPLAY;
  }

  Completer complete_;
  EditLine* el_ = nullptr;
  History* history_ = nullptr;
  std::string prompt_;
};

// Not a terminal: plain lines, with the prompt still shown.
class PlainEditor : public LineEditor {
 public:
  Read read(const std::string& prompt, std::string& line) override {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    errno = 0;
    if (std::getline(std::cin, line)) return Read::line;
    bool interrupted = errno == EINTR || g_chat_interrupted.load();
    std::cin.clear();
    std::clearerr(stdin);
    if (interrupted) {
      std::fputc('\n', stdout);
      return Read::interrupted;
    }
    return Read::end;
  }
  void remember(const std::string&) override {}
};

}  // namespace

std::unique_ptr<LineEditor> LineEditor::open(Completer complete) {
  if (isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1) return std::make_unique<EditLineEditor>(std::move(complete));
  return std::make_unique<PlainEditor>();
}

std::string common_prefix(const std::vector<std::string>& candidates) {
  if (candidates.empty()) return {};
  std::string p = candidates.front();
  for (const auto& c : candidates) {
    size_t n = 0;
    while (n < p.size() && n < c.size() && p[n] == c[n]) ++n;
    p.resize(n);
  }
  return p;
}

}  // namespace confer::cli
