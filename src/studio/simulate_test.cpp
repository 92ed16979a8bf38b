#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "core/error.hpp"
#include "studio/dialogue.hpp"
#include "studio/physics.hpp"
#include "studio/world.hpp"

namespace opsis::studio {
namespace {

SceneSpec scene(std::vector<ObjectSpec> objects, std::vector<CharacterSpec> characters = {}, double seconds = 4.0) {
  SceneSpec s;
  s.objects = std::move(objects);
  s.characters = std::move(characters);
  s.shots = {ShotSpec{}};
  s.shots[0].seconds = seconds;
  return s;
}

std::vector<Event> of_kind(const Timeline& t, EventKind kind, int entity = -100) {
  std::vector<Event> out;
  for (const auto& e : t.events)
    if (e.kind == kind && (entity == -100 || e.entity == entity)) out.push_back(e);
  return out;
}

bool same_pose(const EntityPose& a, const EntityPose& b) {
  return a.x == b.x && a.y == b.y && a.z == b.z && a.angle == b.angle && a.heading == b.heading &&
         a.squash == b.squash && a.present == b.present && a.walk_phase == b.walk_phase &&
         a.arm_raise == b.arm_raise && a.wave_phase == b.wave_phase && a.mouth_open == b.mouth_open &&
         a.viseme == b.viseme && a.wing_phase == b.wing_phase && a.vx == b.vx && a.vy == b.vy;
}

bool same_timeline(const Timeline& a, const Timeline& b) {
  if (a.frames.size() != b.frames.size() || a.events.size() != b.events.size()) return false;
  for (size_t f = 0; f < a.frames.size(); ++f) {
    const auto &ca = a.frames[f].camera, &cb = b.frames[f].camera;
    if (ca.x != cb.x || ca.y != cb.y || ca.z != cb.z || ca.yaw != cb.yaw || ca.pitch != cb.pitch || ca.focal != cb.focal)
      return false;
    for (size_t e = 0; e < a.frames[f].entities.size(); ++e)
      if (!same_pose(a.frames[f].entities[e], b.frames[f].entities[e])) return false;
  }
  for (size_t i = 0; i < a.events.size(); ++i) {
    const auto &x = a.events[i], &y = b.events[i];
    if (x.kind != y.kind || x.time != y.time || x.entity != y.entity || x.other != y.other || x.speed != y.speed ||
        x.material != y.material)
      return false;
  }
  return true;
}

SceneSpec busy_scene() {
  return scene({{ObjectKind::Ball, Color::Red, Size::Small, Motion::RollsRight},
                {ObjectKind::Box, Color::Blue, Size::Large, Motion::StaysStill},
                {ObjectKind::Ball, Color::Green, Size::Large, Motion::Bounces},
                {ObjectKind::Bird, Color::Black, Size::Small, Motion::FliesLeft}},
               {{Identity{}, Action::WalksRight, ""}, {Identity{}, Action::Jumps, ""}}, 6.0);
}

TEST(WorldSimulate, FrameCountAndTimes) {
  const Timeline t = simulate(busy_scene(), 1, 30, 48000);
  ASSERT_EQ(t.frames.size(), 180u);
  EXPECT_DOUBLE_EQ(t.frames[45].time, 1.5);
  EXPECT_EQ(t.frames[0].entities.size(), 6u);
  EXPECT_TRUE(std::is_sorted(t.events.begin(), t.events.end(), [](const Event& a, const Event& b) { return a.time < b.time; }));
  SceneSpec odd = busy_scene();
  odd.shots[0].seconds = 2.51;
  EXPECT_EQ(simulate(odd, 1, 24, 48000).frames.size(), size_t(std::lround(2.51 * 24)));
}

TEST(WorldSimulate, IsDeterministicAndTheSeedMatters) {
  const SceneSpec s = busy_scene();
  const Timeline a = simulate(s, 42, 24, 48000);
  const Timeline b = simulate(s, 42, 24, 48000);
  EXPECT_TRUE(same_timeline(a, b));
  const Timeline c = simulate(s, 43, 24, 48000);
  EXPECT_FALSE(same_timeline(a, c));
}

TEST(WorldSimulate, RejectsBadRates) {
  EXPECT_THROW(simulate(busy_scene(), 1, 0, 48000), InvalidArgument);
  EXPECT_THROW(simulate(busy_scene(), 1, 24, 100), InvalidArgument);
  SceneSpec none = busy_scene();
  none.shots.clear();
  EXPECT_THROW(simulate(none, 1, 24, 48000), InvalidArgument);
}

TEST(WorldPhysics, DroppedBallFirstImpactMatchesFreeFall) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const Timeline t = simulate(scene({{ObjectKind::Ball, Color::Red, Size::Small, Motion::Bounces}}), seed, 24, 48000);
    const float drop = t.frames[0].entities[0].y;  // bottom height at release
    ASSERT_GT(drop, 1.0f);
    const auto impacts = of_kind(t, EventKind::Impact, 0);
    ASSERT_FALSE(impacts.empty());
    EXPECT_EQ(impacts[0].other, -1);
    EXPECT_EQ(impacts[0].material, "rubber");
    const double expected = std::sqrt(2.0 * drop / physics::kGravity);
    EXPECT_NEAR(impacts[0].time, expected, physics::kSubstep);
    EXPECT_NEAR(impacts[0].speed, physics::kGravity * expected, 0.02);
  }
}

TEST(WorldPhysics, BounceSpeedsDecayWithRestitution) {
  const ObjectSpec ball{ObjectKind::Ball, Color::Red, Size::Small, Motion::Bounces};
  const Timeline t = simulate(scene({ball}, {}, 6.0), 7, 24, 48000);
  const auto impacts = of_kind(t, EventKind::Impact, 0);
  ASSERT_GE(impacts.size(), 5u);
  const float e = geometry(ball).restitution;
  for (size_t i = 1; i < impacts.size(); ++i) {
    EXPECT_LT(impacts[i].speed, impacts[i - 1].speed);
    EXPECT_NEAR(impacts[i].speed / impacts[i - 1].speed, e, 0.02) << "bounce " << i;
  }
  // and it comes to rest: the last frames are on the ground and still
  const EntityPose& last = t.frames.back().entities[0];
  EXPECT_NEAR(last.y, 0.0f, 1e-4);
  EXPECT_TRUE(last.on_ground);
}

TEST(WorldPhysics, CollisionConservesMomentum) {
  // two free bodies (no gravity), an oblique hit between different masses and shapes
  for (auto shape_b : {physics::Shape::Circle, physics::Shape::Box}) {
    physics::Body a, b;
    a.mass = 0.45f, a.half_width = a.half_height = 0.2f, a.x = -1, a.y = 3.0f, a.vx = 3, a.vy = 0.2f, a.restitution = 0.8f;
    b.shape = shape_b, b.mass = 1.2f, b.half_width = b.half_height = 0.45f, b.x = 1, b.y = 3.2f, b.vx = -2, b.restitution = 0.7f;
    a.confined = b.confined = false;
    physics::World world({a, b}, 0.0f);
    const float px0 = a.mass * a.vx + b.mass * b.vx, py0 = a.mass * a.vy + b.mass * b.vy;
    std::vector<physics::Contact> contacts;
    for (int i = 0; i < 480 && contacts.empty(); ++i) world.step(physics::kSubstep, contacts);
    ASSERT_EQ(contacts.size(), 1u);
    EXPECT_EQ(contacts[0].other, 1);
    const auto& A = world.bodies()[0];
    const auto& B = world.bodies()[1];
    EXPECT_LT(A.vx, 0) << "the light body bounces back";
    EXPECT_NEAR(A.mass * A.vx + B.mass * B.vx, px0, 1e-4);
    EXPECT_NEAR(A.mass * A.vy + B.mass * B.vy, py0, 1e-4);
    // kinetic energy does not grow
    const float ke0 = 0.5f * (a.mass * (a.vx * a.vx + a.vy * a.vy) + b.mass * (b.vx * b.vx + b.vy * b.vy));
    const float ke1 = 0.5f * (A.mass * (A.vx * A.vx + A.vy * A.vy) + B.mass * (B.vx * B.vx + B.vy * B.vy));
    EXPECT_LT(ke1, ke0);
  }
}

TEST(WorldPhysics, BallsRollingTowardsEachOtherPassInTheirOwnLanes) {
  // a small ball rolling right and a large ball rolling left: each has a lane of its own (one
  // behind the other, apart by more than their radii), so neither turns the other round; on
  // asphalt they roll far enough to pass each other
  SceneSpec s = scene({{ObjectKind::Ball, Color::Red, Size::Small, Motion::RollsRight},
                       {ObjectKind::Ball, Color::Blue, Size::Large, Motion::RollsLeft}});
  s.setting = Setting::CityStreet;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const Timeline t = simulate(s, seed, 60, 48000);
    for (const auto& e : t.events) EXPECT_FALSE(e.kind == EventKind::Impact && e.other >= 0) << "seed " << seed;
    const auto& first = t.frames.front().entities;
    const auto& last = t.frames.back().entities;
    EXPECT_GE(std::fabs(first[0].z - first[1].z), (geometry(s.objects[0]).width + geometry(s.objects[1]).width) / 2);
    EXPECT_LT(first[0].x, 0) << "the right-roller starts on the left";
    EXPECT_GT(first[1].x, 0) << "the left-roller starts on the right";
    EXPECT_GT(last[0].x, last[1].x) << "they pass each other";
    for (const auto& frame : t.frames) {
      EXPECT_GE(frame.entities[0].vx, 0.0f);
      EXPECT_LE(frame.entities[1].vx, 0.0f);
    }
  }
}

TEST(WorldPhysics, NothingPassesThroughTheGroundTheWallsOrEachOther) {
  const std::vector<SceneSpec> scenes = {
      scene({{ObjectKind::Ball, Color::Red, Size::Large, Motion::FliesRight},
             {ObjectKind::Ball, Color::Green, Size::Small, Motion::Falls},
             {ObjectKind::Box, Color::Blue, Size::Small, Motion::FliesLeft},
             {ObjectKind::Ball, Color::Yellow, Size::Small, Motion::RollsLeft}}, {}, 10.0),
      scene({{ObjectKind::Box, Color::Red, Size::Large, Motion::Falls},
             {ObjectKind::Ball, Color::Green, Size::Small, Motion::RollsRight},
             {ObjectKind::Balloon, Color::Blue, Size::Small, Motion::RollsLeft},
             {ObjectKind::Ball, Color::Yellow, Size::Large, Motion::Bounces}}, {}, 10.0)};
  for (SceneSpec s : scenes) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      s.setting = seed % 2 ? Setting::LivingRoom : Setting::Meadow;  // walls only in the room
      const Timeline t = simulate(s, seed, 24, 48000);
      for (const auto& frame : t.frames) {
        for (size_t i = 0; i < s.objects.size(); ++i) {
          const EntityPose& p = frame.entities[i];
          const Geometry g = geometry(s.objects[i]);
          const bool centred = s.objects[i].kind == ObjectKind::Balloon;
          const float bottom = centred ? p.y - g.width / 2 : p.y;
          EXPECT_GE(bottom, -1e-3f) << "object " << i << " at t=" << frame.time;
          if (s.setting == Setting::LivingRoom) {
            EXPECT_LE(std::fabs(p.x) + g.width / 2, kRoomHalfWidth + 1e-3f) << "object " << i << " at t=" << frame.time;
          }
        }
        // balls in one lane never overlap by more than a couple of centimetres
        for (size_t i = 0; i < s.objects.size(); ++i)
          for (size_t j = i + 1; j < s.objects.size(); ++j) {
            if (s.objects[i].kind != ObjectKind::Ball || s.objects[j].kind != ObjectKind::Ball) continue;
            const EntityPose &a = frame.entities[i], &b = frame.entities[j];
            if (a.z != b.z) continue;
            const float ra = geometry(s.objects[i]).width / 2, rb = geometry(s.objects[j]).width / 2;
            const float d = std::hypot(a.x - b.x, (a.y + ra) - (b.y + rb));
            EXPECT_GE(d, ra + rb - 0.02f) << "balls " << i << "," << j << " at t=" << frame.time;
          }
      }
    }
  }
}

TEST(WorldPhysics, ABallThrownAtAWallBouncesOffIt) {
  // the physics' walls (the living room's, where simulate() confines things) at x = +-7
  physics::Body ball;
  ball.restitution = 0.78f, ball.x = 5.0f, ball.y = 1.0f, ball.vx = 4.0f, ball.vy = 2.0f;
  physics::World world({ball}, physics::kGravity, kRoomHalfWidth);
  std::vector<physics::Contact> contacts;
  const physics::Contact* wall = nullptr;
  float vx_before = 0;
  for (int i = 0; i < 480 && !wall; ++i) {
    vx_before = world.bodies()[0].vx;
    world.step(physics::kSubstep, contacts);
    for (const auto& c : contacts)
      if (c.other == -2) wall = &c;
  }
  ASSERT_NE(wall, nullptr);
  EXPECT_NEAR(wall->speed, vx_before, 1e-3);
  EXPECT_NEAR(-world.bodies()[0].vx / wall->speed, ball.restitution, 1e-3);
  EXPECT_LE(world.bodies()[0].x + ball.half_width, kRoomHalfWidth + 1e-4f);
  // an unconfined body (a bird's or balloon's, or anything outdoors) meets no wall
  ball.confined = false;
  physics::World open({ball}, physics::kGravity, kRoomHalfWidth);
  contacts.clear();
  for (int i = 0; i < 480; ++i) open.step(physics::kSubstep, contacts);
  for (const auto& c : contacts) EXPECT_NE(c.other, -2);
  EXPECT_GT(open.bodies()[0].x, kRoomHalfWidth);
}

TEST(WorldPhysics, ACrateFallingOnABalloonOnTheGroundStopsOnIt) {
  // the ground holds the light balloon, so the crate lands on it (one impact) instead of
  // pushing it into the ground and tunnelling through it substep after substep
  physics::Body balloon, crate;
  balloon.mass = 0.01f, balloon.restitution = 0.6f, balloon.x = 0, balloon.y = 0.2f, balloon.on_ground = true;
  crate.shape = physics::Shape::Box, crate.half_width = crate.half_height = 0.4f, crate.mass = 20;
  crate.restitution = 0.2f, crate.x = 0.05f, crate.y = 4.0f, crate.half_depth = 0.4f;
  physics::World world({balloon, crate});
  std::vector<physics::Contact> contacts;
  for (int i = 0; i < 960; ++i) world.step(physics::kSubstep, contacts);
  int pair_contacts = 0;
  for (const auto& c : contacts) pair_contacts += c.other >= 0;
  EXPECT_GE(pair_contacts, 1);
  EXPECT_LE(pair_contacts, 3);
  const auto& b = world.bodies()[0];
  const auto& c = world.bodies()[1];
  EXPECT_NEAR(b.y, 0.2f, 1e-3);
  EXPECT_GE(c.bottom(), b.y + 0.2f - 0.02f) << "the crate sank into the balloon";
}

TEST(WorldPhysics, RandomScenesStayFiniteInsideAndApart) {
  // every kind with every motion, crowded: poses stay finite, things stay above the ground and
  // (in the living room) inside its walls, and nothing sinks deep into anything else
  uint64_t state = 12345;
  auto pick = [&](int n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return int((state >> 33) % uint64_t(n));
  };
  for (int trial = 0; trial < 150; ++trial) {
    SceneSpec s = scene({}, {}, 6.0);
    s.setting = Setting(pick(8));
    const int n = 1 + pick(4);
    for (int i = 0; i < n; ++i)
      s.objects.push_back({ObjectKind(pick(5)), Color(pick(8)), Size(pick(2)), Motion(pick(9))});
    if (pick(2)) s.characters.push_back({Identity{}, Action(pick(5)), ""});
    const Timeline t = simulate(s, uint64_t(trial), 24, 48000);
    double last_time = -1;
    for (const auto& e : t.events) {
      ASSERT_TRUE(std::isfinite(e.time) && std::isfinite(e.speed));
      EXPECT_GE(e.time, last_time);
      EXPECT_LT(e.time, s.seconds());
      if (e.kind == EventKind::Impact) {
        EXPECT_LT(e.speed, 40.0f);
      }
      last_time = e.time;
    }
    for (const auto& frame : t.frames) {
      for (size_t i = 0; i < frame.entities.size(); ++i) {
        const EntityPose& p = frame.entities[i];
        ASSERT_TRUE(std::isfinite(p.x) && std::isfinite(p.y) && std::isfinite(p.angle) && std::isfinite(p.vx))
            << "trial " << trial << " entity " << i;
        if (i >= s.objects.size() || !p.present) continue;
        const ObjectSpec& o = s.objects[i];
        const Geometry g = geometry(o);
        // balloons: y is the centre of the round part (diameter = width); birds: of the body
        const float bottom = o.kind == ObjectKind::Balloon ? p.y - g.width / 2
                             : o.kind == ObjectKind::Bird  ? p.y - g.height / 2
                                                           : p.y;
        EXPECT_GE(bottom, -0.01f) << "trial " << trial << " entity " << i;
        if ((o.kind == ObjectKind::Ball || o.kind == ObjectKind::Box) && s.setting == Setting::LivingRoom) {
          EXPECT_LE(std::fabs(p.x) + g.width / 2, kRoomHalfWidth + 1e-3f) << "trial " << trial << " entity " << i;
        }
      }
      for (size_t i = 0; i < s.objects.size(); ++i)
        for (size_t j = i + 1; j < s.objects.size(); ++j) {
          const ObjectSpec &a = s.objects[i], &b = s.objects[j];
          if (a.kind != ObjectKind::Ball || b.kind != ObjectKind::Ball) continue;
          const EntityPose &pa = frame.entities[i], &pb = frame.entities[j];
          if (pa.z != pb.z) continue;
          const float ra = geometry(a).width / 2, rb = geometry(b).width / 2;
          EXPECT_GE(std::hypot(pa.x - pb.x, pa.y + ra - pb.y - rb), ra + rb - 0.05f)
              << "trial " << trial << " balls " << i << "," << j << " at t=" << frame.time;
        }
    }
  }
}

TEST(WorldPhysics, BodiesInSeparateLanesPassEachOther) {
  physics::Body a, b;
  a.x = -1, a.y = 2, a.vx = 2, a.z = 7.5f;
  b.x = 1, b.y = 2, b.vx = -2, b.z = 8.5f;
  a.half_depth = b.half_depth = 0.45f;
  physics::World world({a, b}, 0.0f);
  std::vector<physics::Contact> contacts;
  for (int i = 0; i < 480; ++i) world.step(physics::kSubstep, contacts);
  EXPECT_TRUE(contacts.empty());
  EXPECT_GT(world.bodies()[0].x, 0.5f);
  // the same bodies in overlapping lanes meet
  b.z = 7.9f;
  physics::World same_lane({a, b}, 0.0f);
  for (int i = 0; i < 480; ++i) same_lane.step(physics::kSubstep, contacts);
  EXPECT_EQ(contacts.size(), 1u);
}

TEST(WorldPhysics, TheFrameRateDoesNotChangeThePhysics) {
  const SceneSpec s = busy_scene();
  auto impacts = [&](int fps) {
    std::vector<std::pair<double, float>> out;
    for (const auto& e : simulate(s, 11, fps, 48000).events)
      if (e.kind == EventKind::Impact) out.push_back({e.time, e.speed});
    return out;
  };
  const auto at24 = impacts(24);
  EXPECT_FALSE(at24.empty());
  EXPECT_EQ(at24, impacts(60));
}

TEST(WorldPhysics, RollingBallSlowsDownAndTurns) {
  const Timeline t = simulate(scene({{ObjectKind::Ball, Color::Red, Size::Small, Motion::RollsRight}}, {}, 2.0), 3, 24, 48000);
  const auto& first = t.frames[1].entities[0];
  const auto& later = t.frames[30].entities[0];
  EXPECT_GT(first.vx, later.vx);
  EXPECT_GT(later.vx, 0);
  // rolling without slipping: angle = -distance / radius
  EXPECT_NEAR(later.angle - first.angle, -(later.x - first.x) / 0.2f, 1e-2);
}

TEST(WorldCharacters, WalkerFootstepsAreEvenlySpaced) {
  SceneSpec s = scene({}, {{Identity{}, Action::WalksRight, ""}}, 5.0);
  s.setting = Setting::Beach;
  const Timeline t = simulate(s, 9, 24, 48000);
  const auto steps = of_kind(t, EventKind::Footstep, 0);
  ASSERT_GE(steps.size(), 5u);
  const double interval = steps[1].time - steps[0].time;
  EXPECT_GT(interval, 0.3);
  EXPECT_LT(interval, 1.0);
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_NEAR(steps[i].time - steps[i - 1].time, interval, 1e-9);
  EXPECT_EQ(steps[0].material, "sand");
  // it moves right, seen side-on, legs in phase with the steps
  EXPECT_GT(t.frames.back().entities[0].x, t.frames[0].entities[0].x);
  EXPECT_TRUE(t.frames[10].entities[0].side_on);
  const auto& mid = t.frames[size_t(std::lround(steps[2].time * 24))].entities[0];
  const double steps_walked = mid.walk_phase / std::numbers::pi;  // a footstep at each pi
  EXPECT_NEAR(steps_walked, 3.0, 0.2);
}

TEST(WorldCharacters, JumperLandsWithFootsteps) {
  const Timeline t = simulate(scene({}, {{Identity{}, Action::Jumps, ""}}, 4.0), 2, 48, 48000);
  const auto landings = of_kind(t, EventKind::Footstep, 0);
  ASSERT_GE(landings.size(), 2u);
  float highest = 0;
  for (const auto& f : t.frames) highest = std::max(highest, f.entities[0].y);
  EXPECT_GT(highest, 0.3f);
  const auto& at_landing = t.frames[size_t(std::lround(landings[0].time * 48))].entities[0];
  EXPECT_LT(at_landing.y, 0.05f);
}

TEST(WorldCharacters, WaverRaisesAnArm) {
  const Timeline t = simulate(scene({}, {{Identity{}, Action::Waves, ""}}, 2.0), 2, 24, 48000);
  EXPECT_EQ(t.frames[0].entities[0].arm_raise, 0.0f);
  EXPECT_GT(t.frames[30].entities[0].arm_raise, 0.99f);
  EXPECT_NE(t.frames[30].entities[0].wave_phase, t.frames[31].entities[0].wave_phase);
}

TEST(WorldCharacters, MouthFollowsThePhonemes) {
  CharacterSpec talker{Identity{}, Action::Talks, "Hello, my name is Bob and I am happy."};
  const int fps = 60;
  const Timeline t = simulate(scene({}, {talker}, 5.0), 1, fps, 16000);
  ASSERT_EQ(t.speech.size(), 1u);
  EXPECT_DOUBLE_EQ(t.speech[0].start, 0.3);
  EXPECT_EQ(t.speech[0].entity, 0);
  EXPECT_GT(t.speech[0].pcm.samples.size(), 8000u);
  const auto phonemes = of_kind(t, EventKind::Phoneme, 0);
  ASSERT_GT(phonemes.size(), 10u);
  EXPECT_GE(phonemes[0].time, 0.3);
  double open_sum = 0, closed_sum = 0;
  int open_n = 0, closed_n = 0, checked = 0;
  for (const auto& ph : phonemes) {
    const int f = int(std::lround((ph.time + ph.duration / 2) * fps));  // the frame at its middle
    const double ft = double(f) / fps;
    if (ft < ph.time || ft >= ph.time + ph.duration) continue;
    const EntityPose& pose = t.frames[size_t(f)].entities[0];
    EXPECT_EQ(pose.viseme, viseme_of(ph.phoneme)) << ph.phoneme << " at " << ft;
    ++checked;
    const int v = viseme_of(ph.phoneme);
    if (v == kOpen || v == kWide) open_sum += pose.mouth_open, ++open_n;
    if (v == kLipsClosed) closed_sum += pose.mouth_open, ++closed_n;
  }
  EXPECT_GT(checked, 8);
  ASSERT_GT(open_n, 0);
  ASSERT_GT(closed_n, 0);  // the m, b and p of the line
  EXPECT_GT(open_sum / open_n, closed_sum / closed_n + 0.2);
  // before the line begins the mouth is shut, and the talker faces the camera
  EXPECT_EQ(t.frames[3].entities[0].mouth_open, 0.0f);
  EXPECT_FALSE(t.frames[30].entities[0].side_on);
}

TEST(WorldCharacters, TwoTalkersTakeTurns) {
  const Timeline t = simulate(scene({}, {{Identity{}, Action::Talks, "Hi there."}, {Identity{}, Action::Talks, "Hello."}}, 6.0),
                              1, 24, 16000);
  ASSERT_EQ(t.speech.size(), 2u);
  EXPECT_GT(t.speech[1].start, t.speech[0].start + t.speech[0].pcm.seconds());
}

// --- camera

SceneSpec camera_scene(CameraMove move, Framing framing, CameraSpeed speed = CameraSpeed::Slow) {
  SceneSpec s = scene({{ObjectKind::Box, Color::Red, Size::Small, Motion::StaysStill}}, {{Identity{}, Action::Stands, ""}}, 3.0);
  s.shots[0].camera = move;
  s.shots[0].framing = framing;
  s.shots[0].speed = speed;
  return s;
}

constexpr int kW = 128, kH = 128;

TEST(WorldCamera, PanRightTurnsRightAndTiltUpLooksUp) {
  const Timeline pan = simulate(camera_scene(CameraMove::PanRight, Framing::Wide), 1, 24, 48000);
  EXPECT_GT(pan.frames.back().camera.yaw, pan.frames.front().camera.yaw + 0.2f);
  const Timeline fast = simulate(camera_scene(CameraMove::PanRight, Framing::Wide, CameraSpeed::Fast), 1, 24, 48000);
  EXPECT_NEAR(fast.frames.back().camera.yaw - fast.frames.front().camera.yaw,
              2 * (pan.frames.back().camera.yaw - pan.frames.front().camera.yaw), 1e-3);
  const Timeline pan_left = simulate(camera_scene(CameraMove::PanLeft, Framing::Wide), 1, 24, 48000);
  EXPECT_LT(pan_left.frames.back().camera.yaw, pan_left.frames.front().camera.yaw);
  const Timeline tilt = simulate(camera_scene(CameraMove::TiltUp, Framing::Medium), 1, 24, 48000);
  EXPECT_GT(tilt.frames.back().camera.pitch, tilt.frames.front().camera.pitch);
}

TEST(WorldCamera, DollyInEndsCloser) {
  const Timeline t = simulate(camera_scene(CameraMove::DollyIn, Framing::Medium), 1, 24, 48000);
  auto distance = [&](const FrameState& f) {
    const EntityPose& p = f.entities[1];
    return std::hypot(f.camera.x - p.x, f.camera.z - p.z);
  };
  EXPECT_LT(distance(t.frames.back()), 0.85 * distance(t.frames.front()));
  const Timeline out = simulate(camera_scene(CameraMove::DollyOut, Framing::Wide), 1, 24, 48000);
  EXPECT_LT(out.frames.back().camera.z, out.frames.front().camera.z);
}

TEST(WorldCamera, FramingsShowTheSubjectAtTheirScale) {
  // wide: the stage is ~10 m across the frame; medium: a person from the waist up;
  // close-up: the face
  const Timeline wide = simulate(camera_scene(CameraMove::Static, Framing::Wide), 1, 24, 48000);
  const FrameState& w = wide.frames[0];
  const Projected left = project(w.camera, -kStageHalfWidth, 0, kStageZ, kW, kH);
  const Projected right = project(w.camera, kStageHalfWidth, 0, kStageZ, kW, kH);
  EXPECT_NEAR(right.u - left.u, kW, 0.15 * kW);
  const Timeline medium = simulate(camera_scene(CameraMove::Static, Framing::Medium), 1, 24, 48000);
  const FrameState& m = medium.frames[0];
  const EntityPose& person = m.entities[1];
  const Projected head = project(m.camera, person.x, person.y + 1.7f, person.z, kW, kH);
  const Projected waist = project(m.camera, person.x, person.y + 0.95f, person.z, kW, kH);
  EXPECT_GT(head.v, 0);
  EXPECT_LT(waist.v, kH);
  EXPECT_GT(waist.v - head.v, 0.4 * kH);
  EXPECT_NEAR(head.u, kW / 2, 2);
  const Timeline close = simulate(camera_scene(CameraMove::Static, Framing::CloseUp), 1, 24, 48000);
  const FrameState& c = close.frames[0];
  const Projected face = project(c.camera, c.entities[1].x, 1.56f, c.entities[1].z, kW, kH);
  EXPECT_NEAR(face.u, kW / 2, 2);
  EXPECT_NEAR(face.v, kH / 2, 8);
  EXPECT_GT(0.25f * face.pixels_per_metre, 0.35f * kH);  // a ~25 cm face fills about half the frame
}

TEST(WorldCamera, OrbitKeepsTheSubjectCentredWithParallax) {
  for (auto move : {CameraMove::OrbitLeft, CameraMove::OrbitRight}) {
    const Timeline t = simulate(camera_scene(move, Framing::Medium), 1, 24, 48000);
    float min_shift = 1e9f, max_shift = -1e9f;
    for (const auto& f : t.frames) {
      const EntityPose& p = f.entities[1];
      const Projected chest = project(f.camera, p.x, p.y + 0.72f * 1.7f, p.z, kW, kH);
      ASSERT_TRUE(chest.in_front);
      EXPECT_NEAR(chest.u, kW / 2, 0.05 * kW);
      EXPECT_NEAR(chest.v, kH / 2, 0.05 * kH);
      // a point of the background 20 m behind moves against the subject
      const Projected far = project(f.camera, p.x, p.y + 1.2f, p.z + 20, kW, kH);
      min_shift = std::min(min_shift, far.u - chest.u);
      max_shift = std::max(max_shift, far.u - chest.u);
    }
    EXPECT_GT(max_shift - min_shift, 0.3 * kW) << "no parallax";
    const float dx = t.frames.back().camera.x - t.frames.front().camera.x;
    if (move == CameraMove::OrbitLeft) {
      EXPECT_LT(dx, 0);
    } else {
      EXPECT_GT(dx, 0);
    }
  }
}

TEST(WorldCamera, DollyZoomKeepsTheSubjectSizeWhileTheBackgroundGrows) {
  for (auto framing : {Framing::Wide, Framing::Medium}) {
    const Timeline t = simulate(camera_scene(CameraMove::DollyZoom, framing, CameraSpeed::Fast), 1, 24, 48000);
    const FrameState &a = t.frames.front(), &b = t.frames.back();
    const float subject_z = framing == Framing::Wide ? kStageZ : a.entities[1].z;
    const float subject_x = framing == Framing::Wide ? 0.0f : a.entities[1].x;
    const Projected sa = project(a.camera, subject_x, 1.0f, subject_z, kW, kH);
    const Projected sb = project(b.camera, subject_x, 1.0f, subject_z, kW, kH);
    EXPECT_NEAR(sb.pixels_per_metre / sa.pixels_per_metre, 1.0, 0.1);
    const Projected ba = project(a.camera, subject_x, 1.0f, subject_z + 30, kW, kH);
    const Projected bb = project(b.camera, subject_x, 1.0f, subject_z + 30, kW, kH);
    EXPECT_LT(bb.pixels_per_metre / ba.pixels_per_metre, 0.7) << "the background should change scale";
  }
}

TEST(WorldCamera, AFallingThingDropsIntoTheFrameFromAbove) {
  // a crate settles in view; a rubber ball keeps bouncing but comes into view
  for (auto kind : {ObjectKind::Box, ObjectKind::Ball})
    for (auto framing : {Framing::Wide, Framing::Medium, Framing::CloseUp}) {
      SceneSpec s = scene({{kind, Color::Red, Size::Small, Motion::Falls}}, {}, 4.0);
      s.shots[0].framing = framing;
      const Timeline t = simulate(s, 1, 24, 48000);
      auto centre_v = [&](const FrameState& f) {
        const EntityPose& p = f.entities[0];
        return project(f.camera, p.x, p.y + 0.2f, p.z, kW, kH).v;
      };
      EXPECT_LT(centre_v(t.frames.front()), 0.0f) << "starts above the frame top, framing " << int(framing);
      int in_view = 0;
      for (const auto& f : t.frames) in_view += centre_v(f) > 0 && centre_v(f) < kH;
      EXPECT_GT(in_view, 5);
      if (kind == ObjectKind::Box) {
        EXPECT_GT(centre_v(t.frames.back()), 0.0f);
        EXPECT_LT(centre_v(t.frames.back()), float(kH));
        EXPECT_TRUE(t.frames.back().entities[0].on_ground);
      }
    }
}

TEST(WorldCamera, ShotsCutAndLensesChangeTheFocal) {
  SceneSpec s = camera_scene(CameraMove::Static, Framing::Wide);
  s.shots = {ShotSpec{CameraMove::Static, CameraSpeed::Slow, Framing::Wide, Lens::Standard, 1.5},
             ShotSpec{CameraMove::PanLeft, CameraSpeed::Slow, Framing::CloseUp, Lens::Portrait85mm, 1.0},
             ShotSpec{CameraMove::Static, CameraSpeed::Slow, Framing::Wide, Lens::Wide, 1.0}};
  const Timeline t = simulate(s, 1, 24, 48000);
  const auto cuts = of_kind(t, EventKind::Cut);
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_DOUBLE_EQ(cuts[0].time, 1.5);
  EXPECT_EQ(cuts[0].shot, 1);
  EXPECT_DOUBLE_EQ(cuts[1].time, 2.5);
  EXPECT_EQ(cuts[1].shot, 2);
  EXPECT_EQ(t.frames[35].camera.shot, 0);
  EXPECT_EQ(t.frames[36].camera.shot, 1);
  EXPECT_EQ(t.frames[60].camera.shot, 2);
  EXPECT_GT(t.frames[40].camera.focal, t.frames[0].camera.focal);
  EXPECT_LT(t.frames[70].camera.focal, t.frames[0].camera.focal);
  // the wide lens stands nearer the stage to frame the same width
  EXPECT_GT(t.frames[70].camera.z, t.frames[0].camera.z);
}

// --- kinds

TEST(WorldKinds, BirdsFlapAndChirp) {
  const Timeline t = simulate(scene({{ObjectKind::Bird, Color::Black, Size::Small, Motion::FliesRight}}, {}, 4.0), 1, 24, 48000);
  const auto flaps = of_kind(t, EventKind::WingFlap, 0);
  ASSERT_GE(flaps.size(), 10u);
  EXPECT_GT(t.frames.back().entities[0].x, t.frames.front().entities[0].x);
  EXPECT_GT(t.frames[10].entities[0].y, 2.0f);
  SceneSpec perched = scene({{ObjectKind::Bird, Color::Black, Size::Small, Motion::StaysStill}}, {}, 20.0);
  const Timeline p = simulate(perched, 1, 24, 48000);
  EXPECT_TRUE(of_kind(p, EventKind::WingFlap).empty());
  EXPECT_FALSE(of_kind(p, EventKind::Chirp).empty());
}

TEST(WorldKinds, BalloonFloatsUpAndLeaves) {
  const Timeline t = simulate(scene({{ObjectKind::Balloon, Color::Red, Size::Small, Motion::FloatsUp}}, {}, 20.0), 1, 24, 48000);
  EXPECT_GT(t.frames[48].entities[0].y, t.frames[0].entities[0].y + 0.5f);
  EXPECT_FALSE(t.frames.back().entities[0].present);
}

TEST(WorldKinds, CarDrivesOnOutOfThePicture) {
  // no wrap-around and no invisible wall: it keeps driving right, past the widest frame
  const Timeline t = simulate(scene({{ObjectKind::Car, Color::Red, Size::Large, Motion::RollsRight}}, {}, 8.0), 1, 24, 48000);
  for (size_t f = 1; f < 48; ++f) EXPECT_GT(t.frames[f].entities[0].vx, 2.9f);
  EXPECT_EQ(t.frames[20].entities[0].heading, 1.0f);
  for (size_t f = 1; f < t.frames.size(); ++f) EXPECT_GT(t.frames[f].entities[0].x, t.frames[f - 1].entities[0].x);
  EXPECT_GT(t.frames.back().entities[0].x, 20.0f);
  EXPECT_TRUE(t.frames.back().entities[0].present);
}

TEST(WorldSpeed, SimulateIsASmallPartOfAFrame) {
  SceneSpec s = scene({{ObjectKind::Ball, Color::Red, Size::Small, Motion::RollsRight},
                       {ObjectKind::Box, Color::Blue, Size::Large, Motion::Falls},
                       {ObjectKind::Ball, Color::Green, Size::Large, Motion::Bounces},
                       {ObjectKind::Bird, Color::Black, Size::Small, Motion::FliesLeft}},
                      {{Identity{}, Action::WalksRight, ""}, {Identity{}, Action::Waves, ""}}, 10.0);
  s.shots = {ShotSpec{CameraMove::OrbitLeft, CameraSpeed::Slow, Framing::Medium, Lens::Standard, 10.0}};
  const int runs = 20;
  const auto start = std::chrono::steady_clock::now();
  size_t frames = 0;
  for (int i = 0; i < runs; ++i) frames += simulate(s, uint64_t(i), 24, 48000).frames.size();
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  const double per_frame = us / double(frames);
  std::printf("simulate: %.2f us per frame (4 objects, 2 characters, 24 fps)\n", per_frame);
  EXPECT_LT(per_frame, 200.0);  // target well under 50; generous for a loaded CI machine
}

}  // namespace
}  // namespace opsis::studio
