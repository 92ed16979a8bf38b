#include "studio/render.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <ctime>
#include <vector>

#include "core/error.hpp"
#include "studio/world.hpp"

namespace opsis::studio {
namespace {

SceneSpec make_scene(Setting setting, TimeOfDay tod = TimeOfDay::Day, Weather weather = Weather::Clear,
                     Lens lens = Lens::Standard) {
  SceneSpec s;
  s.setting = setting;
  s.time_of_day = tod;
  s.weather = weather;
  s.shots[0].lens = lens;
  return s;
}

// The wide establishing camera the world uses: 10 m across the shorter side at the stage.
CameraPose wide_camera(float focal = 0.8f) {
  CameraPose c;
  c.x = 0, c.y = 1.6f, c.z = kStageZ - focal * 10.0f;
  c.focal = focal;
  c.pitch = std::atan2(1.0f - 1.6f, kStageZ - c.z);
  return c;
}

// A medium (extent 1.3 m) or close-up (0.55 m) shot on a character standing at (x, 0, z).
CameraPose shot_on_character(float x, float z, bool close) {
  CameraPose c;
  const float y = (close ? 0.92f : 0.72f) * 1.7f;
  const float distance = 0.8f * (close ? 0.55f : 1.3f);
  c.x = x, c.y = y, c.z = z - distance;
  c.focal = 0.8f;
  return c;
}

FrameState state_for(const SceneSpec& spec, const CameraPose& camera) {
  FrameState st;
  st.time = 1.25;
  st.camera = camera;
  st.entities.resize(spec.objects.size() + spec.characters.size());
  for (size_t i = 0; i < spec.objects.size(); ++i) {
    EntityPose& p = st.entities[i];
    p.x = -3.0f + 2.0f * float(i);
    p.z = 7.5f;
    const ObjectKind k = spec.objects[i].kind;
    p.y = (k == ObjectKind::Balloon || k == ObjectKind::Bird) ? 1.8f : 0.0f;
    p.on_ground = p.y == 0;
  }
  for (size_t i = 0; i < spec.characters.size(); ++i) {
    EntityPose& p = st.entities[spec.objects.size() + i];
    p.x = -1.0f + 2.0f * float(i);
    p.z = 8.8f + 0.8f * float(i);
  }
  return st;
}

std::vector<uint8_t> render(const FrameRenderer& r, const FrameState& st, int w, int h, std::vector<EntityTruth>* truth = nullptr) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3, 0);
  r.draw(st, rgb.data(), truth);
  return rgb;
}

void write_ppm(const std::string& path, const std::vector<uint8_t>& rgb, int w, int h) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fprintf(f, "P6\n%d %d\n255\n", w, h);
  std::fwrite(rgb.data(), 1, rgb.size(), f);
  std::fclose(f);
}

struct Mean {
  double r = 0, g = 0, b = 0;
  int count = 0;
};

// Mean colour of the pixels of `a` that differ from `b` inside the box.
Mean changed_mean(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int w, const EntityTruth& box) {
  Mean m;
  for (int y = int(box.y0); y < int(std::ceil(box.y1)); ++y)
    for (int x = int(box.x0); x < int(std::ceil(box.x1)); ++x) {
      const size_t k = (size_t(y) * w + x) * 3;
      const int d = std::abs(a[k] - b[k]) + std::abs(a[k + 1] - b[k + 1]) + std::abs(a[k + 2] - b[k + 2]);
      if (d < 24) continue;
      m.r += a[k], m.g += a[k + 1], m.b += a[k + 2];
      ++m.count;
    }
  if (m.count) m.r /= m.count, m.g /= m.count, m.b /= m.count;
  return m;
}

// Names a colour from its hue, saturation and value, independent of the renderer's palette.
Color classify(const Mean& m) {
  const double mx = std::max({m.r, m.g, m.b}), mn = std::min({m.r, m.g, m.b});
  const double sat = mx > 0 ? (mx - mn) / mx : 0;
  if (mx < 70) return Color::Black;
  if (sat < 0.3) return mx > 110 ? Color::White : Color::Black;
  double hue;
  if (mx == m.r)
    hue = 60 * std::fmod((m.g - m.b) / (mx - mn), 6.0);
  else if (mx == m.g)
    hue = 60 * ((m.b - m.r) / (mx - mn) + 2);
  else
    hue = 60 * ((m.r - m.g) / (mx - mn) + 4);
  if (hue < 0) hue += 360;
  if (hue < 18 || hue >= 330) return Color::Red;
  if (hue < 40) return Color::Orange;
  if (hue < 75) return Color::Yellow;
  if (hue < 170) return Color::Green;
  if (hue < 255) return Color::Blue;
  return Color::Purple;
}

// The colour most of the changed pixels inside the box are named (wheels, windows and
// outlines are minorities).
Color majority_color(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int w, const EntityTruth& box) {
  int votes[8] = {0};
  for (int y = int(box.y0); y < int(std::ceil(box.y1)); ++y)
    for (int x = int(box.x0); x < int(std::ceil(box.x1)); ++x) {
      const size_t k = (size_t(y) * w + x) * 3;
      const int d = std::abs(a[k] - b[k]) + std::abs(a[k + 1] - b[k + 1]) + std::abs(a[k + 2] - b[k + 2]);
      if (d < 24) continue;
      Mean m;
      m.r = a[k], m.g = a[k + 1], m.b = a[k + 2], m.count = 1;
      ++votes[int(classify(m))];
    }
  return Color(std::max_element(votes, votes + 8) - votes);
}

TEST(FrameRenderer, SameInputsGiveIdenticalBytes) {
  SceneSpec spec = make_scene(Setting::Meadow, TimeOfDay::Day, Weather::Rain);
  spec.objects = {{ObjectKind::Ball, Color::Red}, {ObjectKind::Car, Color::Blue}};
  spec.characters = {CharacterSpec{}};
  const FrameState st = state_for(spec, wide_camera());
  const FrameRenderer a(spec, 7, 128, 128), b(spec, 7, 128, 128), c(spec, 8, 128, 128);
  const auto first = render(a, st, 128, 128);
  EXPECT_EQ(first, render(a, st, 128, 128));
  EXPECT_EQ(first, render(b, st, 128, 128));
  EXPECT_NE(first, render(c, st, 128, 128)) << "the seed should change the scenery";
}

TEST(FrameRenderer, DrawsFromSeveralThreadsAtOnce) {
  SceneSpec spec = make_scene(Setting::Snowfield, TimeOfDay::Night, Weather::Rain, Lens::Anamorphic);
  spec.objects = {{ObjectKind::Balloon, Color::Green}, {ObjectKind::Car, Color::White}};
  spec.characters = {CharacterSpec{}};
  const FrameRenderer r(spec, 12, 96, 96);
  std::vector<FrameState> states;
  for (int i = 0; i < 16; ++i) {
    FrameState st = state_for(spec, wide_camera());
    st.time = i * 0.1;
    st.camera.yaw = 0.01f * float(i);
    states.push_back(st);
  }
  std::vector<std::vector<uint8_t>> serial, parallel(states.size());
  for (const auto& st : states) serial.push_back(render(r, st, 96, 96));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = size_t(t); i < states.size(); i += 4) parallel[i] = render(r, states[i], 96, 96);
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < states.size(); ++i) EXPECT_EQ(serial[i], parallel[i]) << "frame " << i;
  EXPECT_NE(serial[0], serial[1]) << "rain and camera move between frames";
}

TEST(FrameRenderer, WritesExactlyOneFrameOfEachSize) {
  SceneSpec spec = make_scene(Setting::CityStreet, TimeOfDay::Night);
  spec.objects = {{ObjectKind::Car, Color::Yellow}};
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{128, 128}, {160, 96}, {96, 160}, {320, 180}}) {
    const FrameRenderer r(spec, 1, w, h);
    const size_t bytes = size_t(w) * h * 3;
    std::vector<uint8_t> buf(bytes + 64, 0xAB);
    std::vector<uint8_t> buf2(bytes + 64, 0x11);
    const FrameState st = state_for(spec, wide_camera());
    r.draw(st, buf.data(), nullptr);
    r.draw(st, buf2.data(), nullptr);
    for (size_t k = bytes; k < buf.size(); ++k) ASSERT_EQ(buf[k], 0xAB) << "wrote past the frame at " << w << "x" << h;
    // Every pixel is drawn: two different initial contents give the same frame.
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + long(bytes), buf2.begin())) << w << "x" << h;
  }
}

TEST(FrameRenderer, RejectsFramesThatDoNotMatchTheScene) {
  SceneSpec spec = make_scene(Setting::Beach);
  spec.objects = {{ObjectKind::Ball, Color::Red}};
  const FrameRenderer r(spec, 1, 64, 64);
  std::vector<uint8_t> rgb(64 * 64 * 3);
  FrameState st = state_for(spec, wide_camera());
  st.entities.clear();
  EXPECT_THROW(r.draw(st, rgb.data(), nullptr), InvalidArgument);
  st = state_for(spec, wide_camera());
  st.camera.shot = 3;
  EXPECT_THROW(r.draw(st, rgb.data(), nullptr), InvalidArgument);
  st = state_for(spec, wide_camera());
  st.camera.focal = 0;
  EXPECT_THROW(r.draw(st, rgb.data(), nullptr), InvalidArgument);
  EXPECT_THROW(FrameRenderer(spec, 1, 0, 64), InvalidArgument);
  SceneSpec too_many = spec;
  too_many.objects.resize(kMaxObjects + 1);
  EXPECT_THROW(FrameRenderer(too_many, 1, 64, 64), InvalidArgument);
}

// The parts a layered renderer is trained on: the setting without entities is the frame
// with every entity absent; one entity alone over black and over white differs only where it
// is drawn, inside its truth box, and the two agree where it covers the picture fully.
TEST(FrameRenderer, DrawsThePartsApart) {
  SceneSpec spec = make_scene(Setting::Beach, TimeOfDay::Day, Weather::Rain);
  spec.objects = {{ObjectKind::Ball, Color::Red, Size::Large}, {ObjectKind::Box, Color::Blue, Size::Large}};
  const FrameRenderer r(spec, 5, 128, 72);
  const FrameState st = state_for(spec, wide_camera());
  DrawParts setting_only;
  setting_only.only_entity = -2, setting_only.shadows = false, setting_only.weather = false;
  std::vector<uint8_t> setting(128 * 72 * 3), absent(128 * 72 * 3);
  r.draw(st, setting.data(), nullptr, setting_only);
  FrameState none = st;
  for (auto& e : none.entities) e.present = false;
  DrawParts dry;
  dry.weather = false;
  r.draw(none, absent.data(), nullptr, dry);
  EXPECT_EQ(setting, absent);
  std::vector<uint8_t> full(128 * 72 * 3);
  r.draw(st, full.data(), nullptr);
  EXPECT_NE(full, absent) << "rain and the entities are drawn by default";

  std::vector<EntityTruth> truth;
  render(r, st, 128, 72, &truth);
  ASSERT_TRUE(truth[1].visible);
  DrawParts alone;
  alone.background = false, alone.only_entity = 1, alone.shadows = false, alone.weather = false, alone.lens = false;
  std::vector<uint8_t> on_black(128 * 72 * 3), on_white(128 * 72 * 3);
  r.draw(st, on_black.data(), nullptr, alone);
  std::fill(alone.fill, alone.fill + 3, uint8_t(255));
  r.draw(st, on_white.data(), nullptr, alone);
  int covered = 0;
  for (int y = 0; y < 72; ++y)
    for (int x = 0; x < 128; ++x) {
      const size_t k = (size_t(y) * 128 + size_t(x)) * 3;
      const bool inside = float(x) + 1 >= truth[1].x0 && float(x) <= truth[1].x1 && float(y) + 1 >= truth[1].y0 && float(y) <= truth[1].y1;
      const bool differs = on_black[k] != on_white[k] || on_black[k + 1] != on_white[k + 1] || on_black[k + 2] != on_white[k + 2];
      if (!inside) {
        ASSERT_EQ(on_black[k], 0) << x << "," << y;
        ASSERT_EQ(on_white[k], 255) << x << "," << y;
      } else if (!differs) {
        ++covered;
      }
    }
  EXPECT_GT(covered, 10) << "the box covers pixels fully";
  EXPECT_THROW(r.draw(st, on_black.data(), nullptr, DrawParts{true, 2}), InvalidArgument);
}

TEST(FrameRenderer, EachObjectColourIsFoundInsideItsTruthBox) {
  for (TimeOfDay tod : {TimeOfDay::Day, TimeOfDay::GoldenHour, TimeOfDay::Night})
    for (ObjectKind kind : {ObjectKind::Ball, ObjectKind::Box, ObjectKind::Balloon, ObjectKind::Car})
      for (int c = 0; c < 8; ++c) {
        // Night is also tried in the rain, the darkest grade.
        SceneSpec spec = make_scene(Setting::Meadow, tod, tod == TimeOfDay::Night && c % 2 ? Weather::Rain : Weather::Clear);
        spec.objects = {{kind, Color(c), Size::Large}};
        const FrameRenderer r(spec, 3, 128, 128);
        FrameState st = state_for(spec, wide_camera());
        st.entities[0].x = 0;
        std::vector<EntityTruth> truth;
        const auto with = render(r, st, 128, 128, &truth);
        ASSERT_EQ(truth.size(), 1u);
        ASSERT_TRUE(truth[0].visible);
        st.entities[0].present = false;
        std::vector<EntityTruth> gone;
        const auto without = render(r, st, 128, 128, &gone);
        EXPECT_FALSE(gone[0].visible);
        const Mean m = changed_mean(with, without, 128, truth[0]);
        ASSERT_GT(m.count, 8) << name(kind);
        if (kind != ObjectKind::Car) {
          EXPECT_EQ(classify(m), Color(c)) << "mean colour of the " << name(kind) << " " << name(Color(c)) << " at " << name(tod);
        }
        EXPECT_EQ(majority_color(with, without, 128, truth[0]), Color(c)) << name(kind) << " " << name(Color(c)) << " at " << name(tod) << ": mean " << m.r
                                         << "," << m.g << "," << m.b;
      }
}

TEST(FrameRenderer, CharacterBoxHoldsSkinAndShirtAndTonesDiffer) {
  auto draw_with = [](SkinTone skin, Color shirt, std::vector<EntityTruth>* truth) {
    SceneSpec spec = make_scene(Setting::Forest);
    CharacterSpec ch;
    ch.identity.skin = skin;
    ch.identity.shirt = shirt;
    spec.characters = {ch};
    const FrameRenderer r(spec, 5, 256, 256);
    FrameState st = state_for(spec, wide_camera());
    st.entities[0].x = 0;
    return render(r, st, 256, 256, truth);
  };
  std::vector<EntityTruth> truth;
  const auto base = draw_with(SkinTone::Pale, Color::Blue, &truth);
  ASSERT_TRUE(truth[0].visible);
  EXPECT_GT(truth[0].y1 - truth[0].y0, 30.0f) << "a 1.7 m person at the stage is about 43 px tall here";
  auto changes_inside_only = [&](const std::vector<uint8_t>& other) {
    int inside = 0, outside = 0;
    for (int y = 0; y < 256; ++y)
      for (int x = 0; x < 256; ++x) {
        const size_t k = (size_t(y) * 256 + x) * 3;
        if (base[k] == other[k] && base[k + 1] == other[k + 1] && base[k + 2] == other[k + 2]) continue;
        const bool in = x + 1 > truth[0].x0 && x < truth[0].x1 && y + 1 > truth[0].y0 && y < truth[0].y1;
        (in ? inside : outside)++;
      }
    EXPECT_GT(inside, 10);
    EXPECT_EQ(outside, 0);
  };
  std::vector<EntityTruth> t2;
  for (int s = 1; s < 5; ++s) changes_inside_only(draw_with(SkinTone(s), Color::Blue, &t2));
  // Skin tones: the mean colour of the pixels that change with the tone must differ pairwise.
  std::vector<Mean> tone_means;
  const auto reference = draw_with(SkinTone::Pale, Color::Blue, &t2);
  for (int s = 1; s < 5; ++s) tone_means.push_back(changed_mean(draw_with(SkinTone(s), Color::Blue, &t2), reference, 256, truth[0]));
  for (size_t a = 0; a < tone_means.size(); ++a) {
    ASSERT_GT(tone_means[a].count, 10);
    for (size_t b = a + 1; b < tone_means.size(); ++b) {
      const double d = std::abs(tone_means[a].r - tone_means[b].r) + std::abs(tone_means[a].g - tone_means[b].g) +
                       std::abs(tone_means[a].b - tone_means[b].b);
      EXPECT_GT(d, 40) << "skin tones " << a + 1 << " and " << b + 1 << " look alike";
    }
  }
  // The shirt: its colour is found where it changes, inside the box.
  const auto red_shirt = draw_with(SkinTone::Pale, Color::Red, &t2);
  changes_inside_only(red_shirt);
  EXPECT_EQ(classify(changed_mean(red_shirt, base, 256, truth[0])), Color::Red);
  EXPECT_EQ(classify(changed_mean(base, red_shirt, 256, truth[0])), Color::Blue);
}

TEST(FrameRenderer, RotationSquashAndFlapAreVisible) {
  SceneSpec spec = make_scene(Setting::Beach);
  spec.objects = {{ObjectKind::Ball, Color::Orange, Size::Large}, {ObjectKind::Bird, Color::Blue, Size::Large}};
  const FrameRenderer r(spec, 6, 256, 256);
  FrameState st = state_for(spec, wide_camera());
  std::vector<EntityTruth> t0;
  const auto base = render(r, st, 256, 256, &t0);
  auto changed_in = [&](const std::vector<uint8_t>& other, const EntityTruth& box) {
    int n = 0;
    for (int y = int(box.y0); y < int(std::ceil(box.y1)); ++y)
      for (int x = int(box.x0); x < int(std::ceil(box.x1)); ++x)
        n += base[(size_t(y) * 256 + x) * 3] != other[(size_t(y) * 256 + x) * 3];
    return n;
  };
  FrameState turned = st;
  turned.entities[0].angle = 1.2f;  // the stripe and spot turn with the ball
  EXPECT_GT(changed_in(render(r, turned, 256, 256), t0[0]), 10);
  FrameState squashed = st;
  squashed.entities[0].squash = 0.3f;
  std::vector<EntityTruth> t1;
  render(r, squashed, 256, 256, &t1);
  EXPECT_GT(t1[0].x1 - t1[0].x0, t0[0].x1 - t0[0].x0);
  EXPECT_LT(t1[0].y1 - t1[0].y0, t0[0].y1 - t0[0].y0);
  FrameState flapped = st;
  flapped.entities[1].wing_phase = -1.5f;  // wings down
  render(r, flapped, 256, 256, &t1);
  EXPECT_GT(t1[1].y1, t0[1].y1) << "wings down reach lower";
}

TEST(FrameRenderer, MouthOpeningChangesTheFaceInAMediumShot) {
  SceneSpec spec = make_scene(Setting::LivingRoom);
  CharacterSpec ch;
  ch.action = Action::Talks;
  ch.line = "hello";
  spec.characters = {ch};
  spec.shots[0].framing = Framing::Medium;
  const FrameRenderer r(spec, 2, 128, 128);
  FrameState st = state_for(spec, shot_on_character(0, 8.8f, false));
  st.entities[0].x = 0;
  st.entities[0].viseme = kOpen;
  st.entities[0].mouth_open = 0;
  std::vector<EntityTruth> closed_truth, open_truth;
  const auto closed = render(r, st, 128, 128, &closed_truth);
  st.entities[0].mouth_open = 1;
  const auto open = render(r, st, 128, 128, &open_truth);
  EXPECT_FLOAT_EQ(closed_truth[0].mouth_open, 0.0f);
  EXPECT_FLOAT_EQ(open_truth[0].mouth_open, 1.0f);
  // Face region: the head sits in the top part of the box in a medium shot.
  const Projected head = project(st.camera, 0, 0.885f * 1.7f, 8.8f, 128, 128);
  const float r_px = 0.125f * 1.7f * head.pixels_per_metre;  // the head with a margin
  int changed = 0, changed_outside_face = 0;
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 128; ++x) {
      const size_t k = (size_t(y) * 128 + x) * 3;
      const int d = std::abs(closed[k] - open[k]) + std::abs(closed[k + 1] - open[k + 1]) + std::abs(closed[k + 2] - open[k + 2]);
      if (d < 30) continue;
      const float dx = float(x) + 0.5f - head.u, dy = float(y) + 0.5f - head.v;
      (dx * dx + dy * dy < r_px * r_px ? changed : changed_outside_face)++;
    }
  EXPECT_GT(changed, 20) << "head radius " << r_px << " px";
  EXPECT_EQ(changed_outside_face, 0);
  // Visemes give different shapes at the same opening.
  st.entities[0].viseme = kRound;
  const auto round = render(r, st, 128, 128);
  EXPECT_NE(round, open);
  st.entities[0].viseme = kLipsClosed;
  std::vector<EntityTruth> lips;
  render(r, st, 128, 128, &lips);
  EXPECT_FLOAT_EQ(lips[0].mouth_open, 0.0f) << "lips-closed is drawn closed whatever mouth_open says";
}

TEST(FrameRenderer, AnamorphicLetterboxBars) {
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{128, 128}, {1280, 720}, {320, 240}}) {
    SceneSpec spec = make_scene(Setting::CityStreet, TimeOfDay::Night, Weather::Clear, Lens::Anamorphic);
    spec.objects = {{ObjectKind::Car, Color::Red}};
    const FrameRenderer r(spec, 4, w, h);
    const FrameState st = state_for(spec, wide_camera());
    const auto rgb = render(r, st, w, h);
    auto row_black = [&](int y) {
      for (int x = 0; x < w * 3; ++x)
        if (rgb[size_t(y) * w * 3 + x] != 0) return false;
      return true;
    };
    int top = 0;
    while (top < h && row_black(top)) ++top;
    int bottom = 0;
    while (bottom < h && row_black(h - 1 - bottom)) ++bottom;
    const double expected = (1.0 - (double(w) / h) / 2.39) / 2.0 * h;
    EXPECT_NEAR(top, expected, 1.0) << w << "x" << h;
    EXPECT_NEAR(bottom, expected, 1.0) << w << "x" << h;
  }
}

TEST(FrameRenderer, EntityInsideTheLetterboxIsNotVisible) {
  for (Lens lens : {Lens::Standard, Lens::Anamorphic}) {
    SceneSpec spec = make_scene(Setting::Meadow, TimeOfDay::Day, Weather::Clear, lens);
    spec.objects = {{ObjectKind::Bird, Color::Red, Size::Large}};
    const FrameRenderer r(spec, 4, 128, 128);
    FrameState st = state_for(spec, wide_camera());
    st.entities[0].x = 0, st.entities[0].y = 5.0f, st.entities[0].z = 6.8f;  // high up: ~20 px from the top
    std::vector<EntityTruth> truth;
    render(r, st, 128, 128, &truth);
    EXPECT_EQ(truth[0].visible, lens == Lens::Standard) << name(lens);
  }
}

// Best horizontal shift s (pixels) with b(x) ~ a(x - s) over the given rows.
int best_shift(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int w, int y0, int y1, int max_shift,
               double* best_error, double* zero_error, int x_lo = 0, int x_hi = -1) {
  if (x_hi < 0) x_hi = w;
  int best = 0;
  *best_error = 1e30;
  for (int s = -max_shift; s <= max_shift; ++s) {
    double err = 0;
    int n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = std::max(x_lo, s); x < std::min(x_hi, w + s); ++x) {
        const size_t ka = (size_t(y) * w + (x - s)) * 3, kb = (size_t(y) * w + x) * 3;
        for (int c = 0; c < 3; ++c) err += std::abs(int(a[ka + c]) - int(b[kb + c]));
        ++n;
      }
    err /= std::max(n, 1);
    if (s == 0) *zero_error = err;
    if (err < *best_error) *best_error = err, best = s;
  }
  return best;
}

TEST(FrameRenderer, PanShiftsTheBackground) {
  const SceneSpec spec = make_scene(Setting::CityStreet);
  const int w = 256, h = 144;
  const FrameRenderer r(spec, 9, w, h);
  // A long lens: a pan is then nearly a uniform shift across the middle of the picture.
  FrameState st = state_for(spec, wide_camera(1.36f));
  st.camera.pitch = 0;
  const auto before = render(r, st, w, h);
  const float f = 1.36f * float(h);
  st.camera.yaw = std::atan(6.0f / f);  // turn right: the world moves 6 px left at the centre
  const auto after = render(r, st, w, h);
  double best_err = 0, zero_err = 0;
  // The upper half (buildings, sky, lamps): content larger than the ground's fine texture.
  const int shift = best_shift(before, after, w, 0, h / 2, 40, &best_err, &zero_err, w / 4, 3 * w / 4);
  EXPECT_NEAR(shift, -6, 1);
  EXPECT_LT(best_err, 0.5 * zero_err);
}

TEST(FrameRenderer, OrbitShowsParallax) {
  SceneSpec spec = make_scene(Setting::Meadow);
  spec.objects = {{ObjectKind::Box, Color::Red, Size::Large}, {ObjectKind::Ball, Color::Blue, Size::Large}};
  const int w = 256, h = 144;
  const FrameRenderer r(spec, 11, w, h);
  auto orbit_state = [&](float angle) {
    FrameState st = state_for(spec, wide_camera());
    const float distance = kStageZ - st.camera.z;
    st.camera.x = -distance * std::sin(angle);
    st.camera.z = kStageZ - distance * std::cos(angle);
    st.camera.yaw = angle;
    st.entities[0].x = 0, st.entities[0].z = 2.5f;       // near the camera
    st.entities[1].x = 0, st.entities[1].z = kStageZ;    // at the pivot
    return st;
  };
  std::vector<EntityTruth> t0, t1;
  const auto a = render(r, orbit_state(0), w, h, &t0);
  const auto b = render(r, orbit_state(0.08f), w, h, &t1);
  const float near_move = std::abs(0.5f * (t1[0].x0 + t1[0].x1) - 0.5f * (t0[0].x0 + t0[0].x1));
  const float pivot_move = std::abs(0.5f * (t1[1].x0 + t1[1].x1) - 0.5f * (t0[1].x0 + t0[1].x1));
  // Far layer: the rows just above the horizon hold the hills and sky, no entity.
  const int horizon = int(project(orbit_state(0).camera, 0, 1.6f, 1000.0f, w, h).v);
  double best_err = 0, zero_err = 0;
  const int far_move = std::abs(best_shift(a, b, w, std::max(0, horizon - 12), horizon - 1, 40, &best_err, &zero_err));
  EXPECT_GT(far_move, 3);
  EXPECT_GT(near_move, 1.5f * float(far_move)) << "near " << near_move << " far " << far_move;
  EXPECT_LT(pivot_move, float(far_move)) << "the orbit's pivot stays while the background sweeps";
}

TEST(FrameRenderer, EntitiesOutOfViewAreNotVisible) {
  SceneSpec spec = make_scene(Setting::Desert);
  spec.objects = {{ObjectKind::Ball, Color::Red}, {ObjectKind::Bird, Color::Black}, {ObjectKind::Box, Color::Green}};
  spec.characters = {CharacterSpec{}};
  const FrameRenderer r(spec, 3, 128, 128);
  FrameState st = state_for(spec, wide_camera());
  st.entities[0].x = 60;    // far off to the right
  st.entities[1].z = -3;    // behind the camera
  st.entities[2].present = false;
  std::vector<EntityTruth> truth;
  render(r, st, 128, 128, &truth);
  ASSERT_EQ(truth.size(), 4u);
  EXPECT_FALSE(truth[0].visible);
  EXPECT_FALSE(truth[1].visible);
  EXPECT_FALSE(truth[2].visible);
  EXPECT_TRUE(truth[3].visible);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(truth[size_t(i)].entity, i);
  // Half out of the picture: visible, box clipped to the frame.
  st.entities[0].x = 4.6f;
  render(r, st, 128, 128, &truth);
  EXPECT_TRUE(truth[0].visible);
  EXPECT_LE(truth[0].x1, 128.0f);
  EXPECT_GT(truth[0].x1, truth[0].x0);
}

TEST(FrameRenderer, LensesChangeThePicture) {
  SceneSpec spec = make_scene(Setting::Meadow);
  spec.characters = {CharacterSpec{}};
  FrameState st = state_for(spec, wide_camera());
  std::vector<std::vector<uint8_t>> frames;
  for (Lens lens : {Lens::Standard, Lens::Portrait85mm, Lens::Wide}) {
    spec.shots[0].lens = lens;
    const FrameRenderer r(spec, 1, 128, 128);
    frames.push_back(render(r, st, 128, 128));
  }
  // 85mm blurs the background: fewer strong horizontal steps in the top rows (hills, trees).
  auto edges = [](const std::vector<uint8_t>& f) {
    long sum = 0;
    for (int y = 0; y < 50; ++y)
      for (int x = 1; x < 128; ++x) {
        const int d = std::abs(int(f[(size_t(y) * 128 + x) * 3 + 1]) - int(f[(size_t(y) * 128 + x - 1) * 3 + 1]));
        if (d > 8) sum += d;
      }
    return sum;
  };
  EXPECT_LT(edges(frames[1]), edges(frames[0]) * 3 / 4);
  if (const char* dir = std::getenv("OPSIS_RENDER_PREVIEW"))
    for (size_t i = 0; i < frames.size(); ++i) write_ppm(std::string(dir) + "/lens" + std::to_string(i) + ".ppm", frames[i], 128, 128);
  // The wide lens darkens the corners, not the centre.
  auto luma = [](const std::vector<uint8_t>& f, int x, int y) {
    const size_t k = (size_t(y) * 128 + x) * 3;
    return int(f[k]) + f[k + 1] + f[k + 2];
  };
  EXPECT_LT(luma(frames[2], 0, 127), luma(frames[0], 0, 127) * 3 / 4);
  EXPECT_NEAR(luma(frames[2], 64, 64), luma(frames[0], 64, 64), 8);
}

// Writes a gallery of PPM frames when OPSIS_RENDER_PREVIEW names a folder; always checks
// that every gallery frame has real content (not one flat colour).
TEST(FrameRenderer, Gallery) {
  const char* dir = std::getenv("OPSIS_RENDER_PREVIEW");
  const bool big = std::getenv("OPSIS_RENDER_PREVIEW_BIG") != nullptr;
  struct Case {
    const char* name;
    Setting setting;
    TimeOfDay tod;
    Weather weather;
    Lens lens;
    int framing;  // 0 wide, 1 medium, 2 close
  };
  const Case cases[] = {
      {"meadow_day", Setting::Meadow, TimeOfDay::Day, Weather::Clear, Lens::Standard, 0},
      {"meadow_golden_85", Setting::Meadow, TimeOfDay::GoldenHour, Weather::Clear, Lens::Portrait85mm, 1},
      {"beach_day_wide", Setting::Beach, TimeOfDay::Day, Weather::Clear, Lens::Wide, 0},
      {"city_night_anamorphic", Setting::CityStreet, TimeOfDay::Night, Weather::Clear, Lens::Anamorphic, 0},
      {"city_rain_day", Setting::CityStreet, TimeOfDay::Day, Weather::Rain, Lens::Standard, 0},
      {"living_room_close", Setting::LivingRoom, TimeOfDay::Day, Weather::Clear, Lens::Standard, 2},
      {"living_room_night", Setting::LivingRoom, TimeOfDay::Night, Weather::Clear, Lens::Standard, 0},
      {"forest_day_medium", Setting::Forest, TimeOfDay::Day, Weather::Clear, Lens::Standard, 1},
      {"snowfield_golden", Setting::Snowfield, TimeOfDay::GoldenHour, Weather::Clear, Lens::Standard, 0},
      {"desert_day", Setting::Desert, TimeOfDay::Day, Weather::Clear, Lens::Anamorphic, 0},
      {"night_sky", Setting::NightSky, TimeOfDay::Night, Weather::Clear, Lens::Standard, 0},
      {"beach_night_rain", Setting::Beach, TimeOfDay::Night, Weather::Rain, Lens::Standard, 0},
      {"walk_medium", Setting::Meadow, TimeOfDay::Day, Weather::Clear, Lens::Standard, 1},
      {"walk_wide_golden", Setting::Desert, TimeOfDay::GoldenHour, Weather::Clear, Lens::Standard, 0},
  };
  for (const Case& c : cases) {
    SceneSpec spec = make_scene(c.setting, c.tod, c.weather, c.lens);
    spec.objects = {{ObjectKind::Ball, Color::Red}, {ObjectKind::Box, Color::Purple}, {ObjectKind::Balloon, Color::Yellow},
                    {c.setting == Setting::CityStreet ? ObjectKind::Car : ObjectKind::Bird, Color::Blue}};
    CharacterSpec a, b;
    a.identity.accessory = Accessory::Glasses;
    a.action = Action::Talks;
    a.line = "hi";
    b.identity = {SkinTone::Dark, HairColor::Black, HairStyle::Long, Color::Orange, Accessory::Hat, "Sam"};
    b.action = Action::Waves;
    spec.characters = {a, b};
    for (const auto& [w, h] : std::vector<std::pair<int, int>>{{128, 128}, {1280, 720}}) {
      if (w > 128 && !big) continue;
      const FrameRenderer r(spec, 42, w, h);
      FrameState st = state_for(spec, c.framing == 0 ? wide_camera(c.lens == Lens::Wide ? 0.5f : c.lens == Lens::Portrait85mm ? 1.36f : 0.8f)
                                                     : shot_on_character(-1.0f, 8.8f, c.framing == 2));
      if (c.framing == 0 && c.lens == Lens::Portrait85mm) st.camera.z = kStageZ - 13.6f;
      st.entities[4].viseme = kOpen;
      st.entities[4].mouth_open = 0.7f;
      st.entities[5].arm_raise = 1;
      st.entities[5].wave_phase = 1.0f;
      st.entities[0].angle = 0.7f;
      st.entities[1].angle = 0.3f;
      st.entities[3].y = c.setting == Setting::CityStreet ? 0.0f : 2.6f;
      st.entities[3].x = c.setting == Setting::CityStreet ? 2.5f : 1.5f;
      st.entities[3].z = c.setting == Setting::CityStreet ? 6.0f : 6.8f;
      st.entities[3].wing_phase = 1.2f;
      if (std::string(c.name).rfind("walk", 0) == 0) {
        st.entities[4].side_on = true, st.entities[4].heading = -1, st.entities[4].walk_phase = 1.3f;
        st.entities[5].side_on = true, st.entities[5].heading = 1, st.entities[5].walk_phase = 4.0f;
        st.entities[5].arm_raise = 0;
        st.entities[0].squash = 0.3f;
      }
      const auto rgb = render(r, st, w, h);
      long lo = 255 * 3, hi = 0;
      for (size_t k = 0; k + 2 < rgb.size(); k += 3) {
        const long l = long(rgb[k]) + rgb[k + 1] + rgb[k + 2];
        lo = std::min(lo, l), hi = std::max(hi, l);
      }
      EXPECT_GT(hi - lo, 120) << c.name;
      if (dir) write_ppm(std::string(dir) + "/" + c.name + "_" + std::to_string(w) + ".ppm", rgb, w, h);
    }
  }
}

}  // namespace
}  // namespace opsis::studio
