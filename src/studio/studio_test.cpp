// The whole studio world through render_clip(): determinism, the vocabulary end to end,
// and refusals.
#include "studio/studio.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "studio/caption.hpp"

using namespace opsis;
using namespace opsis::studio;

namespace {

RenderOptions small(uint64_t seed = 1) {
  RenderOptions o;
  o.width = 96;
  o.height = 64;
  o.sample_rate = 16000;
  o.seed = seed;
  return o;
}

SceneSpec one_second(SceneSpec spec) {
  for (auto& s : spec.shots) s.seconds = 1.0 / spec.shots.size();
  return spec;
}

// Mean absolute difference between two frames, 0..255.
double frame_difference(const Video& v, int a, int b) {
  double sum = 0;
  for (size_t i = 0; i < v.frame_bytes(); ++i) sum += std::abs(int(v.frame(a)[i]) - int(v.frame(b)[i]));
  return sum / double(v.frame_bytes());
}

double audio_rms(const Audio& a) {
  double sum = 0;
  for (float s : a.samples) sum += double(s) * s;
  return a.samples.empty() ? 0 : std::sqrt(sum / a.samples.size());
}

}  // namespace

TEST(RenderClip, SameSpecAndSeedGiveIdenticalFramesAndSamples) {
  const ParseResult parsed =
      parse_prompt("Two kids wave in a snowy field while a large yellow ball bounces, slow orbit left, 2 seconds");
  const Clip a = render_clip(parsed.spec, small(5));
  const Clip b = render_clip(parsed.spec, small(5));
  EXPECT_EQ(a.video.rgb, b.video.rgb);
  EXPECT_EQ(a.audio.samples, b.audio.samples);
  const Clip c = render_clip(parsed.spec, small(6));
  EXPECT_NE(a.video.rgb, c.video.rgb);
  EXPECT_NE(a.audio.samples, c.audio.samples);
}

TEST(RenderClip, LengthsFollowTheSpec) {
  SceneSpec spec;
  spec.shots = {ShotSpec{CameraMove::PanLeft, CameraSpeed::Fast, Framing::Wide, Lens::Standard, 1.5},
                ShotSpec{CameraMove::Static, CameraSpeed::Slow, Framing::CloseUp, Lens::Portrait85mm, 1.0}};
  spec.objects = {{ObjectKind::Ball, Color::Green, Size::Small, Motion::Bounces}};
  const Clip clip = render_clip(spec, small());
  EXPECT_EQ(clip.video.frame_count(), 60);
  EXPECT_EQ(clip.audio.frame_count(), size_t(2.5 * 16000));
  EXPECT_EQ(clip.truth.frames.size(), 60u);
  // The cut: the shot index changes at 1.5 s, and a cut event says so.
  EXPECT_EQ(clip.truth.frames[35].shot, 0);
  EXPECT_EQ(clip.truth.frames[36].shot, 1);
  bool cut = false;
  for (const Event& e : clip.truth.events) cut |= e.kind == EventKind::Cut && std::abs(e.time - 1.5) < 1e-6 && e.shot == 1;
  EXPECT_TRUE(cut);
  // A hard cut: the frames either side differ far more than neighbours within a shot.
  EXPECT_GT(frame_difference(clip.video, 35, 36), 3 * frame_difference(clip.video, 34, 35));
}

// Every word of the vocabulary renders: no exception, moving pictures, sound.
TEST(RenderClip, EveryWordOfTheVocabularyRenders) {
  std::vector<SceneSpec> specs;
  for (int s = 0; s < int(kSettingNames.size()); ++s)
    for (int t = 0; t < int(kTimeOfDayNames.size()); ++t) {
      SceneSpec spec;
      spec.setting = Setting(s);
      spec.time_of_day = TimeOfDay(t);
      spec.weather = Weather((s + t) % 2);
      specs.push_back(spec);
    }
  for (int k = 0; k < int(kObjectKindNames.size()); ++k)
    for (int m = 0; m < int(kMotionNames.size()); ++m) {
      SceneSpec spec;
      spec.objects = {{ObjectKind(k), Color((k + m) % 8), Size(m % 2), Motion(m)}};
      specs.push_back(spec);
    }
  for (int a = 0; a < int(kActionNames.size()); ++a) {
    SceneSpec spec;
    CharacterSpec c;
    c.identity = {SkinTone(a % 5), HairColor(a % 6), HairStyle(a % 3), Color(a % 8), Accessory(a % 3), "Sam"};
    c.action = Action(a);
    if (c.action == Action::Talks) c.line = "Hello there.";
    spec.characters = {c};
    specs.push_back(spec);
  }
  for (int cam = 0; cam < int(kCameraMoveNames.size()); ++cam)
    for (int lens = 0; lens < int(kLensNames.size()); ++lens) {
      SceneSpec spec;
      spec.objects = {{ObjectKind::Box, Color::Purple, Size::Large, Motion::StaysStill}};
      CharacterSpec c;
      spec.characters = {c};
      spec.shots = {ShotSpec{CameraMove(cam), CameraSpeed(lens % 2), Framing(lens % 3), Lens(lens), 1.0}};
      specs.push_back(spec);
    }
  for (const SceneSpec& raw : specs) {
    const SceneSpec spec = one_second(raw);
    SCOPED_TRACE(describe(spec, 0, CaptionStyle::Prose));
    Clip clip;
    ASSERT_NO_THROW(clip = render_clip(spec, small()));
    EXPECT_EQ(clip.video.frame_count(), 24);
    EXPECT_EQ(clip.audio.frame_count(), 16000u);
    EXPECT_GT(audio_rms(clip.audio), 1e-4) << "silent clip";
    EXPECT_LT(audio_rms(clip.audio), 0.5);
    const nlohmann::json truth = nlohmann::json::parse(truth_json(spec, clip));
    EXPECT_EQ(truth["frames"].size(), 24u);
  }
}

TEST(RenderClip, TruthShowsSidewaysObjectsEndDisplacedTheAskedWay) {
  // issue 15, read as a user would from the truth JSON: every kind asked to go left or right,
  // beside a crate that stays still and something rolling the other way, at every framing and
  // a camera move, in every setting: the net displacement (last frame's position minus the
  // first's) is the asked way
  const Motion motions[] = {Motion::RollsLeft, Motion::RollsRight, Motion::FliesLeft, Motion::FliesRight};
  RenderOptions o;
  o.width = 48, o.height = 32, o.fps = 6, o.audio = false;
  int clips = 0;
  for (int kind = 0; kind < int(kObjectKindNames.size()); ++kind)
    for (int m = 0; m < 4; ++m)
      for (int framing = 0; framing < 3; ++framing) {
        const int n = clips++;
        const float dir = m % 2 ? 1.0f : -1.0f;
        SceneSpec spec;
        spec.setting = Setting(n % int(kSettingNames.size()));
        spec.objects = {{ObjectKind(kind), Color::Red, Size(n % 2), motions[m]},
                        {ObjectKind::Box, Color::Blue, Size::Large, Motion::StaysStill},
                        {ObjectKind::Ball, Color::Green, Size::Large, dir > 0 ? Motion::RollsLeft : Motion::RollsRight}};
        spec.shots[0] = ShotSpec{CameraMove(n % int(kCameraMoveNames.size())), CameraSpeed::Fast, Framing(framing),
                                 Lens::Standard, 2.0 + n % 5};
        o.seed = uint64_t(n);
        const nlohmann::json truth = nlohmann::json::parse(truth_json(spec, render_clip(spec, o)));
        const auto& frames = truth["frames"];
        ASSERT_GE(frames.size(), 2u);
        for (size_t i : {size_t(0), size_t(2)}) {
          const float x0 = frames.front()["entities"][i]["position"][0].get<float>();
          const float x1 = frames.back()["entities"][i]["position"][0].get<float>();
          const float asked = i == 0 ? dir : -dir;
          EXPECT_GT(asked * (x1 - x0), 0.1f) << describe(spec, 0, CaptionStyle::Prose) << " (entity " << i << ")";
        }
      }
}

TEST(RenderClip, RefusesBadSpecsAndOptions) {
  SceneSpec spec;
  RenderOptions o = small();
  o.width = 97;
  EXPECT_THROW(render_clip(spec, o), InvalidArgument);
  o = small();
  o.height = 4000;
  EXPECT_THROW(render_clip(spec, o), InvalidArgument);
  spec.shots[0].seconds = -1;
  EXPECT_THROW(render_clip(spec, small()), InvalidArgument);
  spec.shots[0].seconds = 26;
  EXPECT_THROW(render_clip(spec, small()), InvalidArgument);
  spec.shots.clear();
  EXPECT_THROW(render_clip(spec, small()), InvalidArgument);
}

TEST(RenderClip, ProgressAdvancesAndCancellationStops) {
  SceneSpec spec;
  std::vector<double> seen;
  Progress progress;
  progress.report = [&](double f) { seen.push_back(f); };
  render_clip(one_second(spec), small(), &progress);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
  Progress cancel;
  cancel.cancelled = [] { return true; };
  EXPECT_THROW(render_clip(one_second(spec), small(), &cancel), Cancelled);
}
