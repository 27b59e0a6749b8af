// confer export: the history decrypted, one conversation in memory at a time, as JSON,
// JSON Lines or Markdown, each assistant turn with the receipt of the server that
// answered it. To standard output, or to -o FILE written atomically with mode 0600;
// never to a file the user did not name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <sodium.h>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "core/time.hpp"
#include "store/archive.hpp"
#include "store/export.hpp"

namespace confer::cli {

// The archive passphrase: --archive-passphrase-file's first line, else typed twice on
// the terminal (an export) or once (an import).
Result<crypto::SecretBytes> archive_passphrase(const std::string& file, bool twice) {
  KeyFlags from;
  from.passphrase_file = file;
  CONFER_TRY(crypto::SecretBytes first, read_passphrase(from, "Passphrase for the archive: "));
  if (!twice || !file.empty()) return first;
  CONFER_TRY(crypto::SecretBytes again, read_secret_from_tty("The same passphrase again: "));
  if (first.size() != again.size() || sodium_memcmp(first.data(), again.data(), first.size()) != 0)
    return make_error(Errc::usage, "the two passphrases differ; nothing was written");
  return first;
}

namespace {

// The partial file of -o, removed if a signal ends the export: no plaintext is left
// behind half-written. (unlink is async-signal-safe.)
char g_partial[4096] = {0};
void remove_partial(int sig) {
  if (g_partial[0] != '\0') ::unlink(g_partial);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

struct ExportOptions {
  KeyFlags key;
  std::string format = "json";
  std::string conversation;
  std::string since;
  std::string output;
  bool encrypted = false;
  std::string archive_passphrase_file;
  unsigned long long argon2_ops = keys::Argon2Params{}.opslimit;
  size_t argon2_mib = keys::Argon2Params{}.memlimit >> 20;
  CLI::Option* format_option = nullptr;
  CLI::App* app = nullptr;
};

// Where the export goes: stdout, or a temporary file beside FILE renamed over it at the end.
class Sink {
 public:
  static Result<Sink> open(const std::string& path) {
    Sink s;
    if (path.empty() || path == "-") {
      s.out_ = stdout;
      return s;
    }
    s.path_ = path;
    s.temp_ = path + ".partial-XXXXXX";
    int fd = ::mkstemp(s.temp_.data());
    if (fd < 0) return make_error(Errc::io, fmt::format("-o {}: {}", path, std::strerror(errno)));
    ::fchmod(fd, 0600);
    if (s.temp_.size() < sizeof g_partial) {
      std::memcpy(g_partial, s.temp_.c_str(), s.temp_.size() + 1);
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, remove_partial);
    }
    s.out_ = ::fdopen(fd, "w");
    if (s.out_ == nullptr) {
      ::close(fd);
      ::unlink(s.temp_.c_str());
      return make_error(Errc::io, fmt::format("-o {}: {}", path, std::strerror(errno)));
    }
    return s;
  }
  Sink() = default;
  Sink(Sink&& o) noexcept : out_(o.out_), path_(std::move(o.path_)), temp_(std::move(o.temp_)) { o.out_ = nullptr; }
  ~Sink() {
    if (out_ != nullptr && !path_.empty()) {
      std::fclose(out_);
      ::unlink(temp_.c_str());  // not committed: nothing half-written is left
    }
  }
  void write(std::string_view s) {
    if (std::fwrite(s.data(), 1, s.size(), out_) != s.size()) failed_ = true;
  }
  Result<void> commit() {
    if (std::fflush(out_) != 0 || failed_) return make_error(Errc::io, fmt::format("writing {}: {}", where(), std::strerror(errno)));
    if (path_.empty()) return {};
    if (::fsync(::fileno(out_)) != 0 || std::fclose(out_) != 0) {
      out_ = nullptr;
      ::unlink(temp_.c_str());
      return make_error(Errc::io, fmt::format("writing {}: {}", path_, std::strerror(errno)));
    }
    out_ = nullptr;
    g_partial[0] = '\0';
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      ::unlink(temp_.c_str());
      return make_error(Errc::io, fmt::format("-o {}: {}", path_, std::strerror(errno)));
    }
    return {};
  }
  std::string where() const { return path_.empty() ? "standard output" : path_; }

 private:
  FILE* out_ = nullptr;
  std::string path_, temp_;
  bool failed_ = false;
};

Result<int64_t> parse_since(const std::string& text) {
  if (text.empty()) return int64_t{0};
  std::string t = text.size() == 10 ? text + "T00:00:00Z" : text;
  auto parsed = parse_rfc3339(t);
  if (!parsed)
    return make_error(Errc::usage, fmt::format("--since: expected a date (2026-12-01) or an RFC 3339 time, saw '{}'", text));
  return *parsed;
}

// Flags that cannot apply are refused, before anything is unlocked.
int check_flags(const ExportOptions& o) {
  if (!o.encrypted) {
    for (const char* flag : {"--archive-passphrase-file", "--argon2-ops", "--argon2-memory"})
      if (o.app->get_option(flag)->count() > 0)
        return fail(make_error(Errc::usage, std::string(flag) + " goes with --encrypted"));
    return kExitOk;
  }
  if (o.format_option != nullptr && o.format_option->count() > 0)
    return fail(make_error(Errc::usage, "--format is for plaintext exports; an --encrypted archive has one format "
                                        "(docs/archive.md)"));
  if ((o.output.empty() || o.output == "-") && ::isatty(STDOUT_FILENO))
    return fail(make_error(Errc::usage, "an encrypted archive is binary: not written to a terminal"),
                {"confer export --encrypted -o history.confer"});
  return kExitOk;
}

int run_encrypted(store::HistoryStore& history, const store::Unlocked& keys, const ExportOptions& o, int64_t since) {
  auto passphrase = archive_passphrase(o.archive_passphrase_file, true);
  if (!passphrase) return fail(passphrase.error());
  auto sink = Sink::open(o.output);
  if (!sink) return fail(sink.error());
  auto counts = store::write_archive(history, keys, {o.conversation, since}, passphrase->view(),
                                     keys::Argon2Params{o.argon2_ops, o.argon2_mib << 20}, [&](ByteView b) -> Result<void> {
                                       sink->write(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
                                       return {};
                                     });
  if (!counts) return fail(counts.error());
  if (auto r = sink->commit(); !r) return fail(r.error());
  print_note(fmt::format("exported {} conversation(s), {} turn(s) to {} (encrypted under the passphrase; read it "
                         "back with confer import)",
                         counts->conversations, counts->turns, sink->where()));
  return kExitOk;
}

int run(const ExportOptions& o) {
  if (int bad = check_flags(o); bad != kExitOk) return bad;
  auto since = parse_since(o.since);
  if (!since) return fail(since.error());
  auto history = open_history(false);
  if (!history) return fail(history.error());
  if (!*history) return fail(make_error(Errc::key, "no account on this machine yet, so nothing to export"));
  auto keys = unlock_for_use(**history, o.key, true);
  if (!keys) return fail(keys.error(), {"unlock it for scripts: confer login --remember 15m"});
  if (!o.conversation.empty()) {
    // Checked before a passphrase is asked for or -o is created: a typo leaves nothing behind.
    auto selected = store::selected_conversations(**history, *keys, {o.conversation, *since});
    if (!selected) return fail(selected.error(), {"confer history lists them"});
  }
  if (o.encrypted) return run_encrypted(**history, *keys, o, *since);
  auto format = o.format == "jsonl" ? store::ExportFormat::jsonl
                : o.format == "markdown" ? store::ExportFormat::markdown : store::ExportFormat::json;
  auto sink = Sink::open(o.output);
  if (!sink) return fail(sink.error());
  auto counts = store::export_history(**history, *keys, format, {o.conversation, *since},
                                      [&](std::string_view s) { sink->write(s); });
  if (!counts) return fail(counts.error());
  if (auto r = sink->commit(); !r) return fail(r.error());
  if (!o.output.empty() && o.output != "-")
    print_note(fmt::format("exported {} conversation(s), {} turn(s) to {} (plaintext, mode 0600)", counts->conversations,
                           counts->turns, o.output));
  return kExitOk;
}

}  // namespace

Handler setup_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  app.add_option("--format", o->format, "json (one array), jsonl (one turn per line) or markdown")
      ->check(CLI::IsMember({"json", "jsonl", "markdown"}));
  app.add_option("--conversation", o->conversation, "Only this conversation");
  app.add_option("--since", o->since, "Only conversations updated since this date (2026-12-01 or RFC 3339)");
  app.add_option("-o,--output", o->output, "Write to FILE (atomically, mode 0600) instead of standard output");
  o->format_option = app.get_option("--format");
  o->app = &app;
  app.add_flag("--encrypted", o->encrypted,
               "A portable archive encrypted under a passphrase (Argon2id), for confer import on any machine");
  app.add_option("--archive-passphrase-file", o->archive_passphrase_file,
                 "Read the archive's passphrase from this file's first line instead of the terminal");
  app.add_option("--argon2-ops", o->argon2_ops, "Argon2id passes for the archive's key (default 3)")
      ->check(CLI::Range(1ull, keys::kMaxArgon2Ops));
  app.add_option("--argon2-memory", o->argon2_mib, "Argon2id memory in MiB for the archive's key (default 256)")
      ->check(CLI::Range(size_t(1), keys::kMaxArgon2Memory >> 20));
  declare_key_flags(app, o->key, false);
  return [o] { return run(*o); };
}

}  // namespace confer::cli
