// The structured variant's scene-state flow: states encode and decode back to the poses the
// studio simulated (impacts on their frames), the conditions say shots and speech, and the
// flow learns one scene.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.hpp"
#include "models/mini2/state_flow.hpp"
#include "studio/dialogue.hpp"

namespace opsis::mini2 {
namespace {

studio::SceneSpec bouncing_ball_and_talker() {
  studio::SceneSpec spec;
  spec.setting = studio::Setting::Beach;
  spec.objects.push_back({studio::ObjectKind::Ball, studio::Color::Red, studio::Size::Large, studio::Motion::Bounces});
  studio::CharacterSpec sam;
  sam.action = studio::Action::Talks;
  sam.line = "what a day";
  spec.characters.push_back(sam);
  spec.shots = {studio::ShotSpec{studio::CameraMove::PanLeft, studio::CameraSpeed::Slow, studio::Framing::Wide, studio::Lens::Standard, 2.0},
                studio::ShotSpec{studio::CameraMove::DollyIn, studio::CameraSpeed::Fast, studio::Framing::Medium, studio::Lens::Wide, 2.0}};
  return spec;
}

float wrap(float a) { return std::remainder(a, 2 * 3.14159265f); }

TEST(StateFlow, StatesDecodeToTheSimulatedPosesAndImpacts) {
  const studio::SceneSpec spec = bouncing_ball_and_talker();
  const studio::Timeline timeline = studio::simulate(spec, 5, kStateFps, 16000);
  ASSERT_EQ(timeline.frames.size(), 48u);
  const auto states = encode_states(spec, timeline.frames, timeline.events);
  ASSERT_EQ(states.size(), size_t(48 * kStateDims));
  const DecodedStates d = decode_states(spec, states.data(), 48, kStateFps);
  ASSERT_EQ(d.frames.size(), 48u);
  for (size_t f = 0; f < 48; ++f) {
    const auto &a = timeline.frames[f], &b = d.frames[f];
    EXPECT_NEAR(a.camera.x, b.camera.x, 1e-4);
    EXPECT_NEAR(a.camera.z, b.camera.z, 1e-4);
    EXPECT_NEAR(a.camera.yaw, b.camera.yaw, 1e-5);
    EXPECT_NEAR(a.camera.focal, b.camera.focal, 1e-4);
    EXPECT_EQ(a.camera.shot, b.camera.shot) << f;
    for (size_t e = 0; e < 2; ++e) {
      EXPECT_NEAR(a.entities[e].x, b.entities[e].x, 1e-4);
      EXPECT_NEAR(a.entities[e].y, b.entities[e].y, 1e-4);
      EXPECT_NEAR(wrap(a.entities[e].angle - b.entities[e].angle), 0, 1e-4);
      EXPECT_EQ(a.entities[e].present, b.entities[e].present);
      EXPECT_NEAR(a.entities[e].mouth_open, b.entities[e].mouth_open, 1e-5);
      if (e == 1) {
        EXPECT_EQ(a.entities[e].viseme, b.entities[e].viseme);
      }
    }
  }
  // Every impact of the ball is found again within one state frame.
  int impacts = 0;
  for (const auto& ev : timeline.events) {
    if (ev.kind != studio::EventKind::Impact || ev.entity != 0) continue;
    ++impacts;
    bool found = false;
    for (const auto& got : d.impacts) found |= got.entity == 0 && std::abs(got.time - ev.time) <= 1.0 / kStateFps;
    EXPECT_TRUE(found) << "impact at " << ev.time;
  }
  EXPECT_GT(impacts, 1);
  EXPECT_EQ(d.impacts.front().material, "rubber");
  // At 24 frames a second the decoded clip has the spec's length.
  EXPECT_EQ(decode_states(spec, states.data(), 48, 24).frames.size(), 96u);
  // Only the slots of things in the scene count.
  const auto mask = state_mask(spec);
  EXPECT_EQ(std::count(mask.begin(), mask.end(), 1.0f), kCameraStateDims + 2 * kSlotStateDims);
}

// With every learned flag down, the landings drawn by the states alone are heard: the ground
// impacts of balls and boxes that bounce or fall, each within one state frame, and few others.
TEST(StateFlow, LandingsAreHeardFromTheMotionAlone) {
  int truth = 0, found = 0, on_time = 0, heard = 0, extra = 0, drawn_touch = 0;
  for (const auto kind : {studio::ObjectKind::Ball, studio::ObjectKind::Box})
    for (const auto motion : {studio::Motion::Bounces, studio::Motion::Falls})
      for (const auto size : {studio::Size::Small, studio::Size::Large})
        for (uint64_t seed = 1; seed <= 4; ++seed) {
          studio::SceneSpec spec;
          spec.setting = studio::Setting(int(seed % 4));
          spec.objects.push_back({kind, studio::Color::Red, size, motion});
          spec.shots = {studio::ShotSpec{studio::CameraMove::Static, studio::CameraSpeed::Slow, studio::Framing::Wide,
                                         studio::Lens::Standard, 4.0}};
          const studio::Timeline timeline = studio::simulate(spec, seed, kStateFps, 16000);
          auto states = encode_states(spec, timeline.frames, timeline.events);
          for (size_t f = 0; f < timeline.frames.size(); ++f) mark_no_impacts(states.data() + f * kStateDims);
          const DecodedStates d = decode_states(spec, states.data(), int(timeline.frames.size()), kStateFps);
          // Every ground impact excuses a sound; those of 1.5 m/s and more (hops of 10 cm and up,
          // plainly seen) must be heard.
          std::vector<double> truths, seen;
          for (const auto& ev : timeline.events)
            if (ev.kind == studio::EventKind::Impact && ev.entity == 0 && ev.other == -1) {
              truths.push_back(ev.time);
              if (ev.speed >= 1.5f) seen.push_back(ev.time);
            }
          truth += int(seen.size());
          for (double t : seen) {
            found += std::any_of(d.impacts.begin(), d.impacts.end(), [&](const auto& got) { return std::abs(got.time - t) <= 1.0 / kStateFps; });
            on_time += std::any_of(d.impacts.begin(), d.impacts.end(), [&](const auto& got) { return std::abs(got.time - t) <= 0.042; });
          }
          // Drawn at 24 frames a second, the lowest the object is drawn near each landing (3
          // frames either side) is within a frame of when it is heard: what the eval's impact
          // detector sees against what its onset detector hears.
          const DecodedStates drawn = decode_states(spec, states.data(), int(timeline.frames.size()), 24);
          for (const auto& got : d.impacts) {
            const auto& f = drawn.frames;
            size_t lowest = f.size();
            for (size_t i = 0; i < f.size(); ++i)
              if (std::abs(f[i].time - got.time) <= 3.0 / 24 && (lowest == f.size() || f[i].entities[0].y < f[lowest].entities[0].y)) lowest = i;
            drawn_touch += lowest < f.size() && std::abs(f[lowest].time - got.time) <= 1.0 / 24 + 1e-9;
          }
          for (const auto& got : d.impacts) {
            ++heard;
            extra += std::none_of(truths.begin(), truths.end(), [&](double t) { return std::abs(got.time - t) <= 1.0 / kStateFps; });
          }
        }
  std::printf("ground impacts %d, found from the motion %d (%d within 42 ms); heard %d, with no impact near %d, drawn lowest within a frame %d\n",
              truth, found, on_time, heard, extra, drawn_touch);
  ASSERT_GT(truth, 40);
  EXPECT_GE(found, truth * 9 / 10);
  EXPECT_GE(on_time, truth * 9 / 10) << "the eval's sync tolerance";
  EXPECT_LE(extra, heard / 10);
  EXPECT_GE(drawn_touch, heard * 9 / 10);
}

TEST(StateFlow, ConditionsSayTheShotAndWhoSpeaks) {
  const studio::SceneSpec spec = bouncing_ball_and_talker();
  std::vector<engine::PhonemeCue> cues{{"w", 0.5, 0.2, studio::viseme_of("w"), 0.3f}};
  const auto c = frame_condition(spec, 48, cues);
  ASSERT_EQ(c.size(), size_t(48 * kFrameConditionDims));
  auto at = [&](int frame, int k) { return c[size_t(frame) * kFrameConditionDims + size_t(k)]; };
  EXPECT_EQ(at(0, int(studio::CameraMove::PanLeft)), 1);
  EXPECT_EQ(at(30, int(studio::CameraMove::DollyIn)), 1);
  EXPECT_EQ(at(24, 10 + 2 + 3 + 4 + 1), 1) << "the cut at 2 s";
  EXPECT_EQ(at(23, 10 + 2 + 3 + 4 + 1), 0);
  const int speaking = 10 + 2 + 3 + 4 + 2;
  EXPECT_EQ(at(7, speaking), 1) << "0.58 s is inside the phoneme";
  EXPECT_EQ(at(2, speaking), 0);
  EXPECT_EQ(at(7, speaking + 7), 0) << "the second character slot is silent";
  const int progress = speaking + 14;  // how far through its shot, and the shot's length / 8 s
  EXPECT_NEAR(at(12, progress), 0.5, 1e-6) << "1 s into a 2 s shot";
  EXPECT_NEAR(at(30, progress), 0.25, 1e-6) << "0.5 s into the second";
  EXPECT_NEAR(at(30, progress + 1), 0.25, 1e-6);
  const auto s = static_condition(spec);
  EXPECT_EQ(s[size_t(studio::Setting::Beach)], 1);
  studio::SceneSpec crowded = spec;
  crowded.objects.resize(5);
  EXPECT_THROW(state_mask(crowded), InvalidArgument);
}

TEST(StateFlow, LearnsOneScene) {
  torch::manual_seed(1);
  const studio::SceneSpec spec = bouncing_ball_and_talker();
  const studio::Timeline timeline = studio::simulate(spec, 5, kStateFps, 16000);
  const auto states = encode_states(spec, timeline.frames, timeline.events);
  const auto x0 = torch::from_blob(const_cast<float*>(states.data()), {1, 48, kStateDims}).clone().expand({4, 48, kStateDims});
  auto statics_v = static_condition(spec);
  auto frames_v = frame_condition(spec, 48, {});
  const auto statics = torch::from_blob(statics_v.data(), {1, kStaticConditionDims}).clone().expand({4, kStaticConditionDims});
  const auto per_frame = torch::from_blob(frames_v.data(), {1, 48, kFrameConditionDims}).clone().expand({4, 48, kFrameConditionDims});
  StateFlow flow(64, 2, 4);
  torch::optim::Adam optimizer(flow->parameters(), torch::optim::AdamOptions(2e-3));
  const auto mask = torch::ones({4, 48}, torch::kBool);
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    const auto noise = torch::randn_like(x0);
    const auto t = torch::rand({4});
    const auto xt = (1 - t.view({4, 1, 1})) * x0 + t.view({4, 1, 1}) * noise;
    const auto v = flow->forward(xt, t, statics, per_frame, mask);
    ASSERT_EQ(v.sizes(), x0.sizes());
    const auto loss = (v - (noise - x0)).pow(2).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step < 5) first += loss.item<double>() / 5;
    if (step >= 55) last += loss.item<double>() / 5;
  }
  EXPECT_LT(last, 0.6 * first);
  const auto in_scene = state_mask(spec);
  const auto sampled = sample_states(flow, statics_v, frames_v, 48, 4, 7, in_scene);
  EXPECT_EQ(sampled.sizes(), (std::vector<int64_t>{48, kStateDims}));
  EXPECT_TRUE(torch::equal(sampled, sample_states(flow, statics_v, frames_v, 48, 4, 7, in_scene))) << "a seed gives one sample";
  // The slots the scene does not use follow their data's path (0), as in training, whatever
  // the network says there.
  const int unused = kCameraStateDims + 1 * kSlotStateDims;  // object slot 1: the scene has one object
  ASSERT_EQ(in_scene[size_t(unused)], 0.0f);
  EXPECT_LT(sampled.index({torch::indexing::Slice(), torch::indexing::Slice(unused, unused + kSlotStateDims)}).abs().max().item<float>(), 1e-4);
}

}  // namespace
}  // namespace opsis::mini2
