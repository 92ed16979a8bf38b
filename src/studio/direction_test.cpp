// An object asked to move left or right ends every clip displaced that way (issue 15): no
// invisible walls send it back, nothing it meets turns it round, and the only walls are the
// living room's, which are drawn.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

#include "studio/world.hpp"

namespace opsis::studio {
namespace {

float asked_direction(Motion m) {
  if (m == Motion::RollsRight || m == Motion::FliesRight) return 1;
  if (m == Motion::RollsLeft || m == Motion::FliesLeft) return -1;
  return 0;
}

// A small deterministic generator (the same numbers everywhere).
struct Pick {
  uint64_t state;
  int operator()(int n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return int((state >> 33) % uint64_t(n));
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * double((*this)(1 << 20)) / double(1 << 20); }
};

// Random specs like the trainer's (train/scenes.cpp: 0-2 objects, a character, one shot of
// any camera move) when `training_like`; otherwise crowded ones (1-4 objects, at least one
// asked to move sideways, up to two characters) that stress collisions.
SceneSpec random_spec(Pick& pick, bool training_like, Framing framing) {
  SceneSpec s;
  s.setting = Setting(pick(8));
  s.time_of_day = TimeOfDay(pick(3));
  const int n = training_like ? pick(3) : 1 + pick(4);
  for (int i = 0; i < n; ++i) s.objects.push_back({ObjectKind(pick(5)), Color(pick(8)), Size(pick(2)), Motion(pick(9))});
  if (!training_like) {
    const Motion sideways[] = {Motion::RollsLeft, Motion::RollsRight, Motion::FliesLeft, Motion::FliesRight};
    s.objects[size_t(pick(n))].motion = sideways[pick(4)];
  }
  const int characters = training_like ? (n == 0 || pick(100) < 35 ? 1 : 0) : pick(3);
  for (int c = 0; c < characters; ++c) {
    CharacterSpec character;
    character.action = Action(pick(5));  // not Talks: speech is not what this measures
    character.identity.name = c == 0 ? "Mia" : "Sam";
    s.characters.push_back(character);
  }
  ShotSpec& shot = s.shots[0];
  shot.camera = pick(10) < 3 ? CameraMove::Static : CameraMove(pick(10));
  shot.speed = CameraSpeed(pick(2));
  shot.framing = framing;
  shot.lens = pick(10) < 6 ? Lens::Standard : Lens(pick(4));
  shot.seconds = pick(10) == 0 ? pick.uniform(10.0, kMaxSeconds) : pick.uniform(1.0, 10.0);
  return s;
}

struct Tally {
  int clips = 0;          // clips with at least one object asked to move sideways
  int objects = 0;        // such objects
  int contradicted = 0;   // ... whose net displacement is not the asked way (or under 10 cm)
  int wrong_way = 0;      // ... whose net displacement is the opposite way
  int clips_contradicted = 0;
  int turned_back = 0;    // ... that moved against the asked way at some frame
  int invisible_walls = 0;  // wall impacts outside the living room
  float deepest = 0;        // largest z + half depth of any object's lane
};

// Net displacement and turning back of every sideways object, from the simulation truth.
void measure(const SceneSpec& s, uint64_t seed, Tally& tally, std::string* first_failure) {
  const Timeline t = simulate(s, seed, 12, 16000);
  bool any = false, clip_contradicted = false;
  for (size_t i = 0; i < s.objects.size(); ++i) {
    const float dir = asked_direction(s.objects[i].motion);
    if (dir == 0) continue;
    any = true;
    ++tally.objects;
    const float net = t.frames.back().entities[i].x - t.frames.front().entities[i].x;
    bool back = false;
    for (const FrameState& f : t.frames) back |= dir * f.entities[i].vx < -0.05f;
    // the living room's walls are real and drawn: a balloon blown against one, or a car driven
    // into one (or into a car stopped there), may rebound a little; nothing else turns back
    const bool pressed_to_a_wall = s.setting == Setting::LivingRoom &&
                                   (s.objects[i].kind == ObjectKind::Balloon || s.objects[i].kind == ObjectKind::Car);
    back &= !pressed_to_a_wall;
    tally.turned_back += back;
    const bool contradicted = !(dir * net > 0.1f);
    tally.contradicted += contradicted;
    tally.wrong_way += dir * net < 0;
    clip_contradicted |= contradicted;
    if ((contradicted || back) && first_failure && first_failure->empty()) {
      std::ostringstream why;
      why << "seed " << seed << ": " << name(s.objects[i].kind) << " " << name(s.objects[i].motion) << " in the "
          << name(s.setting) << ", " << s.seconds() << " s, net " << net << " m, " << (back ? "turns back, " : "")
          << s.objects.size() << " objects:";
      for (const ObjectSpec& o : s.objects) why << " " << name(o.size) << " " << name(o.kind) << " " << name(o.motion) << ",";
      *first_failure = why.str();
    }
  }
  for (const Event& e : t.events)
    if (e.kind == EventKind::Impact && e.other == -2 && s.setting != Setting::LivingRoom) ++tally.invisible_walls;
  for (size_t i = 0; i < s.objects.size(); ++i) {
    const float half = s.objects[i].kind == ObjectKind::Car ? 0.45f : geometry(s.objects[i]).width / 2;
    tally.deepest = std::max(tally.deepest, t.frames.front().entities[i].z + half);
  }
  tally.clips += any;
  tally.clips_contradicted += clip_contradicted;
}

TEST(WorldDirection, SidewaysObjectsEndDisplacedTheAskedWayAtEveryFraming) {
  for (const bool training_like : {true, false}) {
    Tally tally;
    std::string failure;
    Pick pick{training_like ? 15u : 1515u};
    const int specs = training_like ? 400 : 300;
    for (int k = 0; k < specs; ++k)
      for (const Framing framing : {Framing::Wide, Framing::Medium, Framing::CloseUp}) {
        const SceneSpec s = random_spec(pick, training_like, framing);
        measure(s, uint64_t(k) * 7919u + uint64_t(framing), tally, &failure);
      }
    std::printf("%s specs: %d clips with %d sideways objects; %d clips contradict the prompt: %d objects end the "
                "wrong way, %d more within 10 cm of the start; %d turn back; %d impacts with walls outside the living "
                "room\n",
                training_like ? "training-like" : "crowded", tally.clips, tally.objects, tally.clips_contradicted,
                tally.wrong_way, tally.contradicted - tally.wrong_way, tally.turned_back, tally.invisible_walls);
    EXPECT_GT(tally.objects, 50);
    EXPECT_EQ(tally.contradicted, 0) << "first: " << failure;
    EXPECT_EQ(tally.turned_back, 0) << "first: " << failure;
    EXPECT_EQ(tally.invisible_walls, 0);
    // the lanes behind the stage stay in front of the living room's back wall (z = 13.2)
    EXPECT_LT(tally.deepest, 13.0f);
    std::printf("deepest lane reaches z = %.2f\n", tally.deepest);
  }
}

TEST(WorldDirection, EveryKindEveryWayInEverySettingOverALongClip) {
  // one sideways object alone, and beside a large still crate and a large ball rolling the
  // other way (a head-on meeting in the old world): 25 s clips, the longest there are
  for (int kind = 0; kind < 5; ++kind)
    for (const Motion motion : {Motion::RollsLeft, Motion::RollsRight, Motion::FliesLeft, Motion::FliesRight})
      for (int setting = 0; setting < 8; ++setting)
        for (const bool crowded : {false, true}) {
          SceneSpec s;
          s.setting = Setting(setting);
          s.objects.push_back({ObjectKind(kind), Color::Red, Size(setting % 2), motion});
          if (crowded) {
            s.objects.push_back({ObjectKind::Box, Color::Blue, Size::Large, Motion::StaysStill});
            s.objects.push_back({ObjectKind::Ball, Color::Green, Size::Large,
                                 asked_direction(motion) > 0 ? Motion::RollsLeft : Motion::RollsRight});
          }
          s.shots[0].seconds = kMaxSeconds;
          s.shots[0].framing = Framing(setting % 3);
          Tally tally;
          std::string failure;
          measure(s, uint64_t(kind * 100 + setting), tally, &failure);
          EXPECT_EQ(tally.contradicted, 0) << failure;
          EXPECT_EQ(tally.turned_back, 0) << failure;
          EXPECT_EQ(tally.invisible_walls, 0) << failure;
        }
}

TEST(WorldDirection, TheLivingRoomWallsAreWhereTheyAreDrawnAndHold) {
  // a ball thrown hard in the living room never reaches the drawn side walls' far side; the
  // room keeps parked and blown things inside
  for (uint64_t seed = 0; seed < 12; ++seed)
    for (const Motion motion : {Motion::RollsRight, Motion::FliesRight, Motion::RollsLeft, Motion::FliesLeft}) {
      SceneSpec s;
      s.setting = Setting::LivingRoom;
      s.objects = {{ObjectKind::Ball, Color::Red, Size(seed % 2), motion},
                   {ObjectKind::Balloon, Color::Blue, Size::Small, motion},
                   {ObjectKind::Box, Color::Yellow, Size(seed % 2), motion}};
      s.shots[0].seconds = 12;
      const Timeline t = simulate(s, seed, 12, 16000);
      for (const FrameState& f : t.frames)
        for (size_t i = 0; i < s.objects.size(); ++i) {
          if (!f.entities[i].present) continue;
          const float half = geometry(s.objects[i]).width / 2;
          EXPECT_LE(std::fabs(f.entities[i].x) + half, kRoomHalfWidth + 1e-3f) << "object " << i << " seed " << seed;
        }
    }
}

}  // namespace
}  // namespace opsis::studio
