// confer import: an archive of confer export --encrypted read back into this machine's
// history, all of it or none: it is checked to its final message inside one transaction,
// and conversations already here are skipped. Synced like any new conversation.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands/account.hpp"
#include "commands/common.hpp"
#include "core/json.hpp"
#include "store/archive.hpp"

namespace confer::cli {

Result<crypto::SecretBytes> archive_passphrase(const std::string& file, bool twice);

namespace {

struct ImportOptions {
  KeyFlags key;
  std::string file;
  std::string archive_passphrase_file;
  bool json = false;
};

int run(const ImportOptions& o) {
  if (o.json) set_json_errors(true);
  auto history = open_history(false);
  if (!history) return fail(history.error());
  if (!*history)
    return fail(make_error(Errc::key, "no account on this machine yet to import into"),
                {"create one first: confer login --register (or join one: confer login --server URL)"});
  int fd = o.file == "-" ? STDIN_FILENO : ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(make_error(Errc::io, fmt::format("{}: {}", o.file, std::strerror(errno))));
  auto keys = unlock_for_use(**history, o.key, true);
  if (!keys) return fail(keys.error(), {"unlock it for scripts: confer login --remember 15m"});
  auto passphrase = archive_passphrase(o.archive_passphrase_file, false);
  if (!passphrase) return fail(passphrase.error());
  store::ArchiveReader read = [fd, &o](uint8_t* into, size_t n) -> Result<size_t> {
    for (;;) {
      ssize_t k = ::read(fd, into, n);
      if (k >= 0) return size_t(k);
      if (errno != EINTR) return make_error(Errc::io, fmt::format("reading {}: {}", o.file, std::strerror(errno)));
    }
  };
  auto counts = store::import_archive(**history, *keys, read, passphrase->view());
  if (fd != STDIN_FILENO) ::close(fd);
  if (!counts) return fail(counts.error(), {"nothing was imported; the history is as it was"});
  if (o.json) {
    std::printf("%s\n", dump_json(nlohmann::json{{"conversations", counts->conversations - counts->skipped},
                                                  {"turns", counts->turns - counts->skipped_turns},
                                                  {"skipped", counts->skipped}})
                             .c_str());
  } else {
    print_note(fmt::format("imported {} conversation(s), {} turn(s) from {}{}", counts->conversations - counts->skipped,
                           counts->turns - counts->skipped_turns, o.file,
                           counts->skipped > 0 ? fmt::format(" ({} already here, skipped)", counts->skipped) : ""));
  }
  return kExitOk;
}

}  // namespace

Handler setup_import(CLI::App& app) {
  auto o = std::make_shared<ImportOptions>();
  app.add_option("file", o->file, "The archive (from confer export --encrypted); - for standard input")->required();
  app.add_option("--archive-passphrase-file", o->archive_passphrase_file,
                 "Read the archive's passphrase from this file's first line instead of the terminal");
  app.add_flag("--json", o->json, "A JSON summary on stdout: {conversations, turns, skipped}");
  declare_key_flags(app, o->key, false);
  return [o] { return run(*o); };
}

}  // namespace confer::cli
