#pragma once
// Width and height from an image's header, without decoding it: a few bytes of PNG can
// claim 30000x30000 pixels, so the pixel limit is checked before any decoder allocates.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace opsis::server {

// {width, height} for PNG, JPEG and WebP; nullopt when the header is not recognised. Each side
// is at most 2^31 - 1, so width * height fits in int64.
std::optional<std::pair<int64_t, int64_t>> image_dimensions(const std::vector<uint8_t>& bytes);

}  // namespace opsis::server
