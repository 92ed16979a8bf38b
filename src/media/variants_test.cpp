#include "media/variants.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "media/image_io.hpp"

namespace opsis::media {
namespace {

bool starts_with(const std::vector<uint8_t>& bytes, const std::string& magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

Video test_video(int width, int height, int frames) {
  Video video;
  video.width = width;
  video.height = height;
  video.rgb.resize(video.frame_bytes() * size_t(frames));
  for (int t = 0; t < frames; ++t) {
    // Frame t is a flat grey of level 5 * t, so each tile tells which frame it came from.
    std::memset(video.frame(t), 5 * t, video.frame_bytes());
  }
  return video;
}

TEST(Variants, ThumbnailIsWebpOfTheMiddleFrameWithinMaxSide) {
  const Video video = test_video(1280, 720, 48);
  const std::vector<uint8_t> thumbnail = make_thumbnail(video, 512);
  ASSERT_TRUE(starts_with(thumbnail, "RIFF") && starts_with(thumbnail, "WEBP", 8));
  const Image picture = decode_image(thumbnail);
  EXPECT_EQ(picture.width, 512);
  EXPECT_EQ(picture.height, 288);
  EXPECT_NEAR(picture.pixels[picture.pixels.size() / 2], 5 * 24, 3);

  const Image portrait = decode_image(make_thumbnail(test_video(720, 1280, 3), 256));
  EXPECT_EQ(portrait.width, 144);
  EXPECT_EQ(portrait.height, 256);
  const Image small = decode_image(make_thumbnail(test_video(160, 90, 1), 512));
  EXPECT_EQ(small.width, 160) << "small videos are not enlarged";
  EXPECT_THROW(make_thumbnail(Video{}), InvalidArgument);
}

TEST(Variants, SpritesheetIsJpegGridOfEvenlySpacedFrames) {
  const Video video = test_video(320, 180, 48);
  const std::vector<uint8_t> sheet = make_spritesheet(video, 16, 4, 128);
  ASSERT_TRUE(starts_with(sheet, "\xFF\xD8\xFF"));
  const Image grid = decode_image(sheet);
  EXPECT_EQ(grid.width, 4 * 128);
  EXPECT_EQ(grid.height, 4 * 72);
  for (int i = 0; i < 16; ++i) {
    // tile centre shows frame (2i + 1) * 48 / 32
    const int x = (i % 4) * 128 + 64;
    const int y = (i / 4) * 72 + 36;
    EXPECT_NEAR(grid.row(y)[x * 3], 5 * ((2 * i + 1) * 48 / 32), 4) << "tile " << i;
  }
  const Image partial = decode_image(make_spritesheet(video, 5, 3, 64));
  EXPECT_EQ(partial.width, 3 * 64);
  EXPECT_EQ(partial.height, 2 * 36);
  EXPECT_THROW(make_spritesheet(video, 0), InvalidArgument);
  EXPECT_THROW(make_spritesheet(Video{}), InvalidArgument);
}

}  // namespace
}  // namespace opsis::media
