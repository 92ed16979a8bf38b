// MP4 box reading: the upload probe (edits and extensions) and the top-level box walk that
// C2PA hashing and `opsis verify` start from.
#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.hpp"
#include "provenance/c2pa_bmff.hpp"
#include "server/mp4_probe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto summary = opsis::server::probe_mp4(std::string_view(reinterpret_cast<const char*>(data), size));
    if (summary.width < 0 || summary.height < 0) __builtin_trap();
  } catch (const opsis::InvalidArgument&) {
  }
  try {
    const std::span<const uint8_t> file(data, size);
    const auto boxes = opsis::provenance::bmff::list_top_level_boxes(file);
    opsis::provenance::bmff::find_manifest_box(file, boxes);
  } catch (const std::exception&) {  // the box reader's refusals (InvalidArgument / IoError / runtime_error)
  }
  return 0;
}
