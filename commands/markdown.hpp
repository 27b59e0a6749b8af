// Markdown for the terminal (md4c, GitHub dialect): headings in bold, emphasis, inline
// code, lists with bullets or numbers, block quotes with a bar, code blocks in a frame,
// tables with aligned columns. `color` off keeps the layout without SGR sequences.
// The model's text is untrusted: control characters other than newline and tab are
// shown as U+FFFD, never sent to the terminal.
#pragma once

#include <string>
#include <string_view>

namespace confer::cli {

std::string render_markdown(std::string_view text, bool color);

// The same, as a stream arrives: each complete block (up to a blank line outside a
// code fence) is rendered when its end is seen, a paragraph word by word as its spans
// close; finish() renders the rest.
class MarkdownStream {
 public:
  explicit MarkdownStream(bool color) : color_(color) {}
  // The rendering of the blocks this piece completed (often empty).
  std::string feed(std::string_view piece);
  std::string finish();

 private:
  bool color_;
  std::string emit(std::string rendered, bool new_block);
  std::string paragraph_progress();
  std::string pending_;   // the block in progress
  size_t shown_ = 0;      // the part of it already shown (a paragraph's lines and words)
  bool mid_line_ = false; // shown_ is inside a line
  size_t scan_ = 0;       // block boundaries are looked for from here (a line start)
  bool in_fence_ = false; // at scan_: inside a code fence
  std::string fence_;     // its opening characters
  bool after_blank_ = false;  // at scan_: the line before was blank
  bool emitted_ = false;  // something was shown: the next block starts after a blank line  // something was rendered: the next block starts after a blank line
};

}  // namespace confer::cli
