// The ways in shared by login, keys, history and chat (commands/account.hpp); security
// keys themselves are in account_fido.cpp.
#include "commands/account.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "commands/common.hpp"
#include "core/time.hpp"
#include "keys/hierarchy.hpp"
#include "keys/recovery.hpp"
#include "keys/session.hpp"

namespace confer::cli {

namespace {

constexpr size_t kMaxSecretLine = 1024;

volatile std::sig_atomic_t g_tty_interrupted = 0;
void on_tty_signal(int) { g_tty_interrupted = 1; }

// One line from `fd` into guarded memory, without its newline.
Result<crypto::SecretBytes> read_secret_line(int fd, const char* what) {
  CONFER_TRY(crypto::SecretBytes buf, crypto::SecretBytes::allocate(kMaxSecretLine));
  size_t n = 0;
  for (;;) {
    char c = 0;
    ssize_t r = ::read(fd, &c, 1);
    if (r < 0 && errno == EINTR && g_tty_interrupted == 0) continue;
    if (r < 0) return make_error(Errc::key, fmt::format("reading the {} was interrupted", what));
    if (r == 0 || c == '\n') break;
    if (c == '\r') continue;
    if (n == kMaxSecretLine) return make_error(Errc::usage, fmt::format("the {} is longer than {} bytes", what,
                                                                        kMaxSecretLine));
    buf.data()[n++] = static_cast<uint8_t>(c);
  }
  CONFER_TRY(crypto::SecretBytes out, crypto::SecretBytes::allocate(n));
  if (n > 0) std::memcpy(out.data(), buf.data(), n);
  return out;
}

Result<crypto::SecretBytes> read_new_passphrase(const KeyFlags& flags) {
  if (!flags.passphrase_file.empty()) return read_passphrase(flags, "");
  CONFER_TRY(crypto::SecretBytes first, read_secret_from_tty("New passphrase for the file authenticator: "));
  CONFER_TRY(crypto::SecretBytes again, read_secret_from_tty("Again: "));
  if (!first.equals(again.view())) return make_error(Errc::usage, "the two passphrases differ; nothing was created");
  return first;
}

keys::Argon2Params argon2_from(const KeyFlags& flags) {
  return keys::Argon2Params{flags.argon2_ops, flags.argon2_mib << 20};
}

Result<Bytes> random_bytes(size_t n) {
  Bytes out(n);
  CONFER_TRY_VOID(crypto::fill_random(out.data(), out.size()));
  return out;
}

Result<crypto::SecretBytes> file_kek(const keys::FileAuthenticator& fa, ByteView input) {
  CONFER_TRY(crypto::SecretBytes prf, fa.prf(keys::prf_salt(input)));
  return keys::derive_kek(prf);
}

}  // namespace

void declare_key_flags(CLI::App& app, KeyFlags& f, bool creating) {
  app.add_option("--device", f.device, "Security key device path (default: the only one; see login --list-devices)");
  app.add_option("--rp-id", f.rp_id, "Relying party id of the credential")->capture_default_str();
  app.add_option("--authenticator", f.authenticator,
                 "file:PATH: a passphrase-sealed file instead of a security key (weaker: the file can be attacked "
                 "offline)");
  app.add_option("--passphrase-file", f.passphrase_file, "Read the file authenticator's passphrase from FILE");
  app.add_option("--touch-timeout", f.timeout, "Seconds to wait for the security key")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  if (creating) {
    app.add_option("--argon2-ops", f.argon2_ops, "Argon2id passes for a new file authenticator or recovery code")
        ->check(CLI::Range(1, 16))
        ->capture_default_str();
    app.add_option("--argon2-memory", f.argon2_mib, "Argon2id memory in MiB for the same")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
  }
}

Result<std::optional<std::string>> file_authenticator_path(const KeyFlags& flags) {
  if (flags.authenticator.empty()) return std::optional<std::string>();
  constexpr std::string_view kScheme = "file:";
  if (flags.authenticator.rfind(kScheme, 0) != 0 || flags.authenticator.size() == kScheme.size())
    return make_error(Errc::usage, fmt::format("--authenticator: expected file:PATH, saw '{}'", flags.authenticator));
  std::error_code ec;
  auto abs = std::filesystem::absolute(flags.authenticator.substr(kScheme.size()), ec);
  if (ec) return make_error(Errc::usage, fmt::format("--authenticator: {}", ec.message()));
  return std::optional<std::string>(abs.lexically_normal().string());
}

Result<crypto::SecretBytes> read_secret_from_tty(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::key, "no terminal to ask for a secret on (a PIN or passphrase is never read from the "
                                 "command line or the environment)");
  termios saved{};
  bool have_termios = ::tcgetattr(fd, &saved) == 0;
  if (have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  struct sigaction sa {}, old_int{}, old_term{};
  sa.sa_handler = on_tty_signal;
  sigemptyset(&sa.sa_mask);
  g_tty_interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  (void)!::write(fd, prompt.data(), prompt.size());
  auto line = read_secret_line(fd, "secret");
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &saved);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  ::close(fd);
  return line;
}

Result<crypto::SecretBytes> read_passphrase(const KeyFlags& flags, const std::string& prompt) {
  if (flags.passphrase_file.empty()) return read_secret_from_tty(prompt);
  int fd = ::open(flags.passphrase_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::io, fmt::format("--passphrase-file {}: {}", flags.passphrase_file, std::strerror(errno)));
  auto line = read_secret_line(fd, "passphrase");
  ::close(fd);
  if (line && line->empty())
    return make_error(Errc::usage, fmt::format("--passphrase-file {}: expected a passphrase on its first line, saw "
                                               "an empty line",
                                               flags.passphrase_file));
  return line;
}

Result<std::optional<store::HistoryStore>> open_history(bool create) {
  std::string path = store::HistoryStore::default_path();
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) return std::optional<store::HistoryStore>();
  CONFER_TRY(store::HistoryStore h, store::HistoryStore::open(path));
  return std::optional<store::HistoryStore>(std::move(h));
}

Result<NewWayIn> new_way_in(const KeyFlags& flags, const std::string& account_id, const std::string* client_data_json) {
  CONFER_TRY(std::optional<std::string> file, file_authenticator_path(flags));
  if (!file) return new_security_key(flags, account_id, client_data_json);
  CONFER_TRY(crypto::SecretBytes passphrase, read_new_passphrase(flags));
  CONFER_TRY(keys::FileAuthenticator fa, keys::FileAuthenticator::create(*file, passphrase.view(), argon2_from(flags)));
  NewWayIn w;
  w.credential.id = fa.credential_id();
  w.credential.kind = "file";
  w.credential.label = "file authenticator " + *file + " (weaker than a security key)";
  w.credential.locator = *file;
  CONFER_TRY(w.credential.salt, random_bytes(keys::kKeySize));
  w.credential.created = now_utc();
  CONFER_TRY(w.kek, file_kek(fa, w.credential.salt));
  return w;
}

Result<crypto::SecretBytes> way_in_kek(const store::Credential& c, const KeyFlags& flags, ByteView input) {
  if (c.kind == "fido") return security_key_prf(c, flags, input);
  if (c.kind != "file") return make_error(Errc::usage, fmt::format("{}: not a key or a file authenticator", c.label));
  CONFER_TRY(crypto::SecretBytes passphrase, read_passphrase(flags, "Passphrase for " + c.locator + ": "));
  CONFER_TRY(keys::FileAuthenticator fa, keys::FileAuthenticator::open(c.locator, passphrase.view()));
  if (fa.credential_id() != c.id)
    return make_error(Errc::key, fmt::format("{} holds credential {}, not the one enrolled ({})", c.locator,
                                             to_hex(fa.credential_id()), to_hex(c.id)));
  return file_kek(fa, input);
}

Result<NewRecovery> new_recovery(const KeyFlags& flags) {
  CONFER_TRY(crypto::SecretBytes secret, keys::new_recovery_secret());
  NewRecovery r;
  CONFER_TRY(r.credential.id, random_bytes(16));
  r.credential.kind = "recovery";
  r.credential.label = "recovery code";
  CONFER_TRY(r.credential.salt, random_bytes(16));
  keys::Argon2Params params = argon2_from(flags);
  r.credential.opslimit = int64_t(params.opslimit);
  r.credential.memlimit = int64_t(params.memlimit);
  r.credential.created = now_utc();
  CONFER_TRY(r.kek, keys::recovery_kek(secret, r.credential.salt, params));
  r.code = keys::format_recovery_code(secret);
  return r;
}

Result<crypto::SecretBytes> recovery_kek_from_user(const store::Credential& recovery) {
  crypto::SecretBytes typed;
  if (isatty(STDIN_FILENO) == 0) {
    CONFER_TRY(typed, read_secret_line(STDIN_FILENO, "recovery code"));
  } else {
    CONFER_TRY(typed, read_secret_from_tty("Recovery code: "));
  }
  std::string_view text(reinterpret_cast<const char*>(typed.data()), typed.size());
  CONFER_TRY(crypto::SecretBytes secret, keys::parse_recovery_code(text));
  keys::Argon2Params params{static_cast<unsigned long long>(recovery.opslimit), static_cast<size_t>(recovery.memlimit)};
  return keys::recovery_kek(secret, recovery.salt, params);
}

Result<std::optional<store::Unlocked>> unlock_from_session(store::HistoryStore& history) {
  CONFER_TRY(auto account, history.account());
  if (!account) return std::optional<store::Unlocked>();
  CONFER_TRY(std::optional<keys::Session> s, keys::recall_session(history.path()));
  if (!s || s->account_id != account->id) return std::optional<store::Unlocked>();
  CONFER_TRY(store::Unlocked u, store::unlocked_from_root(s->account_id, s->credential_id, std::move(s->root)));
  return std::optional<store::Unlocked>(std::move(u));
}

Result<store::Unlocked> unlock_interactively(store::HistoryStore& history, const KeyFlags& flags, bool recovery) {
  CONFER_TRY(std::vector<store::Credential> all, history.credentials());
  if (recovery) {
    for (const auto& c : all)
      if (c.kind == "recovery") {
        CONFER_TRY(crypto::SecretBytes kek, recovery_kek_from_user(c));
        return history.unlock(c, kek);
      }
    return make_error(Errc::key, "this history has no recovery code (add one with: confer keys add --recovery)");
  }
  CONFER_TRY(std::optional<std::string> file, file_authenticator_path(flags));
  std::vector<const store::Credential*> candidates;
  for (const auto& c : all) {
    if (file ? (c.kind == "file" && c.locator == *file) : (c.kind == "fido" && c.rp_id == flags.rp_id))
      candidates.push_back(&c);
  }
  // With no security key registered, the one file authenticator is the way in.
  if (!file && candidates.empty())
    for (const auto& c : all)
      if (c.kind == "file") candidates.push_back(&c);
  if (candidates.empty()) {
    std::string what = file ? "the file authenticator " + *file : "a security key for relying party " + flags.rp_id;
    return make_error(Errc::key, fmt::format("{} is not a way into this history (confer keys list shows them)", what));
  }
  // The credential enrolled on the named device first.
  std::stable_partition(candidates.begin(), candidates.end(),
                        [&](const store::Credential* c) { return !flags.device.empty() && c->locator == flags.device; });
  std::optional<Error> last;
  for (const store::Credential* c : candidates) {
    auto kek = way_in_kek(*c, flags, c->salt);
    if (!kek) {
      // Another registered credential may be the one on this key.
      if (c->kind == "fido" && kek.error().message.find(kWrongCredentialMarker) != std::string::npos) {
        last = kek.error();
        continue;
      }
      return std::move(kek).error();
    }
    return history.unlock(*c, *kek);
  }
  return *last;
}

bool can_ask_user() {
  if (isatty(STDERR_FILENO) == 0) return false;
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

Result<store::Unlocked> unlock_for_use(store::HistoryStore& history, const KeyFlags& flags, bool ask) {
  CONFER_TRY(std::optional<store::Unlocked> session, unlock_from_session(history));
  if (session) return std::move(*session);
  // A file authenticator with --passphrase-file needs no terminal.
  bool scripted = !flags.passphrase_file.empty() && !flags.authenticator.empty();
  if (!ask || (!can_ask_user() && !scripted))
    return make_error(Errc::key, "the history is locked, and there is no terminal to touch the key on");
  return unlock_interactively(history, flags);
}

std::string way_in_label(store::HistoryStore& history, const store::Unlocked& keys) {
  auto all = history.credentials();
  if (all)
    for (const auto& c : *all)
      if (c.id == keys.credential_id) return c.label;
  return to_hex(keys.credential_id);
}

}  // namespace confer::cli
