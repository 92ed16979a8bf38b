#include "train/holdout.hpp"

#include <gtest/gtest.h>

#include "train/scenes.hpp"

using namespace opsis;

TEST(Holdout, RandomTrainingScenesNeverContainAHeldOutCombination) {
  std::mt19937_64 rng(1);
  int with_objects = 0;
  for (int i = 0; i < 2000; ++i) {
    const studio::SceneSpec spec = train::random_scene(rng, 4.0);
    EXPECT_FALSE(train::is_held_out(spec));
    EXPECT_NO_THROW(studio::validate(spec));
    with_objects += !spec.objects.empty();
  }
  EXPECT_GT(with_objects, 1000);
}

TEST(Holdout, RecognisesEachListedCombination) {
  for (const auto& h : train::held_out_objects()) {
    studio::SceneSpec spec;
    spec.objects.push_back({h.kind, h.color, studio::Size::Small, h.motion});
    EXPECT_TRUE(train::is_held_out(spec));
  }
  for (const auto& h : train::held_out_shots()) {
    studio::SceneSpec spec;
    spec.setting = h.setting;
    spec.shots[0].camera = h.camera;
    EXPECT_TRUE(train::is_held_out(spec));
  }
  EXPECT_FALSE(train::is_held_out(studio::SceneSpec{}));
}
