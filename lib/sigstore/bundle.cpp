#include "sigstore/bundle.hpp"

#include "core/json.hpp"

namespace confer::sigstore {

using namespace confer::json_detail;

namespace {

Result<int> media_minor(const std::string& media_type) {
  static constexpr std::string_view kOld = "application/vnd.dev.sigstore.bundle+json;version=0.";
  static constexpr std::string_view kNew = "application/vnd.dev.sigstore.bundle.v0.";
  std::string_view m = media_type;
  if (m.size() == kOld.size() + 1 && m.substr(0, kOld.size()) == kOld) {
    char c = m.back();
    if (c >= '1' && c <= '3') return c - '0';
  }
  if (m.size() == kNew.size() + 6 && m.substr(0, kNew.size()) == kNew && m.substr(kNew.size() + 1) == "+json") {
    char c = m[kNew.size()];
    if (c == '3') return 3;
  }
  return parse_error(fmt::format(
      "bundle: expected media type application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3 or "
      "application/vnd.dev.sigstore.bundle.v0.3+json, saw '{}'",
      media_type));
}

Result<crypto::Cert> parse_cert(const json& j, std::string_view where) {
  CONFER_TRY(Bytes der, required_base64(j, "rawBytes", where));
  auto cert = crypto::Cert::from_der(der);
  if (!cert) return parse_error(fmt::format("{}: expected a DER certificate ({})", where, cert.error().message));
  return std::move(cert).value();
}

Result<InclusionProof> parse_proof(const json& j, std::string_view where) {
  InclusionProof p;
  CONFER_TRY(p.log_index, required_int64(j, "logIndex", where));
  CONFER_TRY(p.root_hash, required_base64(j, "rootHash", where));
  CONFER_TRY(p.tree_size, required_int64(j, "treeSize", where));
  const json* hashes = member(j, "hashes");
  if (hashes != nullptr) {
    if (!hashes->is_array()) return parse_error(fmt::format("{}: expected 'hashes' to be an array", where));
    for (size_t i = 0; i < hashes->size(); ++i) {
      const json& h = (*hashes)[i];
      if (!h.is_string()) return parse_error(fmt::format("{}.hashes[{}]: expected a base64 string", where, i));
      auto b = from_base64(h.get<std::string>());
      if (!b) return parse_error(fmt::format("{}.hashes[{}]: not valid base64", where, i));
      p.hashes.push_back(std::move(b).value());
    }
  }
  if (const json* cp = member(j, "checkpoint"); cp != nullptr) {
    if (!cp->is_object()) return parse_error(fmt::format("{}: expected 'checkpoint' to be an object", where));
    CONFER_TRY(std::optional<std::string> env, optional_string(*cp, "envelope", fmt::format("{}.checkpoint", where)));
    if (env && !env->empty()) p.checkpoint = std::move(*env);
  }
  return p;
}

Result<TlogEntry> parse_entry(const json& j, std::string_view where) {
  if (!j.is_object()) return parse_error(fmt::format("{}: expected an object, saw {}", where, json_type(j)));
  TlogEntry e;
  CONFER_TRY(e.log_index, required_int64(j, "logIndex", where));
  CONFER_TRY(const json* lid, required_object(j, "logId", where));
  CONFER_TRY(e.log_id, required_base64(*lid, "keyId", fmt::format("{}.logId", where)));
  CONFER_TRY(const json* kv, required_object(j, "kindVersion", where));
  CONFER_TRY(e.kind, required_string(*kv, "kind", fmt::format("{}.kindVersion", where)));
  CONFER_TRY(e.version, required_string(*kv, "version", fmt::format("{}.kindVersion", where)));
  if (member(j, "integratedTime") != nullptr) {
    CONFER_TRY(e.integrated_time, required_int64(j, "integratedTime", where));
  }
  if (const json* ip = member(j, "inclusionPromise"); ip != nullptr) {
    if (!ip->is_object()) return parse_error(fmt::format("{}: expected 'inclusionPromise' to be an object", where));
    CONFER_TRY(Bytes set, required_base64(*ip, "signedEntryTimestamp", fmt::format("{}.inclusionPromise", where)));
    e.signed_entry_timestamp = std::move(set);
  }
  if (const json* pr = member(j, "inclusionProof"); pr != nullptr) {
    if (!pr->is_object()) return parse_error(fmt::format("{}: expected 'inclusionProof' to be an object", where));
    CONFER_TRY(InclusionProof p, parse_proof(*pr, fmt::format("{}.inclusionProof", where)));
    e.inclusion_proof = std::move(p);
  }
  CONFER_TRY(e.canonicalized_body, required_base64(j, "canonicalizedBody", where));
  return e;
}

// Exactly one of x509CertificateChain, certificate, publicKey.
Result<void> parse_material(const json& vm, Bundle& b) {
  const json* chain = member(vm, "x509CertificateChain");
  const json* cert = member(vm, "certificate");
  const json* pk = member(vm, "publicKey");
  int forms = (chain != nullptr) + (cert != nullptr) + (pk != nullptr);
  if (forms != 1)
    return parse_error(fmt::format("bundle.verificationMaterial: expected exactly one of x509CertificateChain, "
                                   "certificate, publicKey, saw {}",
                                   forms));
  if (chain != nullptr) {
    const json* certs = chain->is_object() ? member(*chain, "certificates") : nullptr;
    if (certs == nullptr || !certs->is_array() || certs->empty())
      return parse_error("bundle.verificationMaterial.x509CertificateChain: expected a non-empty 'certificates' "
                         "array, saw none or an empty one");
    for (size_t i = 0; i < certs->size(); ++i) {
      CONFER_TRY(crypto::Cert c, parse_cert((*certs)[i], fmt::format("x509CertificateChain.certificates[{}]", i)));
      b.certificates.push_back(std::move(c));
    }
    b.from_chain = true;
  } else if (cert != nullptr) {
    if (!cert->is_object()) return parse_error("bundle.verificationMaterial.certificate: expected an object");
    CONFER_TRY(crypto::Cert c, parse_cert(*cert, "verificationMaterial.certificate"));
    b.certificates.push_back(std::move(c));
  } else {
    if (!pk->is_object()) return parse_error("bundle.verificationMaterial.publicKey: expected an object");
    CONFER_TRY(std::optional<std::string> hint, optional_string(*pk, "hint", "verificationMaterial.publicKey"));
    b.public_key_hint = hint.value_or("");
  }
  return {};
}

// tlogEntries and timestampVerificationData.rfc3161Timestamps, both optional.
Result<void> parse_log_material(const json& vm, Bundle& b) {
  if (const json* entries = member(vm, "tlogEntries"); entries != nullptr) {
    if (!entries->is_array()) return parse_error("bundle.verificationMaterial: expected 'tlogEntries' to be an array");
    for (size_t i = 0; i < entries->size(); ++i) {
      CONFER_TRY(TlogEntry e, parse_entry((*entries)[i], fmt::format("tlogEntries[{}]", i)));
      b.tlog_entries.push_back(std::move(e));
    }
  }
  if (const json* tvd = member(vm, "timestampVerificationData"); tvd != nullptr) {
    if (!tvd->is_object()) return parse_error("bundle: expected 'timestampVerificationData' to be an object");
    if (const json* ts = member(*tvd, "rfc3161Timestamps"); ts != nullptr) {
      if (!ts->is_array()) return parse_error("bundle: expected 'rfc3161Timestamps' to be an array");
      for (size_t i = 0; i < ts->size(); ++i) {
        CONFER_TRY(Bytes t, required_base64((*ts)[i], "signedTimestamp", fmt::format("rfc3161Timestamps[{}]", i)));
        b.rfc3161_timestamps.push_back(std::move(t));
      }
    }
  }
  return {};
}

Result<MessageSignature> parse_message_signature(const json& ms) {
  if (!ms.is_object()) return parse_error("bundle: expected 'messageSignature' to be an object");
  MessageSignature m;
  if (const json* md = member(ms, "messageDigest"); md != nullptr) {
    if (!md->is_object()) return parse_error("bundle.messageSignature: expected 'messageDigest' to be an object");
    CONFER_TRY(std::string alg, required_string(*md, "algorithm", "messageSignature.messageDigest"));
    CONFER_TRY(Bytes digest, required_base64(*md, "digest", "messageSignature.messageDigest"));
    m.digest_algorithm = std::move(alg);
    m.digest = std::move(digest);
  }
  CONFER_TRY(m.signature, required_base64(ms, "signature", "messageSignature"));
  return m;
}

Result<DsseEnvelope> parse_dsse_envelope(const json& dsse) {
  if (!dsse.is_object()) return parse_error("bundle: expected 'dsseEnvelope' to be an object");
  DsseEnvelope env;
  CONFER_TRY(env.payload, required_base64(dsse, "payload", "dsseEnvelope"));
  CONFER_TRY(env.payload_type, required_string(dsse, "payloadType", "dsseEnvelope"));
  const json* sigs = member(dsse, "signatures");
  if (sigs == nullptr || !sigs->is_array())
    return parse_error("bundle.dsseEnvelope: expected a 'signatures' array, saw none");
  for (size_t i = 0; i < sigs->size(); ++i) {
    std::string w = fmt::format("dsseEnvelope.signatures[{}]", i);
    DsseSignature s;
    CONFER_TRY(s.sig, required_base64((*sigs)[i], "sig", w));
    CONFER_TRY(std::optional<std::string> keyid, optional_string((*sigs)[i], "keyid", w));
    s.keyid = keyid.value_or("");
    env.signatures.push_back(std::move(s));
  }
  return env;
}

}  // namespace

Result<Bundle> Bundle::parse(std::string_view json_text) {
  CONFER_TRY(json j, parse_json_object(json_text, "bundle"));
  Bundle b;
  CONFER_TRY(b.media_type, required_string(j, "mediaType", "bundle"));
  CONFER_TRY(b.minor_version, media_minor(b.media_type));

  CONFER_TRY(const json* vm, required_object(j, "verificationMaterial", "bundle"));
  CONFER_TRY_VOID(parse_material(*vm, b));
  CONFER_TRY_VOID(parse_log_material(*vm, b));

  const json* ms = member(j, "messageSignature");
  const json* dsse = member(j, "dsseEnvelope");
  if ((ms != nullptr) == (dsse != nullptr))
    return parse_error(fmt::format("bundle: expected exactly one of messageSignature, dsseEnvelope, saw {}",
                                   (ms != nullptr) + (dsse != nullptr)));
  if (ms != nullptr) {
    CONFER_TRY(MessageSignature m, parse_message_signature(*ms));
    b.message_signature = std::move(m);
  } else {
    CONFER_TRY(DsseEnvelope env, parse_dsse_envelope(*dsse));
    b.dsse_envelope = std::move(env);
  }
  return b;
}

Bytes dsse_pae(std::string_view payload_type, ByteView payload) {
  std::string head = fmt::format("DSSEv1 {} {} {} ", payload_type.size(), payload_type, payload.size());
  Bytes out(head.begin(), head.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace confer::sigstore
