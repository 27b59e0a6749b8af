// Markdown in the terminal: input -> exact output, with colour (SGR) and without, the
// streamed rendering equal to the whole one, and nothing from the model reaching the
// terminal as a control sequence.
#include <doctest/doctest.h>

#include "commands/markdown.hpp"

using confer::cli::MarkdownStream;
using confer::cli::render_markdown;

namespace {

struct Vector {
  const char* input;
  const char* color;  // \x1b written as \x1b
  const char* plain;
};

const Vector kVectors[] = {
    {"# Title\n\nSome *em* and **strong** and `code`.\n",
     "\x1b[1;4mTitle\x1b[0m\n\nSome \x1b[3mem\x1b[23m and \x1b[1mstrong\x1b[22m and \x1b[36mcode\x1b[39m.\n",
     "# Title\n\nSome *em* and **strong** and `code`.\n"},
    {"## Sub\n~~gone~~\n", "\x1b[1mSub\x1b[0m\n\n\x1b[9mgone\x1b[29m\n", "## Sub\n\n~~gone~~\n"},
    {"- a\n- b\n  - c\n\n1. one\n2. two\n", "• a\n• b\n  • c\n\n1. one\n2. two\n", "• a\n• b\n  • c\n\n1. one\n2. two\n"},
    {"3. three\n4. four\n- [x] done\n- [ ] todo\n", "3. three\n4. four\n\n• ☑ done\n• ☐ todo\n",
     "3. three\n4. four\n\n• ☑ done\n• ☐ todo\n"},
    {"```python\nprint(1)\nx = 2\n```\n",
     "\x1b[2m┌── python\x1b[22m\n\x1b[2m│\x1b[22m print(1)\n\x1b[2m│\x1b[22m x = 2\n\x1b[2m└──\x1b[22m\n",
     "┌── python\n│ print(1)\n│ x = 2\n└──\n"},
    {"| a | bb |\n|---|---:|\n| 1 | 2 |\n| long cell | 3 |\n",
     "\x1b[2m┌───────────┬────┐\x1b[22m\n"
     "\x1b[2m│\x1b[22m \x1b[1ma        \x1b[22m \x1b[2m│\x1b[22m \x1b[1mbb\x1b[22m \x1b[2m│\x1b[22m\n"
     "\x1b[2m├───────────┼────┤\x1b[22m\n"
     "\x1b[2m│\x1b[22m 1         \x1b[2m│\x1b[22m  2 \x1b[2m│\x1b[22m\n"
     "\x1b[2m│\x1b[22m long cell \x1b[2m│\x1b[22m  3 \x1b[2m│\x1b[22m\n"
     "\x1b[2m└───────────┴────┘\x1b[22m\n",
     "┌───────────┬────┐\n│ a         │ bb │\n├───────────┼────┤\n│ 1         │  2 │\n│ long cell │  3 │\n"
     "└───────────┴────┘\n"},
    {"> quoted\n> more\n\nafter\n", "\x1b[2m│ \x1b[22mquoted\n\x1b[2m│ \x1b[22mmore\n\nafter\n",
     "│ quoted\n│ more\n\nafter\n"},
    {"a [link](https://x.y) and <https://z.w>\n\n---\n",
     "a link \x1b[2m(https://x.y)\x1b[22m and https://z.w\n\n\x1b[2m────────────────────────────────────────\x1b[22m\n",
     "a link (https://x.y) and https://z.w\n\n────────────────────────────────────────\n"},
    // Control characters from the model are shown, not obeyed; HTML is text.
    {"bad \x1b[31m esc \x07 bell <b>x</b> &amp;\n", "bad \xef\xbf\xbd[31m esc \xef\xbf\xbd bell <b>x</b> &\n",
     "bad \xef\xbf\xbd[31m esc \xef\xbf\xbd bell <b>x</b> &\n"},
};

std::string streamed(const std::string& text, size_t piece, bool color) {
  MarkdownStream s(color);
  std::string out;
  for (size_t i = 0; i < text.size(); i += piece) out += s.feed(text.substr(i, piece));
  return out + s.finish();
}

}  // namespace

TEST_CASE("markdown: each vector renders to its exact ANSI output, and to its plain layout without colour") {
  for (const auto& v : kVectors) {
    CAPTURE(v.input);
    CHECK(render_markdown(v.input, true) == v.color);
    CHECK(render_markdown(v.input, false) == v.plain);
  }
}

TEST_CASE("markdown: streamed in any pieces, a document renders as it does whole") {
  // (A paragraph between the vectors: two lists one blank line apart are one loose list
  // to a whole-document parser, while a stream must show the first before the second.)
  std::string doc;
  for (const auto& v : kVectors) doc += std::string(v.input) + "\nbetween\n\n";
  doc += "Closing words\nover two lines\n";
  std::string whole = render_markdown(doc, true);
  for (size_t piece : {1, 2, 3, 7, 64, 100000}) {
    CAPTURE(piece);
    CHECK(streamed(doc, piece, true) == whole);
  }
  // A block is shown as soon as the next one starts, before the stream ends.
  MarkdownStream s(false);
  CHECK(s.feed("# One\n\nfirst para") == "# One\n\nfirst ");  // a paragraph word by word
  CHECK(s.feed("graph\nsecond") == "paragraph\n");
  CHECK(s.feed(" *line") == "second ");
  CHECK(s.feed(" - one* 2. two\n") == "*line - one* 2. two\n");  // held until the emphasis closes
  CHECK(s.feed("\n```\ncode\n\nstill code\n").empty());      // a code block only once it closes
  CHECK(s.feed("```\n").empty());
  CHECK(s.finish() == "\n┌──\n│ code\n│ \n│ still code\n└──\n");
}

TEST_CASE("markdown: unclosed and hostile input stays bounded text") {
  CHECK(render_markdown("```\nnever closed", false) == "┌──\n│ never closed\n└──\n");
  CHECK(render_markdown("**unclosed", false) == "**unclosed\n");
  std::string deep(5000, '>');
  deep += " x\n";
  CHECK_FALSE(render_markdown(deep, false).empty());
  std::string nested;
  for (int i = 0; i < 2000; ++i) nested += std::string(size_t(i % 40) * 2, ' ') + "- item\n";
  CHECK_FALSE(render_markdown(nested, true).empty());
  CHECK(render_markdown("", true).empty());
}
