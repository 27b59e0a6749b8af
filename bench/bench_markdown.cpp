// Markdown rendering of a model's answer: the whole answer at once (the baseline) against
// the same answer streamed in token-sized pieces as confer chat shows it, plus the bare
// md4c parse of the same text; each as MB/s and as a ratio to the baseline in this run.
#include <chrono>
#include <cstdio>
#include <string>

#include <md4c.h>

#include "commands/markdown.hpp"

using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string answer(size_t bytes) {
  const char* blocks[] = {
      "Here is *what* you asked about, with **emphasis**, `inline code` and a [link](https://example.org).\n"
      "It goes on for a second line of the same paragraph.\n\n",
      "- first point\n- second point with `code`\n  - nested detail\n\n",
      "```python\nfor i in range(10):\n    print(i)\n```\n\n",
      "| name | value |\n|------|------:|\n| a | 1 |\n| b | 22 |\n\n",
      "> a quoted line\n> and another\n\n",
  };
  std::string out;
  for (size_t i = 0; out.size() < bytes; ++i) out += blocks[i % 5];
  return out;
}

int noop_block(MD_BLOCKTYPE, void*, void*) { return 0; }
int noop_span(MD_SPANTYPE, void*, void*) { return 0; }
int noop_text(MD_TEXTTYPE, const MD_CHAR*, MD_SIZE, void*) { return 0; }

}  // namespace

int main() {
  const std::string text = answer(4u << 20);
  const double mb = double(text.size()) / 1e6;
  size_t sink = 0;

  auto t = Clock::now();
  sink += confer::cli::render_markdown(text, true).size();
  double whole = since(t);

  t = Clock::now();
  confer::cli::MarkdownStream stream(true);
  for (size_t i = 0; i < text.size(); i += 4) sink += stream.feed(std::string_view(text).substr(i, 4)).size();
  sink += stream.finish().size();
  double streamed = since(t);

  MD_PARSER p{};
  p.flags = MD_DIALECT_GITHUB;
  p.enter_block = noop_block;
  p.leave_block = noop_block;
  p.enter_span = noop_span;
  p.leave_span = noop_span;
  p.text = noop_text;
  t = Clock::now();
  md_parse(text.data(), MD_SIZE(text.size()), &p, nullptr);
  double parse = since(t);

  std::printf("markdown: %.1f MB answer; rendered whole %.1f MB/s (baseline)\n", mb, mb / whole);
  std::printf("markdown: streamed in 4-byte pieces %.1f MB/s = %.2fx the whole render's time\n", mb / streamed,
              streamed / whole);
  std::printf("markdown: md4c parse alone %.1f MB/s = %.2fx the whole render's time\n", mb / parse, parse / whole);
  return sink == 0 ? 1 : 0;
}
