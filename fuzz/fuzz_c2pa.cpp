// `opsis verify` and /v1/provenance read untrusted MP4s: the C2PA manifest store in them
// (BMFF box, JUMBF, CBOR claims and assertions, COSE signature, X.509 chain, hashes).
#include <cstdint>
#include <vector>

#include "provenance/c2pa.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    opsis::provenance::read_manifest(std::vector<uint8_t>(data, data + size));
  } catch (const std::exception&) {  // a refusal; a crash or sanitizer report is the finding
  }
  return 0;
}
