#include "provenance/watermark_visible.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace opsis::provenance {
namespace {

Video flat_video(int width, int height, int frames, uint8_t level, int fps = 24) {
  Video video;
  video.width = width;
  video.height = height;
  video.fps_num = fps;
  video.rgb.assign(size_t(width) * height * 3 * frames, level);
  return video;
}

struct ChangedBox {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  int pixels = 0;
  bool empty() const { return pixels == 0; }
};

ChangedBox changed_box(const Video& before, const Video& after, int t) {
  ChangedBox box;
  for (int y = 0; y < before.height; ++y)
    for (int x = 0; x < before.width; ++x) {
      const size_t i = (size_t(y) * before.width + x) * 3;
      if (before.frame(t)[i] == after.frame(t)[i]) continue;
      box.x0 = std::min(box.x0, x);
      box.y0 = std::min(box.y0, y);
      box.x1 = std::max(box.x1, x);
      box.y1 = std::max(box.y1, y);
      ++box.pixels;
    }
  return box;
}

TEST(VisibleWatermark, SitsInACornerAndMovesClockwise) {
  // 4 fps: frame 0 (t=0), 12 (t=3.0: the next corner after a 2.5 s hold and a 0.5 s slide),
  // 24 (t=6.0: the corner after that), 11 (t=2.75: halfway through the first slide).
  const Video before = flat_video(640, 360, 25, 128, 4);
  Video marked = before;
  apply_visible_watermark(marked, "ada_l");

  const ChangedBox start = changed_box(before, marked, 0);       // bottom-right
  const ChangedBox second = changed_box(before, marked, 12);     // bottom-left
  const ChangedBox third = changed_box(before, marked, 24);      // top-left
  const ChangedBox sliding = changed_box(before, marked, 11);    // t = 2.75: mid-slide
  ASSERT_FALSE(start.empty());
  EXPECT_GT(start.x0, 320);
  EXPECT_GT(start.y0, 180);
  EXPECT_LT(second.x1, 320);
  EXPECT_GT(second.y0, 180);
  EXPECT_LT(third.x1, 320);
  EXPECT_LT(third.y1, 180);
  EXPECT_GT(sliding.x0, second.x0);  // between the two corners
  EXPECT_LT(sliding.x0, start.x0);
  // Small: well under a tenth of the frame.
  EXPECT_LT((start.x1 - start.x0 + 1) * (start.y1 - start.y0 + 1), 640 * 360 / 10);
}

TEST(VisibleWatermark, IsSemiTransparentAndDrawsInk) {
  const Video black = flat_video(320, 240, 1, 0);
  const Video white = flat_video(320, 240, 1, 255);
  Video on_black = black, on_white = white;
  apply_visible_watermark(on_black, "bob");
  apply_visible_watermark(on_white, "bob");
  int brightest_on_black = 0, darkest_on_white = 255;
  for (size_t i = 0; i < on_black.rgb.size(); ++i) {
    brightest_on_black = std::max<int>(brightest_on_black, on_black.rgb[i]);
    darkest_on_white = std::min<int>(darkest_on_white, on_white.rgb[i]);
  }
  // Ink shows on black but does not reach full white; the panel darkens white only partly.
  EXPECT_GT(brightest_on_black, 80);
  EXPECT_LT(brightest_on_black, 255);
  EXPECT_LT(darkest_on_white, 255);
  EXPECT_GT(darkest_on_white, 100);
}

TEST(VisibleWatermark, ScalesWithTheFrameAndTheHandle) {
  const MarkPlacement small = visible_watermark_placement(640, 360, "ada", 0);
  const MarkPlacement large = visible_watermark_placement(1280, 720, "ada", 0);
  EXPECT_NEAR(double(large.height) / small.height, 2.0, 0.1);
  EXPECT_NEAR(double(large.width) / small.width, 2.0, 0.1);
  const MarkPlacement longer = visible_watermark_placement(1280, 720, "ada_lovelace_1815", 0);
  EXPECT_GT(longer.width, large.width);
  EXPECT_EQ(longer.height, large.height);
  // Inside the frame with a margin.
  EXPECT_LE(large.x + large.width, 1280);
  EXPECT_LE(large.y + large.height, 720);
}

TEST(VisibleWatermark, DifferentHandlesDrawDifferentText) {
  const Video before = flat_video(320, 240, 1, 40);
  Video a = before, b = before;
  apply_visible_watermark(a, "anna");
  apply_visible_watermark(b, "otto");
  EXPECT_NE(a.rgb, b.rgb);
}

TEST(VisibleWatermark, RejectsBadInputWithoutChangingTheVideo) {
  Video video = flat_video(64, 64, 2, 10);
  const Video before = video;
  EXPECT_THROW(apply_visible_watermark(video, std::string(33, 'x')), InvalidArgument);
  VisibleWatermarkOptions options;
  options.opacity = 1.5;
  EXPECT_THROW(apply_visible_watermark(video, "ok", options), InvalidArgument);
  EXPECT_EQ(video.rgb, before.rgb);
  Video empty;
  EXPECT_THROW(apply_visible_watermark(empty, "ok"), InvalidArgument);
  // Tiny frames still work (the mark is clipped to the frame).
  Video tiny = flat_video(16, 16, 1, 0);
  EXPECT_NO_THROW(apply_visible_watermark(tiny, "long_handle_here"));
}

}  // namespace
}  // namespace opsis::provenance
