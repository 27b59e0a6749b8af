// What every command shares: exit codes, stderr conventions, colour, the command table type.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/result.hpp"

namespace confer::cli {

// Documented in confer(1); scripts depend on them.
enum Exit : int {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitAttestation = 3,
  kExitKey = 4,
  kExitProtocol = 5,
};

int exit_code_for(Errc code) noexcept;

enum class ColorMode { auto_, always, never };
void set_color_mode(ColorMode mode);
bool color_stdout();
bool color_stderr();
// Wraps text in an SGR colour when `on`.
std::string paint(const std::string& text, const char* sgr, bool on);

// "confer: error: ..." then "confer: hint: ..." lines, on stderr.
void print_error(const std::string& what, std::initializer_list<std::string> hints = {});
void print_warning(const std::string& what);
void print_note(const std::string& what);
// Prints the error and returns its exit code.
// With --json (set_json_errors), also one {"type":"error","code":N,"check":NAME|null,
// "message":...,"hints":[...]} line on stdout, so scripts never parse stderr.
int fail(const Error& error, std::initializer_list<std::string> hints = {}, const std::string& check = {});
void set_json_errors(bool on);

// The width to lay text out in: $COLUMNS, else the terminal's, else 80 (at least 40).
size_t output_columns();
// `text` for a column starting at `indent`, broken at spaces to fit `width`; a word
// longer than the room (a hex digest) is cut into groups of 16 characters.
std::string wrap_value(const std::string& text, size_t indent, size_t width);

// `error` with the option (or config key) that carried the bad value in front:
// "--expect-measurement: expected 96 hex digits (SHA-384), saw 11: '7a1e5c26...'".
Error for_option(const std::string& option, Error error);

// The candidate `word` was most likely meant as: the nearest by edit distance when it is
// within two edits, or one that `word` starts with or is the start of. None otherwise.
std::optional<std::string> did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// A command's handler, returned by its setup function once its options are declared.
using Handler = std::function<int()>;
using Setup = Handler (*)(CLI::App& app);

struct CommandSpec {
  const char* name;
  const char* summary;
  Setup setup;
};

Handler setup_verify_attestation(CLI::App& app);
Handler setup_dev_evidence(CLI::App& app);
Handler setup_paths(CLI::App& app);
Handler setup_chat(CLI::App& app);
Handler setup_login(CLI::App& app);
Handler setup_logout(CLI::App& app);
Handler setup_status(CLI::App& app);
Handler setup_keys(CLI::App& app);
Handler setup_history(CLI::App& app);
Handler setup_models(CLI::App& app);
Handler setup_sync(CLI::App& app);
Handler setup_export(CLI::App& app);
Handler setup_import(CLI::App& app);

}  // namespace confer::cli
