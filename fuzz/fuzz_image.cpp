// Image headers (PNG, JPEG, WebP sizes read before decoding), then decoding itself when the
// header's size is within what the server would decode.
#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "media/image_io.hpp"
#include "server/image_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  const auto dimensions = opsis::server::image_dimensions(bytes);
  if (!dimensions || dimensions->first * dimensions->second > 1024 * 1024) return 0;  // the server refuses these first
  try {
    const opsis::Image image = opsis::media::decode_image(bytes);
    if (image.pixels.size() != size_t(image.width) * size_t(image.height) * 3) __builtin_trap();
  } catch (const opsis::InvalidArgument&) {
  } catch (const opsis::IoError&) {
  }
  return 0;
}
