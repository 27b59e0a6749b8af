#include "attest/tsm.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

namespace confer::attest {

namespace {

constexpr size_t kReportDataSize = 64;
// outblob is at most 32 KiB today; auxblob (SEV's certificate table) is small too. A
// generous cap still keeps a broken provider from exhausting memory.
constexpr size_t kMaxAttributeSize = 16u << 20;
constexpr auto kOutblobPoll = std::chrono::milliseconds(5);
constexpr auto kOutblobWait = std::chrono::seconds(2);

// Every attribute a kernel may create in an entry. A mimic directory keeps whichever of
// them were written as plain files, and those must go before rmdir can succeed.
constexpr const char* kAttributes[] = {
    "inblob",     "outblob",         "auxblob",          "provider",
    "generation", "privlevel",       "privlevel_floor",  "service_provider",
    "service_guid", "service_manifest_version", "manifestblob",
};

Error os_error(const std::string& what, const std::string& path, int err) {
  return make_error(Errc::io, "configfs-tsm: " + what + " " + path + ": " + std::strerror(err));
}

// Reads the whole file; returns 0 or an errno value (EFBIG beyond kMaxAttributeSize).
int read_all(const std::string& path, Bytes& out) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    if (out.size() + size_t(n) > kMaxAttributeSize) {
      ::close(fd);
      return EFBIG;
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return 0;
}

// configfs binary attributes collect the writes of one open and commit them on close, so
// the data goes out through a single descriptor. A mimic directory has no inblob yet: it
// is created then.
int write_attribute(const std::string& path, ByteView data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return err;
    }
    done += size_t(n);
  }
  if (::close(fd) != 0) return errno;
  return 0;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// For messages: printable ASCII kept, anything else as \xNN, at most 40 bytes shown.
std::string printable(std::string_view s) {
  std::string out;
  size_t shown = 0;
  for (char c : s) {
    if (shown++ == 40) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      static constexpr char digits[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(digits[u >> 4]);
      out.push_back(digits[u & 0xf]);
    }
  }
  return out;
}

Result<uint64_t> parse_generation(const Bytes& raw, const std::string& path) {
  std::string_view text = trim(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return make_error(Errc::parse, "configfs-tsm: " + path + ": expected a decimal generation counter, saw '" +
                                       printable(text) + "'");
  return value;
}

Result<std::string> random_entry_name() {
  uint8_t rnd[8];
  size_t got = 0;
  while (got < sizeof rnd) {
    ssize_t n = ::getrandom(rnd + got, sizeof rnd - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::internal, std::string("configfs-tsm: getrandom failed: ") + std::strerror(errno));
    }
    got += size_t(n);
  }
  return "confer-" + to_hex(ByteView(rnd, sizeof rnd));
}

Result<std::string> create_entry(const std::string& root) {
  for (int attempt = 0;; ++attempt) {
    CONFER_TRY(std::string name, random_entry_name());
    std::string entry = root + "/" + name;
    if (::mkdir(entry.c_str(), 0700) == 0) return entry;
    int err = errno;
    if (err == EEXIST && attempt < 4) continue;  // a 64-bit collision: try another name
    Error e = os_error("cannot create the report entry", entry, err);
    if (err == ENOENT)
      e.message += " (is configfs mounted and a TSM provider such as sev-guest or tdx-guest loaded?)";
    return e;
  }
}

Result<void> remove_entry(const std::string& entry) {
  if (::rmdir(entry.c_str()) == 0) return {};
  int err = errno;
  if (err == ENOTEMPTY || err == EEXIST) {
    // A mimic of configfs: the attributes are ordinary files that we or a test wrote.
    for (const char* attr : kAttributes) ::unlink((entry + "/" + attr).c_str());
    if (::rmdir(entry.c_str()) == 0) return {};
    err = errno;
  }
  return os_error("cannot remove the report entry", entry, err);
}

// On real configfs outblob exists from mkdir on; in a mimic it appears once the fake
// kernel has written it.
Result<void> wait_for_outblob(const std::string& entry, const std::string& path) {
  auto deadline = std::chrono::steady_clock::now() + kOutblobWait;
  for (;;) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return {};
    if (errno != ENOENT) return os_error("cannot stat", path, errno);
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(Errc::io, "configfs-tsm: outblob did not appear under " + entry + " within 2 s");
    std::this_thread::sleep_for(kOutblobPoll);
  }
}

Result<TsmReport> generate(const std::string& entry, ByteView report_data) {
  const std::string generation_path = entry + "/generation";
  Bytes raw;

  // A fresh entry starts at 0; a mimic may have no generation file before the write.
  uint64_t before = 0;
  if (int err = read_all(generation_path, raw); err == 0) {
    CONFER_TRY(before, parse_generation(raw, generation_path));
  } else if (err != ENOENT) {
    return os_error("cannot read", generation_path, err);
  }

  const std::string inblob_path = entry + "/inblob";
  if (int err = write_attribute(inblob_path, report_data); err != 0)
    return os_error("cannot write the report data to", inblob_path, err);

  // Reading outblob is what makes the kernel ask the TSM for the report.
  const std::string outblob_path = entry + "/outblob";
  CONFER_TRY_VOID(wait_for_outblob(entry, outblob_path));
  TsmReport report;
  if (int err = read_all(outblob_path, report.outblob); err != 0) {
    Error e = os_error("cannot read the report from", outblob_path, err);
    if (err == EBUSY) e.message += " (another writer changed the entry while the report was generated)";
    return e;
  }
  if (report.outblob.empty())
    return make_error(Errc::io, "configfs-tsm: " + outblob_path + " is empty: the provider returned no report");

  const std::string provider_path = entry + "/provider";
  if (int err = read_all(provider_path, raw); err != 0) return os_error("cannot read", provider_path, err);
  report.provider = std::string(trim(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size())));
  if (report.provider.empty())
    return make_error(Errc::io, "configfs-tsm: " + provider_path + " is empty: no provider name");

  // Optional: hidden when the provider has none, or empty.
  const std::string auxblob_path = entry + "/auxblob";
  if (int err = read_all(auxblob_path, report.auxblob); err != 0) {
    if (err != ENOENT) return os_error("cannot read", auxblob_path, err);
    report.auxblob.clear();
  }

  // Read last: outblob and auxblob both belong to our inblob only if exactly our one
  // write happened since `before`.
  if (int err = read_all(generation_path, raw); err != 0) return os_error("cannot read", generation_path, err);
  CONFER_TRY(report.generation, parse_generation(raw, generation_path));
  if (report.generation != before + 1)
    return make_error(Errc::attestation,
                      "configfs-tsm: generation under " + entry + " is " + std::to_string(report.generation) +
                          ", expected " + std::to_string(before + 1) +
                          ": another writer changed the entry while the report was made; refusing the report");
  return report;
}

}  // namespace

Result<TsmReport> tsm_report(const std::string& root, ByteView report_data) {
  if (report_data.size() != kReportDataSize)
    return make_error(Errc::usage, "configfs-tsm: the report data must be exactly 64 bytes, saw " +
                                       std::to_string(report_data.size()));
  CONFER_TRY(std::string entry, create_entry(root));
  Result<TsmReport> report = generate(entry, report_data);
  Result<void> removed = remove_entry(entry);
  if (!removed) {
    if (report) return std::move(removed).error();
    Error e = std::move(report).error();
    e.message += "; also " + removed.error().message;
    return e;
  }
  return report;
}

}  // namespace confer::attest
