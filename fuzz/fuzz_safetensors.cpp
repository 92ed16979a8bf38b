// safetensors files: the 8-byte header length, the JSON header, dtypes, shapes and offsets.
#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "core/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const opsis::safetensors::File file = opsis::safetensors::parse(std::vector<uint8_t>(data, data + size));
    opsis::safetensors::serialize(file);  // what was read can be written back
  } catch (const opsis::InvalidArgument&) {
  } catch (const opsis::IoError&) {
  }
  return 0;
}
