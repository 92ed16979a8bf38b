#include "eval/object_probe.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace opsis::eval {
namespace {

constexpr int kW = 128, kH = 72;

// A smooth random texture (sums of sines) sampled at (x, y): grey levels 0-255.
double texture(double x, double y) {
  return 128 + 40 * std::sin(0.31 * x + 0.7 * std::sin(0.05 * y)) + 35 * std::sin(0.23 * y + 0.4 * x * 0.1) +
         25 * std::sin(0.11 * (x + y)) * std::cos(0.17 * (x - 2 * y));
}

std::vector<uint8_t> frame_of(const std::function<double(double, double)>& f) {
  std::vector<uint8_t> out(size_t(kW) * kH);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) out[size_t(y) * kW + size_t(x)] = uint8_t(std::clamp(std::lround(f(x, y)), 0L, 255L));
  return out;
}

TEST(CameraStep, AShiftedPictureReadsAsAPanAndTilt) {
  const auto a = frame_of(texture);
  // Content moves 3 px right and 2 px up (a pan left, a tilt down in screen terms).
  const auto b = frame_of([](double x, double y) { return texture(x - 3, y + 2); });
  const auto step = camera_step(a.data(), b.data(), nullptr);
  EXPECT_NEAR(step.tx, 3.0, 0.3);
  EXPECT_NEAR(step.ty, -2.0, 0.3);
  EXPECT_NEAR(step.zoom, 0.0, 0.5);
  EXPECT_GT(step.confidence, 0.3);
}

TEST(CameraStep, AScaledPictureReadsAsAZoom) {
  const auto a = frame_of(texture);
  const double scale = 1.05;  // 5% larger about the centre
  const auto b = frame_of([&](double x, double y) { return texture(kW / 2.0 + (x - kW / 2.0) / scale, kH / 2.0 + (y - kH / 2.0) / scale); });
  const auto step = camera_step(a.data(), b.data(), nullptr);
  EXPECT_NEAR(step.zoom, 5.0, 1.0);
  EXPECT_NEAR(step.tx, 0.0, 0.4);
  EXPECT_NEAR(step.ty, 0.0, 0.4);
}

TEST(CameraStep, ParallaxSeparatesNearAndFar) {
  const auto a = frame_of(texture);
  // Lower half (near ground) moves 4 px left, upper half (far) 1 px left: an orbit's parallax.
  const auto b = frame_of([](double x, double y) { return texture(x + (y < kH / 2.0 ? 1 : 4), y); });
  const auto step = camera_step(a.data(), b.data(), nullptr);
  EXPECT_LT(step.tx_bottom, step.tx_top - 2.0);
}

TEST(CameraStep, AFlatPictureGivesNoEvidence) {
  const std::vector<uint8_t> flat(size_t(kW) * kH, 120);
  const auto step = camera_step(flat.data(), flat.data(), nullptr);
  EXPECT_EQ(step.confidence, 0.0f);
  EXPECT_EQ(step.tx, 0.0f);
}

TEST(ObjectFrames, ResamplesAnySizeAndRateToTwelvePerSecondAtNativeSize) {
  Video video;
  video.width = 256, video.height = 144, video.fps_num = 24;
  video.rgb.assign(video.frame_bytes() * 48, 0);  // 2 s
  for (int t = 0; t < 48; ++t) video.frame(t)[0] = uint8_t(t * 5);  // top-left pixel counts the frame
  const auto frames = object_frames(video);
  ASSERT_EQ(frames.count, 24);
  ASSERT_EQ(frames.rgb.size(), size_t(24) * kW * kH * 3);
  // Frame 5 at 12 fps is source frame 10; its top-left output pixel averages 2x2 source pixels.
  EXPECT_NEAR(frames.frame(5)[0], 10 * 5 / 4.0, 1.0);
}

TEST(CellTargets, BoxCellsAndATinyObjectOwnsACell) {
  const auto big = cell_targets(Box{8, 8, 24, 16}, kW, kH);  // cells x 2..5, y 2..3
  int marked = 0;
  for (float v : big) marked += v > 0;
  EXPECT_EQ(marked, 4 * 2);
  EXPECT_EQ(big[size_t(2 * kMapWidth + 2)], 1.0f);
  const auto tiny = cell_targets(Box{41, 21, 42.5f, 22.5f}, kW, kH);  // inside cell (10, 5)
  int tiny_marked = 0;
  for (float v : tiny) tiny_marked += v > 0;
  EXPECT_EQ(tiny_marked, 1);
  EXPECT_EQ(tiny[size_t(5 * kMapWidth + 10)], 1.0f);
  const auto none = cell_targets(Box{}, kW, kH);
  for (float v : none) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace opsis::eval
