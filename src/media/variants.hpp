#pragma once
// The two extra variants the OpenAI Videos API serves beside the MP4.
#include <cstdint>
#include <vector>

#include "core/av.hpp"

namespace opsis::media {

// WebP of a representative frame (the middle one), at most max_side pixels on its long side.
std::vector<uint8_t> make_thumbnail(const Video& video, int max_side = 512);

// JPEG grid of `count` evenly spaced frames, `columns` across, each tile scaled so its long
// side is tile_long_side pixels.
std::vector<uint8_t> make_spritesheet(const Video& video, int count = 16, int columns = 4,
                                      int tile_long_side = 256);

}  // namespace opsis::media
