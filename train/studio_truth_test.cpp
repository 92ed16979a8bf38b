// The trainers' truth maps: per-cell classes (small things included), box weights, camera motion.
#include <gtest/gtest.h>

#include "train/studio_truth.hpp"

namespace opsis::train {
namespace {

TEST(StudioTruth, CellClassesMarkObjectsAndCharactersEvenWhenSmall) {
  studio::SceneSpec spec;
  spec.setting = studio::Setting::Meadow;
  spec.objects.push_back({studio::ObjectKind::Ball, studio::Color::Blue, studio::Size::Small, studio::Motion::StaysStill});
  spec.characters.push_back({});
  spec.shots[0].seconds = 0.25;
  const auto clip = studio::render_clip(spec, {128, 72, 24, 16000, 1, false});
  const auto& frame = clip.truth.frames[0];
  const auto cells = cell_classes(spec, frame, 80, 128);
  ASSERT_EQ(cells.sizes().vec(), (std::vector<int64_t>{5, 8}));
  const auto& ball = frame.entities[0];
  ASSERT_TRUE(ball.visible);
  EXPECT_LT(ball.x1 - ball.x0, 16.f) << "a small ball in a wide shot is smaller than a cell";
  const int cx = int((ball.x0 + ball.x1) / 2) / 16, cy = int((ball.y0 + ball.y1) / 2) / 16;
  EXPECT_EQ(cells[cy][cx].item<int64_t>(), 1 + int64_t(studio::Color::Blue));
  EXPECT_GT((cells == 9).sum().item<int64_t>(), 0) << "the character's cells";
  const auto weight = box_weight_map(spec, frame, 80, 128, 4.0);
  EXPECT_FLOAT_EQ(weight[int64_t((ball.y0 + ball.y1) / 2)][int64_t((ball.x0 + ball.x1) / 2)].item<float>(), 5.f);
  EXPECT_FLOAT_EQ(weight[0][0].item<float>(), 1.f);
}

TEST(StudioTruth, CameraMotionFollowsAPan) {
  studio::CameraPose a, b;
  b.yaw = a.yaw + 0.01f;
  const auto m = camera_motion(a, b);
  EXPECT_NEAR(m[0].item<float>(), 0.1f, 1e-5);
  EXPECT_NEAR(m.abs().sum().item<float>(), 0.1f, 1e-5);
}

}  // namespace
}  // namespace opsis::train
