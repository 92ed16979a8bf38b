#include "provenance/x509.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace opsis::provenance {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>>;

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

[[noreturn]] void crypto_failure(const std::string& what) {
  throw IoError("C2PA signing: " + what + ": " + openssl_error());
}

X509Ptr x509_from_der(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, long(der.size())));
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    throw InvalidArgument("certificate", "not a DER X.509 certificate");
  }
  return cert;
}

Bytes x509_to_der(X509* cert) {
  const int length = i2d_X509(cert, nullptr);
  if (length <= 0) crypto_failure("encoding a certificate");
  Bytes der(size_t(length), 0);
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

std::string read_text_file(const fs::path& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(field, "cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `text` to `path` through a temporary name beside it, created with `mode`.
void write_file_atomically(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path temporary = path.string() + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw IoError("cannot create " + temporary.string());
  ::fchmod(fd, mode);  // the umask may have removed bits; never add any beyond `mode`
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(temporary.c_str());
      throw IoError("cannot write " + temporary.string());
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temporary.c_str());
    throw IoError("cannot write " + temporary.string());
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    throw IoError("cannot rename " + temporary.string() + " to " + path.string());
  }
}

std::string key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    crypto_failure("encoding a private key");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

std::string cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) crypto_failure("encoding a certificate");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

PkeyPtr generate_p256_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) crypto_failure("generating a P-256 key");
  return key;
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (!ext) crypto_failure(std::string("making extension ") + OBJ_nid2sn(nid) + "=" + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) crypto_failure("adding an extension");
}

void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0))
    crypto_failure(std::string("setting ") + field);
}

// A certificate for `subject_key`, issued by `issuer` (nullptr: self-signed) with `issuer_key`.
X509Ptr make_certificate(EVP_PKEY* subject_key, const std::string& common_name,
                         const std::string& organization, X509* issuer, EVP_PKEY* issuer_key,
                         long valid_days, bool is_ca) {
  X509Ptr cert(X509_new());
  if (!cert) crypto_failure("allocating a certificate");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) crypto_failure("drawing a serial number");
  serial_bytes[0] &= 0x7f;  // positive
  serial_bytes[0] |= 0x01;  // and full length
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    crypto_failure("setting the serial number");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate clocks an hour behind
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), valid_days * 24L * 3600L);
  X509_NAME* name = X509_get_subject_name(cert.get());
  add_name_entry(name, "CN", common_name);
  add_name_entry(name, "O", organization);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  if (!X509_set_pubkey(cert.get(), subject_key)) crypto_failure("setting the public key");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (is_ca) {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    // id-kp-documentSigning (RFC 9336), one of the EKUs C2PA validators accept.
    add_extension(cert.get(), &ctx, NID_ext_key_usage, "1.3.6.1.5.5.7.3.36");
  }
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(cert.get(), issuer_key, EVP_sha256())) crypto_failure("signing a certificate");
  return cert;
}

std::string asn1_time_iso(const ASN1_TIME* t) {
  std::tm tm{};
  if (!ASN1_TIME_to_tm(t, &tm)) return "";
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string name_entry(X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "";
  std::string s(reinterpret_cast<char*>(utf8), size_t(n));
  OPENSSL_free(utf8);
  return s;
}

std::string name_line(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

const fs::path kRootCert = "c2pa-root.pem";
const fs::path kRootKey = "c2pa-root.key";
const fs::path kSignerCert = "c2pa-signer.pem";
const fs::path kSignerKey = "c2pa-signer.key";

}  // namespace

Bytes sha256(std::span<const uint8_t> data) {
  Bytes digest(32, 0);
  unsigned int length = 0;
  if (!EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr))
    crypto_failure("SHA-256");
  return digest;
}

std::vector<Bytes> parse_pem_certificates(const std::string& pem_text) {
  BioPtr bio(BIO_new_mem_buf(pem_text.data(), int(pem_text.size())));
  std::vector<Bytes> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(x509_to_der(cert.get()));
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  return certs;
}

std::vector<Bytes> read_pem_certificates(const fs::path& path) {
  auto certs = parse_pem_certificates(read_text_file(path, "anchors"));
  if (certs.empty()) throw InvalidArgument("anchors", path.string() + " holds no PEM certificate");
  return certs;
}

SigningCredentials SigningCredentials::load(const fs::path& chain_pem, const fs::path& key_pem) {
  SigningCredentials credentials;
  credentials.chain_der_ = parse_pem_certificates(read_text_file(chain_pem, "certificate"));
  if (credentials.chain_der_.empty())
    throw InvalidArgument("certificate", chain_pem.string() + " holds no PEM certificate");
  const std::string key_text = read_text_file(key_pem, "key");
  BioPtr bio(BIO_new_mem_buf(key_text.data(), int(key_text.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    throw InvalidArgument("key", key_pem.string() + " holds no unencrypted PEM private key");
  }
  char group[64] = {0};
  size_t group_length = 0;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      !EVP_PKEY_get_group_name(key.get(), group, sizeof group, &group_length) ||
      std::string(group) != "prime256v1") {
    ERR_clear_error();
    throw InvalidArgument("key", key_pem.string() + " is not an ECDSA P-256 key (opsis signs ES256)");
  }
  X509Ptr end_entity = x509_from_der(credentials.chain_der_.front());
  if (X509_check_private_key(end_entity.get(), key.get()) != 1) {
    ERR_clear_error();
    throw InvalidArgument("key", key_pem.string() + " does not match the first certificate of " +
                                     chain_pem.string());
  }
  const auto problems = check_signer_profile(credentials.chain_der_.front());
  if (!problems.empty()) {
    std::string message = chain_pem.string() + ": the first certificate cannot sign C2PA manifests:";
    for (const auto& p : problems) message += " " + p + ";";
    throw InvalidArgument("certificate", message);
  }
  credentials.key_ = std::shared_ptr<void>(key.release(), [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
  return credentials;
}

fs::path SigningCredentials::own_root_path(const fs::path& directory) { return directory / kRootCert; }

SigningCredentials SigningCredentials::load_or_create(const fs::path& directory,
                                                      const std::string& organization) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) throw IoError("cannot create " + directory.string() + ": " + ec.message());
  // Several processes may start at once (server workers): one makes the CA, the others wait.
  const fs::path lock_path = directory / ".c2pa-credentials.lock";
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) throw IoError("cannot create " + lock_path.string());
  if (::flock(lock, LOCK_EX) != 0) {
    ::close(lock);
    throw IoError("cannot lock " + lock_path.string());
  }
  struct LockRelease {
    int fd;
    ~LockRelease() { ::close(fd); }  // closing releases the flock
  } release{lock};
  if (!fs::exists(directory / kSignerCert)) {
    // The signer certificate is written last: its presence means the set is complete.
    PkeyPtr root_key = generate_p256_key();
    X509Ptr root = make_certificate(root_key.get(), organization + " C2PA root CA", organization,
                                    nullptr, root_key.get(), 3650, true);
    PkeyPtr signer_key = generate_p256_key();
    X509Ptr signer = make_certificate(signer_key.get(), organization + " C2PA signer", organization,
                                      root.get(), root_key.get(), 1825, false);
    write_file_atomically(directory / kRootKey, key_to_pem(root_key.get()), 0600);
    write_file_atomically(directory / kSignerKey, key_to_pem(signer_key.get()), 0600);
    write_file_atomically(directory / kRootCert, cert_to_pem(root.get()), 0644);
    // The chain carried in manifests stops below the root: validators take the root from
    // their own trust list, never from the file.
    write_file_atomically(directory / kSignerCert, cert_to_pem(signer.get()), 0644);
  }
  return load(directory / kSignerCert, directory / kSignerKey);
}

Bytes SigningCredentials::sign_es256(std::span<const uint8_t> data) const {
  auto* key = static_cast<EVP_PKEY*>(key_.get());
  if (!key) throw InvalidArgument("key", "no signing key loaded");
  MdCtxPtr md(EVP_MD_CTX_new());
  size_t der_length = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &der_length, data.data(), data.size()) != 1)
    crypto_failure("ES256 signing");
  Bytes der(der_length, 0);
  if (EVP_DigestSign(md.get(), der.data(), &der_length, data.data(), data.size()) != 1)
    crypto_failure("ES256 signing");
  const unsigned char* p = der.data();
  EcSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, long(der_length)));
  if (!sig) crypto_failure("decoding an ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes raw(64, 0);
  if (BN_bn2binpad(r, raw.data(), 32) != 32 || BN_bn2binpad(s, raw.data() + 32, 32) != 32)
    crypto_failure("encoding an ECDSA signature");
  return raw;
}

bool verify_es256(std::span<const uint8_t> certificate_der, std::span<const uint8_t> data,
                  std::span<const uint8_t> signature) {
  if (signature.size() != 64) return false;
  X509Ptr cert = x509_from_der(certificate_der);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  EcSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(signature.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(signature.data() + 32, 32, nullptr);
  if (!sig || !r || !s || !ECDSA_SIG_set0(sig.get(), r, s)) {
    BN_free(r);
    BN_free(s);
    crypto_failure("building an ECDSA signature");
  }
  const int der_length = i2d_ECDSA_SIG(sig.get(), nullptr);
  Bytes der(size_t(der_length), 0);
  unsigned char* p = der.data();
  i2d_ECDSA_SIG(sig.get(), &p);
  MdCtxPtr md(EVP_MD_CTX_new());
  const bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(md.get(), der.data(), der.size(), data.data(), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

CertificateSummary summarize_certificate(std::span<const uint8_t> der) {
  X509Ptr cert = x509_from_der(der);
  CertificateSummary s;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  s.subject = name_line(subject);
  s.common_name = name_entry(subject, NID_commonName);
  s.organization = name_entry(subject, NID_organizationName);
  s.issuer = name_line(X509_get_issuer_name(cert.get()));
  s.not_before = asn1_time_iso(X509_get0_notBefore(cert.get()));
  s.not_after = asn1_time_iso(X509_get0_notAfter(cert.get()));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  s.serial_hex = to_hex(std::span<const uint8_t>(ASN1_STRING_get0_data(serial), size_t(ASN1_STRING_length(serial))));
  s.sha256_hex = to_hex(sha256(der));
  return s;
}

std::vector<std::string> check_signer_profile(std::span<const uint8_t> end_entity_der) {
  std::vector<std::string> problems;
  X509Ptr cert = x509_from_der(end_entity_der);
  X509* c = cert.get();
  if (X509_get_version(c) != 2) problems.push_back("not an X.509 v3 certificate");
  switch (X509_get_signature_nid(c)) {
    case NID_ecdsa_with_SHA256: case NID_ecdsa_with_SHA384: case NID_ecdsa_with_SHA512:
    case NID_sha256WithRSAEncryption: case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption: case NID_rsassaPss: case NID_ED25519:
      break;
    default:
      problems.push_back("signed with an algorithm C2PA does not allow");
  }
  const uint32_t flags = X509_get_extension_flags(c);  // also caches the parsed extensions
  const bool is_ca = X509_check_ca(c) != 0;
  if (is_ca) problems.push_back("is a CA certificate");
  if (X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) == 0 || (flags & EXFLAG_SS))
    problems.push_back("is self-signed (a signer certificate must be issued by a CA)");
  if (!X509_get0_authority_key_id(c)) problems.push_back("has no Authority Key Identifier");
  if (!(flags & EXFLAG_KUSAGE) || !(X509_get_key_usage(c) & KU_DIGITAL_SIGNATURE))
    problems.push_back("lacks the digitalSignature key usage");
  else if ((X509_get_key_usage(c) & KU_KEY_CERT_SIGN) && !is_ca)
    problems.push_back("has keyCertSign without being a CA");
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(c, NID_ext_key_usage, nullptr, nullptr)));
  if (!eku) {
    problems.push_back("has no extended key usage");
  } else {
    static const char* allowed[] = {"1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.36", "1.3.6.1.5.5.7.3.8",
                                    "1.3.6.1.5.5.7.3.9", "1.3.6.1.4.1.311.76.59.1.9",
                                    "1.3.6.1.4.1.62558.2.1"};
    bool found = false;
    bool any = false;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
      char oid[128];
      OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku.get(), i), 1);
      if (std::string(oid) == "2.5.29.37.0") any = true;
      for (const char* a : allowed) found = found || std::string(oid) == a;
    }
    if (any) problems.push_back("allows any extended key usage");
    else if (!found) problems.push_back("has no extended key usage C2PA accepts (e.g. documentSigning)");
  }
  ERR_clear_error();
  return problems;
}

ChainCheck check_chain(const std::vector<Bytes>& chain, const std::vector<Bytes>& anchors_der) {
  ChainCheck result;
  if (chain.empty()) {
    result.error = "no certificate";
    return result;
  }
  std::vector<X509Ptr> certs;
  for (const Bytes& der : chain) certs.push_back(x509_from_der(der));
  result.valid_now = true;
  for (const auto& c : certs) {
    if (X509_cmp_current_time(X509_get0_notBefore(c.get())) >= 0 ||
        X509_cmp_current_time(X509_get0_notAfter(c.get())) <= 0) {
      result.valid_now = false;
      result.error = "certificate " + name_line(X509_get_subject_name(c.get())) +
                     " is outside its validity period";
    }
  }
  if (anchors_der.empty()) {
    if (result.error.empty()) result.error = "no trust anchors given";
    return result;
  }
  StorePtr store(X509_STORE_new());
  std::vector<X509Ptr> anchors;
  for (const Bytes& der : anchors_der) {
    anchors.push_back(x509_from_der(der));
    X509_STORE_add_cert(store.get(), anchors.back().get());
  }
  // Anchors may be intermediates: a path ending at any anchor counts.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted, certs[i].get());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), certs[0].get(), untrusted);
  const int ok = X509_verify_cert(ctx.get());
  if (ok == 1) {
    result.chains_to_anchor = true;
    STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
    X509* top = sk_X509_value(path, sk_X509_num(path) - 1);
    result.anchor_subject = name_line(X509_get_subject_name(top));
    if (result.valid_now) result.error.clear();
  } else {
    result.error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  sk_X509_free(untrusted);
  ERR_clear_error();
  return result;
}

}  // namespace opsis::provenance
