// The REPL's input: libedit on a terminal (arrows, Home/End, Ctrl-A/E/W/U, Ctrl-L clears
// the screen, Ctrl-R searches, Tab completes), plain lines otherwise. Its history lives
// in memory only: it is seeded from the encrypted conversation store, never from or to
// a plaintext history file.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace confer::cli {

class LineEditor {
 public:
  enum class Read { line, end, interrupted };
  // `complete` gives the candidates for the word before the cursor (the whole line so far).
  using Completer = std::function<std::vector<std::string>(const std::string& line_before_cursor)>;

  // libedit when stdin and stdout are terminals, else plain getline.
  static std::unique_ptr<LineEditor> open(Completer complete);
  virtual ~LineEditor() = default;
  // One line without its newline. `interrupted` after Ctrl-C at the prompt.
  virtual Read read(const std::string& prompt, std::string& line) = 0;
  // Kept for Up/Down and Ctrl-R in this session (memory only).
  virtual void remember(const std::string& line) = 0;
};

// The longest common prefix of `candidates` (empty when none).
std::string common_prefix(const std::vector<std::string>& candidates);

}  // namespace confer::cli
