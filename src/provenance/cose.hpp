#pragma once
// COSE_Sign1 (RFC 9052) as C2PA uses it: tagged (18), ES256, detached payload, the signer's
// certificate chain in the protected header as x5chain (label 33).
#include <cstdint>
#include <span>
#include <vector>

#include "provenance/cbor.hpp"
#include "provenance/x509.hpp"

namespace opsis::provenance::cose {

inline constexpr int64_t kAlgorithmLabel = 1;
inline constexpr int64_t kX5ChainLabel = 33;
inline constexpr int64_t kEs256 = -7;
inline constexpr uint64_t kSign1Tag = 18;

// Signs `payload` (detached: not carried in the result). The encoded size depends only on
// the certificate chain, so a placeholder and the final signature have the same length.
Bytes sign1_es256(std::span<const uint8_t> payload, const SigningCredentials& credentials);

struct Sign1 {
  Bytes protected_bytes;             // the protected header exactly as signed
  cbor::Value protected_header;      // decoded
  cbor::Value unprotected_header;
  int64_t algorithm = 0;             // COSE alg from the protected header
  std::vector<Bytes> x5chain;        // end-entity first (protected, else unprotected header)
  Bytes signature;
};

// Parses a tagged or untagged COSE_Sign1. Throws opsis::InvalidArgument("cose", ...).
Sign1 parse_sign1(std::span<const uint8_t> data);

// Verifies the signature over the detached `payload` with x5chain[0]'s key. Only ES256 is
// supported; other algorithms report false.
bool verify_sign1(const Sign1& sign1, std::span<const uint8_t> payload);

}  // namespace opsis::provenance::cose
