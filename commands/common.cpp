#include "commands/common.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/json.hpp"

namespace confer::cli {

namespace {
ColorMode g_mode = ColorMode::auto_;

bool auto_color(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
  return isatty(fd) == 1;
}

bool color_for(int fd) {
  switch (g_mode) {
    case ColorMode::always: return true;
    case ColorMode::never: return false;
    case ColorMode::auto_: return auto_color(fd);
  }
  return false;
}
}  // namespace

int exit_code_for(Errc code) noexcept {
  switch (code) {
    case Errc::usage: return kExitUsage;
    case Errc::attestation: return kExitAttestation;
    case Errc::key: return kExitKey;
    case Errc::protocol: return kExitProtocol;
    case Errc::parse:  // malformed input: an error, not a verdict on a server
    case Errc::io:
    case Errc::network:
    case Errc::internal: return kExitError;
  }
  return kExitError;
}

void set_color_mode(ColorMode mode) { g_mode = mode; }
bool color_stdout() { return color_for(STDOUT_FILENO); }
bool color_stderr() { return color_for(STDERR_FILENO); }

std::string paint(const std::string& text, const char* sgr, bool on) {
  if (!on) return text;
  return std::string("\033[") + sgr + "m" + text + "\033[0m";
}

void print_error(const std::string& what, std::initializer_list<std::string> hints) {
  bool c = color_stderr();
  std::fprintf(stderr, "confer: %s %s\n", paint("error:", "1;31", c).c_str(), what.c_str());
  for (const auto& h : hints)
    std::fprintf(stderr, "confer: %s %s\n", paint("hint:", "1;36", c).c_str(), h.c_str());
}

void print_warning(const std::string& what) {
  std::fprintf(stderr, "confer: %s %s\n", paint("warning:", "1;33", color_stderr()).c_str(), what.c_str());
}

void print_note(const std::string& what) { std::fprintf(stderr, "confer: %s\n", what.c_str()); }

namespace {
bool g_json_errors = false;
}  // namespace

void set_json_errors(bool on) { g_json_errors = on; }

int fail(const Error& error, std::initializer_list<std::string> hints, const std::string& check) {
  print_error(error.message, hints);
  int code = exit_code_for(error.code);
  if (g_json_errors) {
    nlohmann::json j = {{"type", "error"}, {"code", code}, {"check", check.empty() ? nlohmann::json() : nlohmann::json(check)},
                        {"message", error.message}, {"hints", std::vector<std::string>(hints)}};
    std::printf("%s\n", dump_json(j).c_str());
    std::fflush(stdout);
  }
  return code;
}

std::optional<std::string> did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (word[i - 1] == c[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    size_t d = row[c.size()];
    bool prefix = !word.empty() && (c.rfind(word, 0) == 0 || word.rfind(c, 0) == 0);
    if ((d <= 2 || prefix) && d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

Error for_option(const std::string& option, Error error) {
  error.message = option + ": " + error.message;
  return error;
}

size_t output_columns() {
  size_t cols = 0;
  if (const char* c = std::getenv("COLUMNS"); c != nullptr) cols = std::strtoul(c, nullptr, 10);
  winsize ws{};
  if (cols == 0 && isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) cols = ws.ws_col;
  if (cols == 0) cols = 80;
  return std::max<size_t>(cols, 40);
}

std::string wrap_value(const std::string& text, size_t indent, size_t width) {
  size_t room = width > indent + 20 ? width - indent : 20;
  if (text.size() <= room) return text;
  std::vector<std::string> words;
  for (size_t at = 0; at < text.size();) {
    size_t sp = text.find(' ', at);
    std::string w = text.substr(at, sp == std::string::npos ? std::string::npos : sp - at);
    // A word too long for a line is cut at multiples of 16 (hex stays in readable groups).
    size_t piece = room >= 16 ? room / 16 * 16 : room;
    while (w.size() > room) {
      words.push_back(w.substr(0, piece));
      w.erase(0, piece);
    }
    if (!w.empty()) words.push_back(w);
    if (sp == std::string::npos) break;
    at = sp + 1;
  }
  std::string out, line;
  for (const auto& w : words) {
    if (!line.empty() && line.size() + 1 + w.size() > room) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  return out + line;
}

}  // namespace confer::cli
