// The C2PA layers one by one, so each gets the whole input: the first byte picks CBOR (decode,
// then as JSON), JUMBF (parse, then serialise again) or COSE_Sign1 (parse).
#include <cstdint>
#include <span>

#include "provenance/cbor.hpp"
#include "provenance/cose.hpp"
#include "provenance/jumbf.hpp"

using namespace opsis::provenance;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: cbor::to_json(cbor::decode(rest)); break;
      case 1: jumbf::serialize(jumbf::parse(rest)); break;
      default: cose::parse_sign1(rest); break;
    }
  } catch (const std::exception&) {
  }
  return 0;
}
