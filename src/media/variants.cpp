#include "media/variants.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "media/image_io.hpp"

namespace opsis::media {
namespace {

void check_video(const Video& video) {
  if (video.width <= 0 || video.height <= 0 || video.frame_count() == 0) {
    throw InvalidArgument("video", "video has no frames to take pictures from");
  }
}

// Size with the long side equal to `long_side`, aspect kept, each side at least 1.
std::pair<int, int> fit_long_side(int width, int height, int long_side) {
  const double scale = double(long_side) / double(std::max(width, height));
  return {std::max(1, int(std::lround(width * scale))), std::max(1, int(std::lround(height * scale)))};
}

}  // namespace

std::vector<uint8_t> make_thumbnail(const Video& video, int max_side) {
  check_video(video);
  if (max_side < 1) throw InvalidArgument("max_side", "thumbnail size must be at least 1 pixel");
  Image frame = video.frame_image(video.frame_count() / 2);
  if (std::max(frame.width, frame.height) > max_side) {
    const auto [width, height] = fit_long_side(frame.width, frame.height, max_side);
    frame = resize(frame, width, height);
  }
  return encode_webp(frame);
}

std::vector<uint8_t> make_spritesheet(const Video& video, int count, int columns,
                                      int tile_long_side) {
  check_video(video);
  if (count < 1) throw InvalidArgument("count", "a spritesheet needs at least one tile");
  if (columns < 1) throw InvalidArgument("columns", "a spritesheet needs at least one column");
  if (tile_long_side < 1) throw InvalidArgument("tile_long_side", "tiles must be at least 1 pixel");
  const auto [tile_width, tile_height] = fit_long_side(video.width, video.height, tile_long_side);
  const int rows = (count + columns - 1) / columns;
  const long long sheet_width = static_cast<long long>(columns) * tile_width;
  const long long sheet_height = static_cast<long long>(rows) * tile_height;
  if (sheet_width > 65500 || sheet_height > 65500) {
    throw InvalidArgument("count", "a spritesheet of " + std::to_string(sheet_width) + "x" +
                                       std::to_string(sheet_height) +
                                       " pixels is larger than JPEG allows (65500 a side)");
  }
  Image sheet(static_cast<int>(sheet_width), static_cast<int>(sheet_height));
  const int frames = video.frame_count();
  for (int i = 0; i < count; ++i) {
    // Tile i shows the frame at the centre of the i-th of `count` equal spans of the video.
    const int index = std::min(frames - 1, int((2LL * i + 1) * frames / (2LL * count)));
    const Image tile = resize(video.frame_image(index), tile_width, tile_height);
    const int x0 = (i % columns) * tile_width;
    const int y0 = (i / columns) * tile_height;
    for (int y = 0; y < tile_height; ++y) {
      std::copy_n(tile.row(y), size_t(tile_width) * 3, sheet.row(y0 + y) + size_t(x0) * 3);
    }
  }
  return encode_jpeg(sheet, 85);
}

}  // namespace opsis::media
