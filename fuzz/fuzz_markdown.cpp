// The Markdown renderer on a model's answer (untrusted): whole and streamed in pieces,
// with and without colour; the output never carries a control character other than
// newline, tab and the renderer's own SGR sequences.
#include <cstddef>
#include <cstdint>
#include <string>

#include "commands/markdown.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (bool color : {false, true}) {
    std::string whole = confer::cli::render_markdown(text, color);
    confer::cli::MarkdownStream stream(color);
    std::string streamed;
    size_t piece = size % 7 + 1;
    for (size_t i = 0; i < text.size(); i += piece) streamed += stream.feed(text.substr(i, piece));
    streamed += stream.finish();
    for (const std::string* out : {&whole, &streamed})
      for (size_t i = 0; i < out->size(); ++i) {
        unsigned char c = static_cast<unsigned char>((*out)[i]);
        if (c == 0x1b) {
          if (!color || i + 1 >= out->size() || (*out)[i + 1] != '[') __builtin_trap();
        } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
          __builtin_trap();
        }
      }
  }
  return 0;
}
