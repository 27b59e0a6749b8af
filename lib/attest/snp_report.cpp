#include "attest/snp_report.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

namespace confer::attest {

const char* product_name(Product p) noexcept {
  switch (p) {
    case Product::milan: return "Milan";
    case Product::genoa: return "Genoa";
    case Product::turin: return "Turin";
    case Product::unknown: break;
  }
  return "unknown";
}

Product product_from_name(std::string_view name) noexcept {
  std::string lower;
  for (char c : name) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  auto starts = [&](std::string_view p) { return lower.rfind(p, 0) == 0; };
  if (starts("milan")) return Product::milan;
  if (starts("genoa")) return Product::genoa;
  if (starts("turin")) return Product::turin;
  return Product::unknown;
}

const char* signing_key_name(SigningKey k) noexcept {
  switch (k) {
    case SigningKey::vcek: return "VCEK";
    case SigningKey::vlek: return "VLEK";
    case SigningKey::none: return "none";
  }
  return "reserved";
}

Tcb decode_tcb(uint64_t raw, Product product) noexcept {
  auto byte = [&](int i) { return uint8_t(raw >> (8 * i)); };
  Tcb t;
  if (product == Product::turin) {
    t.fmc = byte(0);
    t.bootloader = byte(1);
    t.tee = byte(2);
    t.snp = byte(3);
  } else {
    t.bootloader = byte(0);
    t.tee = byte(1);
    t.snp = byte(6);
  }
  t.microcode = byte(7);
  return t;
}

uint64_t encode_tcb(const Tcb& t, Product product) noexcept {
  auto at = [](uint8_t v, int i) { return uint64_t(v) << (8 * i); };
  if (product == Product::turin)
    return at(t.fmc, 0) | at(t.bootloader, 1) | at(t.tee, 2) | at(t.snp, 3) | at(t.microcode, 7);
  return at(t.bootloader, 0) | at(t.tee, 1) | at(t.snp, 6) | at(t.microcode, 7);
}

std::string tcb_string(const Tcb& t, Product product) {
  std::string s = fmt::format("bl={} tee={} snp={} ucode={}", t.bootloader, t.tee, t.snp,
                              t.microcode);
  if (product == Product::turin) s += fmt::format(" fmc={}", t.fmc);
  return s;
}

Product SnpReport::product_from_cpuid() const noexcept {
  if (version < 3) return Product::unknown;
  // virtee/sev Generation::identify_cpu: family 0x19 models 0x00-0x0F Milan,
  // 0x10-0x1F and 0xA0-0xAF Genoa; family 0x1A models 0x00-0x11 Turin.
  if (cpuid_family == 0x19) {
    if (cpuid_model <= 0x0F) return Product::milan;
    if ((cpuid_model >= 0x10 && cpuid_model <= 0x1F) ||
        (cpuid_model >= 0xA0 && cpuid_model <= 0xAF))
      return Product::genoa;
  }
  if (cpuid_family == 0x1A && cpuid_model <= 0x11) return Product::turin;
  return Product::unknown;
}

namespace {

struct Reserved {
  size_t begin, end;
  uint32_t until_version;  // must be zero in every version below this one
};

// Ranges that must be zero. The CPUID bytes (0x188..0x18A) are reserved in v2, the
// mitigation vectors (0x1F8..0x207) before v5.
constexpr Reserved kReserved[] = {
    {0x04C, 0x050, ~0u}, {0x188, 0x18B, 3},   {0x18B, 0x1A0, ~0u}, {0x1EB, 0x1EC, ~0u},
    {0x1EF, 0x1F0, ~0u}, {0x1F8, 0x208, 5},   {0x208, 0x2A0, ~0u}, {0x330, 0x4A0, ~0u},
};

template <size_t N>
void copy_out(std::array<uint8_t, N>& dst, const uint8_t* src) {
  std::memcpy(dst.data(), src, N);
}

void read_fields(const uint8_t* p, SnpReport& r) {
  r.guest_svn = load_le32(p + 0x004);
  r.policy = load_le64(p + 0x008);
  copy_out(r.family_id, p + 0x010);
  copy_out(r.image_id, p + 0x020);
  r.vmpl = load_le32(p + 0x030);
  r.signature_algo = load_le32(p + 0x034);
  r.current_tcb = load_le64(p + 0x038);
  r.platform_info = load_le64(p + 0x040);
  r.signer_info = load_le32(p + 0x048);
  copy_out(r.report_data, p + 0x050);
  copy_out(r.measurement, p + 0x090);
  copy_out(r.host_data, p + 0x0C0);
  copy_out(r.id_key_digest, p + 0x0E0);
  copy_out(r.author_key_digest, p + 0x110);
  copy_out(r.report_id, p + 0x140);
  copy_out(r.report_id_ma, p + 0x160);
  r.reported_tcb = load_le64(p + 0x180);
  r.cpuid_family = p[0x188];
  r.cpuid_model = p[0x189];
  r.cpuid_stepping = p[0x18A];
  copy_out(r.chip_id, p + 0x1A0);
  r.committed_tcb = load_le64(p + 0x1E0);
  r.current_fw = {p[0x1EA], p[0x1E9], p[0x1E8]};
  r.committed_fw = {p[0x1EE], p[0x1ED], p[0x1EC]};
  r.launch_tcb = load_le64(p + 0x1F0);
  r.launch_mit_vector = load_le64(p + 0x1F8);
  r.current_mit_vector = load_le64(p + 0x200);
  copy_out(r.sig_r, p + 0x2A0);
  copy_out(r.sig_s, p + 0x2E8);
}

// The fields whose values the ABI restricts.
Result<void> check_fields(const SnpReport& r) {
  if (r.signature_algo != 1)
    return make_error(Errc::parse, fmt::format("SEV-SNP report: expected signature algorithm 1 "
                                               "(ECDSA P-384 with SHA-384), saw {}",
                                               r.signature_algo));
  if (r.vmpl > 3)
    return make_error(Errc::parse, fmt::format("SEV-SNP report: expected VMPL 0-3, saw {}", r.vmpl));
  if (r.signer_info >> 5)
    return make_error(Errc::parse, fmt::format("SEV-SNP report: signer info bits 31:5 must be "
                                               "zero, saw 0x{:08x}",
                                               r.signer_info));
  auto sk = r.signing_key();
  if (sk != SigningKey::vcek && sk != SigningKey::vlek && sk != SigningKey::none)
    return make_error(Errc::parse,
                      fmt::format("SEV-SNP report: expected signing key 0 (VCEK), 1 (VLEK) or "
                                  "7 (none), saw reserved value {}",
                                  unsigned(sk)));
  if (!(r.policy & policy_bit::reserved_one))
    return make_error(Errc::parse, fmt::format("SEV-SNP report: guest policy bit 17 must be 1, "
                                               "saw policy 0x{:016x}",
                                               r.policy));
  if (r.policy & policy_bit::mbz_mask)
    return make_error(Errc::parse, fmt::format("SEV-SNP report: guest policy bits 63:26 must be "
                                               "zero, saw policy 0x{:016x}",
                                               r.policy));
  return {};
}

// Reserved ranges are zero for the version (later versions give some of them meaning),
// and the P-384 scalars' padding is zero.
Result<void> check_reserved(ByteView b, uint32_t version) {
  const uint8_t* p = b.data();
  for (const auto& range : kReserved) {
    if (version >= range.until_version) continue;
    ByteView field = b.subspan(range.begin, range.end - range.begin);
    if (!all_zero(field)) {
      size_t at = range.begin;
      while (p[at] == 0) ++at;
      return make_error(Errc::parse,
                        fmt::format("SEV-SNP report: reserved bytes 0x{:03X}..0x{:03X} must be "
                                    "zero for version {}, saw 0x{:02x} at 0x{:03X}",
                                    range.begin, range.end - 1, version, p[at], at));
    }
  }
  // P-384 scalars are 48 bytes; the upper 24 bytes of each 72-byte field are padding.
  if (!all_zero(b.subspan(0x2A0 + 48, 24)) || !all_zero(b.subspan(0x2E8 + 48, 24)))
    return make_error(Errc::parse, "SEV-SNP report: signature R and S must be zero above byte 48");
  return {};
}

}  // namespace

Result<SnpReport> parse_report(ByteView b) {
  if (b.size() != kReportSize)
    return make_error(Errc::parse, fmt::format("SEV-SNP report: expected {} bytes, saw {}",
                                               kReportSize, b.size()));
  const uint8_t* p = b.data();
  SnpReport r;
  r.version = load_le32(p + 0x000);
  if (r.version != 2 && r.version != 3 && r.version != 5)
    return make_error(Errc::parse,
                      fmt::format("SEV-SNP report: expected version 2, 3 or 5, saw {}", r.version));
  read_fields(p, r);
  CONFER_TRY_VOID(check_fields(r));
  CONFER_TRY_VOID(check_reserved(b, r.version));
  return r;
}

Bytes serialize_report(const SnpReport& r) {
  Bytes b(kReportSize, 0);
  uint8_t* p = b.data();
  store_le32(p + 0x000, r.version);
  store_le32(p + 0x004, r.guest_svn);
  store_le64(p + 0x008, r.policy);
  std::memcpy(p + 0x010, r.family_id.data(), 16);
  std::memcpy(p + 0x020, r.image_id.data(), 16);
  store_le32(p + 0x030, r.vmpl);
  store_le32(p + 0x034, r.signature_algo);
  store_le64(p + 0x038, r.current_tcb);
  store_le64(p + 0x040, r.platform_info);
  store_le32(p + 0x048, r.signer_info);
  std::memcpy(p + 0x050, r.report_data.data(), 64);
  std::memcpy(p + 0x090, r.measurement.data(), 48);
  std::memcpy(p + 0x0C0, r.host_data.data(), 32);
  std::memcpy(p + 0x0E0, r.id_key_digest.data(), 48);
  std::memcpy(p + 0x110, r.author_key_digest.data(), 48);
  std::memcpy(p + 0x140, r.report_id.data(), 32);
  std::memcpy(p + 0x160, r.report_id_ma.data(), 32);
  store_le64(p + 0x180, r.reported_tcb);
  if (r.version >= 3) {
    p[0x188] = r.cpuid_family;
    p[0x189] = r.cpuid_model;
    p[0x18A] = r.cpuid_stepping;
  }
  std::memcpy(p + 0x1A0, r.chip_id.data(), 64);
  store_le64(p + 0x1E0, r.committed_tcb);
  p[0x1E8] = r.current_fw.build;
  p[0x1E9] = r.current_fw.minor;
  p[0x1EA] = r.current_fw.major;
  p[0x1EC] = r.committed_fw.build;
  p[0x1ED] = r.committed_fw.minor;
  p[0x1EE] = r.committed_fw.major;
  store_le64(p + 0x1F0, r.launch_tcb);
  if (r.version >= 5) {
    store_le64(p + 0x1F8, r.launch_mit_vector);
    store_le64(p + 0x200, r.current_mit_vector);
  }
  std::memcpy(p + 0x2A0, r.sig_r.data(), 72);
  std::memcpy(p + 0x2E8, r.sig_s.data(), 72);
  return b;
}

}  // namespace confer::attest
