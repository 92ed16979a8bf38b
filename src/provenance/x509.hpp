#pragma once
// X.509 credentials for C2PA signing (OpenSSL 3): a private key with its certificate chain,
// opsis's own small CA made on first use, and the checks a validator applies to a chain.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace opsis::provenance {

using Bytes = std::vector<uint8_t>;

// A P-256 private key and the certificate chain that names it: end-entity first, then
// intermediates; the root may be included. Signs ES256.
class SigningCredentials {
 public:
  // Reads a PEM chain (end-entity first) and a PEM private key (PKCS#8 or SEC1). The key must
  // be ECDSA P-256 and match the end-entity certificate's public key.
  // Throws opsis::InvalidArgument("certificate" / "key", ...) or opsis::IoError.
  static SigningCredentials load(const std::filesystem::path& chain_pem,
                                 const std::filesystem::path& key_pem);

  // Opsis's own credentials in `directory` (created if missing): on first use a root CA
  // (c2pa-root.pem, c2pa-root.key) and an end-entity signing certificate issued by it
  // (c2pa-signer.pem, c2pa-signer.key); the keys are written with mode 0600. Later calls
  // load them. `organization` is written into both subjects (e.g. the server's name).
  static SigningCredentials load_or_create(const std::filesystem::path& directory,
                                           const std::string& organization = "opsis");

  // Path of the root certificate load_or_create() made in `directory` (the trust anchor to
  // hand to validators).
  static std::filesystem::path own_root_path(const std::filesystem::path& directory);

  // ECDSA P-256 over SHA-256 of `data`: the 64-byte r||s form COSE uses.
  Bytes sign_es256(std::span<const uint8_t> data) const;

  const std::vector<Bytes>& chain_der() const { return chain_der_; }

 private:
  std::shared_ptr<void> key_;  // EVP_PKEY
  std::vector<Bytes> chain_der_;
};

struct CertificateSummary {
  std::string subject;       // one line, RFC 2253 ("CN=...,O=...")
  std::string common_name;
  std::string organization;
  std::string issuer;
  std::string not_before;    // ISO 8601 UTC
  std::string not_after;
  std::string serial_hex;
  std::string sha256_hex;    // fingerprint of the DER
};

CertificateSummary summarize_certificate(std::span<const uint8_t> der);

// Verifies an ES256 r||s signature over `data` with the public key of `certificate_der`.
bool verify_es256(std::span<const uint8_t> certificate_der, std::span<const uint8_t> data,
                  std::span<const uint8_t> signature);

// The C2PA signer-certificate profile: v3, ECDSA/RSA/EdDSA algorithms, not a CA, not
// self-signed, Authority Key Identifier present, digitalSignature key usage, an allowed EKU
// (documentSigning, emailProtection, C2PA, ...). Returns the problems found (empty = fine).
std::vector<std::string> check_signer_profile(std::span<const uint8_t> end_entity_der);

struct ChainCheck {
  bool valid_now = false;        // every certificate in its validity period at this time
  bool chains_to_anchor = false; // a path from the end-entity to one of the anchors verified
  std::string anchor_subject;    // the anchor it chains to
  std::string error;             // why not, when it does not
};

// Builds and verifies a path from chain[0] through the other certificates of `chain` to one
// of `anchors_der`. With no anchors, only validity at this time is checked.
ChainCheck check_chain(const std::vector<Bytes>& chain, const std::vector<Bytes>& anchors_der);

// Every certificate in a PEM file or text (DER bytes). Throws InvalidArgument("anchors", ...)
// when there are none.
std::vector<Bytes> read_pem_certificates(const std::filesystem::path& path);
std::vector<Bytes> parse_pem_certificates(const std::string& pem_text);

// Lowercase hex of SHA-256(data).
Bytes sha256(std::span<const uint8_t> data);

}  // namespace opsis::provenance
