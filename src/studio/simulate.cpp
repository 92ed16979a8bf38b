// simulate(): objects through the rigid-body physics (or, for birds, a flight script),
// characters through their actions, dialogue through speak(), and the camera through each shot.
//
// Motion words per kind (the odd combinations are interpreted, never refused):
//   ball    bounces: dropped from 1.2-2.2 m | rolls: rolls along the ground, slowed by the
//           ground's rolling resistance | falls: dropped from 7-8 m, above the frame top |
//           flies: thrown on a ballistic arc | floats up: tossed straight up | spins: turns
//           in place | stays still: rests (it can still be hit)
//   box     as a ball, but "rolls" is a shove: it slides at 4.5-6 m/s until sliding friction
//           stops it; "spins" turns in place lifted onto its corner
//   balloon floats up: buoyant, rises swaying and leaves | bounces, falls: a weighted balloon
//           drifts down and bounces softly | rolls: blown along the ground by wind | flies:
//           drifts sideways on the breeze at 2-3 m | spins: turns on its tether |
//           stays still: bobs on a tether at 1.5 m
//   bird    flies: flaps across and on, out of the picture | bounces: hops in place | rolls:
//           hops along the ground | falls: flutters down and perches | floats up: takes off
//           and climbs away | spins: circles in the air | stays still: perches
//   car     rolls: drives at 3-5 m/s | flies: drives fast, 7-10 m/s | bounces: dropped from
//           1 m onto its wheels | falls: dropped from 7-8 m | floats up: parked, engine
//           idling (cars do not float) | spins: turns on the spot (heading flips) |
//           stays still: parked. Driving cars keep to a road behind the stage (one lane
//           per direction) and drive on, out of the picture; parked and dropped cars stand
//           on the stage among the other objects.
//
// Left and right: the stage has no walls, so whatever is asked to go left or right goes on
// that way (out of the frame if it goes far enough), and each ball, box or balloon asked to
// do so gets a depth lane of its own, starting on the side it moves away from, so nothing
// it could meet turns it round. The living room's walls are real (drawn, and the physics
// has them at x = +-kRoomHalfWidth): a ball or box is launched there gently enough to come
// to rest before the far wall, balloons and cars may end pressed against it, and a bird
// flies out through it (it is gone once past the wall).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "studio/dialogue.hpp"
#include "studio/physics.hpp"
#include "studio/world.hpp"

namespace opsis::studio {
namespace {

constexpr float kPi = std::numbers::pi_v<float>;
constexpr float kTwoPi = 2 * kPi;
// Depth lanes (z, metres). Characters stand in front of the objects so that nothing comes
// between a close camera and them; they are placed along x where they hide the fewest objects.
constexpr float kObjectLane = kStageZ;
constexpr float kCrowdedLanes[2] = {kStageZ - 0.5f, kStageZ + 0.5f};
constexpr float kRoadLanes[2] = {kStageZ + 1.5f, kStageZ + 2.5f};  // cars driving right, left
constexpr float kBirdLane = 6.8f;
constexpr float kBirdFallStart = 7.5f, kBirdFallSpeed = 2.5f;  // a falling bird glides down: m, m/s
constexpr float kCharacterLanes[2] = {6.6f, 7.1f};
constexpr float kLaneGap = 0.05f;         // metres between the depth extents of neighbouring lanes
constexpr float kNoWall = std::numeric_limits<float>::infinity();
constexpr double kSpeechStart = 0.3;      // seconds into the clip where the first line begins
constexpr double kSpeechGap = 0.4;        // seconds between one line's end and the next's start
constexpr float kStepLength = 0.7f;       // metres per walking step
constexpr float kWalkStop = kStageHalfWidth - 0.5f;

// splitmix64: the same numbers on every platform and library version.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * float(uniform()); }
  float sign() { return (next() & 1) ? 1.0f : -1.0f; }

 private:
  uint64_t state_;
};

// A stream per (seed, purpose, index): adding an entity leaves the others' randomness alone.
Rng stream(uint64_t seed, uint64_t purpose, uint64_t index) {
  Rng mixer(seed ^ (purpose * 0xD1B54A32D192ED03ull) ^ (index * 0x8CB92BA72F3D8DD7ull));
  return Rng(mixer.next());
}

struct Ground {
  const char* material;
  float rolling;  // m/s^2, deceleration of a rolling ball
  float sliding;  // sliding friction coefficient (times g)
};

Ground ground_of(Setting setting) {
  switch (setting) {
    case Setting::Meadow: return {"grass", 0.9f, 0.5f};
    case Setting::Beach: return {"sand", 2.0f, 0.6f};
    case Setting::CityStreet: return {"asphalt", 0.3f, 0.6f};
    case Setting::LivingRoom: return {"wood", 0.2f, 0.35f};
    case Setting::Forest: return {"leaves", 1.1f, 0.5f};
    case Setting::Snowfield: return {"snow", 1.4f, 0.12f};
    case Setting::Desert: return {"sand", 2.0f, 0.6f};
    case Setting::NightSky: return {"grass", 0.9f, 0.5f};  // a hilltop under the stars
  }
  return {"grass", 0.9f, 0.5f};
}

// +1 for motions that head right, -1 left, 0 neither.
float direction_of(Motion m) {
  if (m == Motion::RollsRight || m == Motion::FliesRight) return 1;
  if (m == Motion::RollsLeft || m == Motion::FliesLeft) return -1;
  return 0;
}

float smoothstep(float a, float b, float x) {
  const float t = std::clamp((x - a) / (b - a), 0.0f, 1.0f);
  return t * t * (3 - 2 * t);
}

// Times of a Poisson process of `rate` per second in [from, until).
std::vector<double> poisson_times(Rng& rng, double rate, double from, double until) {
  std::vector<double> times;
  double t = from;
  while (true) {
    t += -std::log(1.0 - rng.uniform()) / rate;
    if (t >= until) break;
    times.push_back(t);
  }
  return times;
}

// ---------------------------------------------------------------------------------------
// Objects

struct ObjectPlan {
  ObjectSpec spec;
  Geometry geo;
  float dir = 0;          // heading of the motion, +1 right, -1 left, 0 none
  float x0 = 0, lane = kObjectLane;
  float room = kNoWall;   // walls at x = +-room (the living room's), else none
  bool bottom_anchored = true;  // pose y is the bottom (else the centre)
  bool driving = false;         // a car on the road
  bool sideways = false;        // a ball, box or balloon asked to move left or right: a lane of its own
  int body = -1;                // index in the physics world; -1 for birds
  // balloons: sway of the wind push
  float sway_amplitude = 0, sway_rate = 0, sway_phase = 0, push = 0;
  // cars: turning on the spot
  float spin_rate = 0;
  // birds
  float speed = 0, cruise_height = 0, flap_rate = 0, phase0 = 0;
};

constexpr float kCarHalfDepth = 0.45f;

// Half the extent along z of an object's body (its lane holds it).
float half_depth(const ObjectPlan& p) { return p.spec.kind == ObjectKind::Car ? kCarHalfDepth : p.geo.width / 2; }

// Positions along x for the things in one lane, in the given order, with gaps between them
// drawn from the seed. widths: metres. Returns centres.
std::vector<float> pack(const std::vector<float>& widths, Rng& rng) {
  const size_t n = widths.size();
  float total = 0;
  for (float w : widths) total += w;
  const float span = std::max(2 * (kStageHalfWidth - 0.4f), total + 0.2f);
  const float free = span - total;
  std::vector<float> weights(n + 1);
  float sum = 0;
  for (auto& w : weights) sum += (w = rng.uniform(0.5f, 1.5f));
  std::vector<float> centres(n);
  float x = -span / 2;
  for (size_t i = 0; i < n; ++i) {
    x += free * weights[i] / sum;
    centres[i] = x + widths[i] / 2;
    x += widths[i];
  }
  return centres;
}

physics::Body make_body(ObjectPlan& plan, const Ground& ground, Rng& rng) {
  using physics::Body;
  using physics::Shape;
  Body b;
  const Geometry& g = plan.geo;
  const ObjectKind kind = plan.spec.kind;
  const Motion motion = plan.spec.motion;
  b.shape = (kind == ObjectKind::Box || kind == ObjectKind::Car) ? Shape::Box : Shape::Circle;
  b.half_width = g.width / 2;
  b.half_height = b.shape == Shape::Circle ? g.width / 2 : g.height / 2;
  b.half_depth = half_depth(plan);
  b.z = plan.lane;
  b.confined = std::isfinite(plan.room);  // only real walls stop anything
  b.mass = g.mass;
  b.restitution = g.restitution;
  b.x = plan.x0;
  b.y = b.half_height;
  b.on_ground = true;
  const float dir = plan.dir;
  constexpr float g0 = physics::kGravity;

  if (kind == ObjectKind::Ball || kind == ObjectKind::Box) {
    const bool ball = kind == ObjectKind::Ball;
    b.rolls = ball;
    b.ground_friction = ball ? ground.rolling : ground.sliding * g0;
    switch (motion) {
      case Motion::Bounces:
        b.y += rng.uniform(1.2f, 2.2f), b.on_ground = false;
        break;
      case Motion::Falls:
        b.y += rng.uniform(7.0f, 8.0f), b.on_ground = false;
        break;
      case Motion::RollsLeft:
      case Motion::RollsRight:
        b.vx = dir * (ball ? rng.uniform(2.5f, 4.0f) : rng.uniform(4.5f, 6.0f));  // a box is shoved
        break;
      case Motion::FliesLeft:
      case Motion::FliesRight:
        b.y += 1.0f, b.on_ground = false;
        b.vx = dir * rng.uniform(3.0f, 4.5f);
        b.vy = rng.uniform(3.5f, 5.0f);
        if (ball) b.omega = -b.vx / b.half_width;
        break;
      case Motion::FloatsUp:
        b.vy = rng.uniform(5.5f, 7.0f), b.on_ground = false;
        break;
      case Motion::Spins:
        b.held = true;
        b.omega = rng.sign() * rng.uniform(3.0f, 6.0f);
        if (!ball) b.y = b.half_width * std::numbers::sqrt2_v<float>, b.on_ground = false;
        break;
      case Motion::StaysStill:
        break;
    }
  } else if (kind == ObjectKind::Balloon) {
    b.drag = 1.2f;
    b.rolls = true;
    b.ground_friction = 0.3f;
    const float neutral = g0, floating = g0 + 0.9f, weighted = g0 - 3.0f;
    plan.sway_rate = kTwoPi * rng.uniform(0.15f, 0.3f);
    plan.sway_phase = rng.uniform(0, kTwoPi);
    switch (motion) {
      case Motion::FloatsUp:
        b.lift = floating, b.y = 1.0f, b.on_ground = false;
        plan.sway_amplitude = 0.6f;
        break;
      case Motion::Bounces:
        b.lift = weighted, b.y = rng.uniform(2.2f, 2.8f), b.on_ground = false;
        break;
      case Motion::Falls:
        b.lift = weighted, b.y = rng.uniform(7.0f, 8.0f), b.on_ground = false;
        plan.sway_amplitude = 0.4f;
        break;
      case Motion::RollsLeft:
      case Motion::RollsRight:
        b.lift = weighted, plan.push = dir * 1.8f;
        b.vx = dir * 1.0f;
        break;
      case Motion::FliesLeft:
      case Motion::FliesRight:
        b.lift = neutral, b.y = rng.uniform(2.0f, 3.0f), b.on_ground = false;
        plan.push = dir * 1.5f, plan.sway_amplitude = 0.3f;
        b.vx = dir * 1.0f;
        break;
      case Motion::Spins:
      case Motion::StaysStill:
        b.lift = neutral, b.y = 1.5f, b.on_ground = false;
        b.anchored = true, b.anchor_x = b.x, b.anchor_y = 1.5f;
        b.anchor_stiffness = 4.0f, b.anchor_damping = 1.5f;
        plan.sway_amplitude = 0.25f;
        if (motion == Motion::Spins) b.omega = rng.sign() * rng.uniform(1.5f, 3.0f);
        b.rolls = false;
        break;
    }
  } else if (kind == ObjectKind::Car) {
    b.ground_friction = 6.0f;  // brakes
    switch (motion) {
      case Motion::RollsLeft:
      case Motion::RollsRight:
      case Motion::FliesLeft:
      case Motion::FliesRight: {
        const bool fast = motion == Motion::FliesLeft || motion == Motion::FliesRight;
        b.drive_speed = dir * (fast ? rng.uniform(7.0f, 10.0f) : rng.uniform(3.0f, 5.0f));
        b.drive_rate = 1.5f;
        b.ground_friction = 0;
        b.vx = b.drive_speed;
        break;
      }
      case Motion::Bounces:
        b.y += 1.0f, b.on_ground = false;
        break;
      case Motion::Falls:
        b.y += rng.uniform(7.0f, 8.0f), b.on_ground = false;
        break;
      case Motion::Spins:
        b.held = true;
        plan.spin_rate = kTwoPi / rng.uniform(1.4f, 2.0f);
        break;
      case Motion::FloatsUp:
      case Motion::StaysStill:
        break;
    }
  }
  return b;
}

// A ball or box launched sideways in the living room: slowed, where need be, so that it comes
// to rest short of the far wall instead of bouncing back off it. Its lane is its own, so the
// run alone is the run it will have. Horizontal travel grows at least linearly with the
// launch speed (the time aloft does not depend on it, rolling adds its square), so scaling
// the speed by reach / travel always fits; a few halvings then find a faster launch that does.
void fit_in_room(physics::Body& body, const ObjectPlan& p, double seconds) {
  const float x0 = body.x;
  const float reach = p.room - body.half_width - 0.1f - p.dir * x0;  // free run to the far wall
  auto travel = [&](float scale) {
    physics::Body free = body;
    free.confined = false;
    free.vx *= scale, free.omega *= scale;
    physics::World alone({free});
    std::vector<physics::Contact> contacts;
    float furthest = 0;
    while (alone.time() < seconds + physics::kSubstep) {
      alone.step(physics::kSubstep, contacts);
      contacts.clear();
      const physics::Body& b = alone.bodies()[0];
      furthest = std::max(furthest, p.dir * (b.x - x0));
      if (b.on_ground && b.vx == 0 && b.vy == 0) break;  // at rest
    }
    return furthest;
  };
  const float full = travel(1.0f);
  if (full <= reach) return;
  float fits = reach / full, too_far = 1.0f;
  for (int i = 0; i < 6; ++i) {
    const float mid = 0.5f * (fits + too_far);
    (travel(mid) <= reach ? fits : too_far) = mid;
  }
  body.vx *= fits;
  body.omega *= fits;
}

// What each object is and where it starts. Things that stay put, fall, bounce, spin or
// rise share the stage lane (two lanes when crowded), packed along x; each ball, box or
// balloon asked to move left or right gets a lane of its own just behind them and starts on
// the side it moves away from; driving cars keep to the road behind those, one lane per
// direction. Neighbouring lanes are apart by more than their things' depths, so nothing in
// one can touch anything in another.
std::vector<ObjectPlan> place_objects(const SceneSpec& spec, uint64_t seed) {
  const int n_objects = int(spec.objects.size());
  const float room = spec.setting == Setting::LivingRoom ? kRoomHalfWidth : kNoWall;
  std::vector<ObjectPlan> objects(static_cast<size_t>(n_objects));
  std::vector<int> stage_members;  // not birds, not driving cars, not moving sideways
  Rng order_rng = stream(seed, 1, 0);
  for (int i = 0; i < n_objects; ++i) {
    ObjectPlan& p = objects[size_t(i)];
    p.spec = spec.objects[size_t(i)];
    p.geo = geometry(p.spec);
    p.room = room;
    p.dir = direction_of(p.spec.motion);
    p.bottom_anchored = p.spec.kind != ObjectKind::Balloon && p.spec.kind != ObjectKind::Bird;
    p.driving = p.spec.kind == ObjectKind::Car && p.dir != 0;
    p.sideways = p.dir != 0 && p.spec.kind != ObjectKind::Bird && !p.driving;
    if (p.spec.kind != ObjectKind::Bird && !p.driving && !p.sideways) stage_members.push_back(i);
  }
  // the stage, in a shuffled order
  std::vector<std::pair<double, int>> keyed;
  for (int i : stage_members) keyed.push_back({order_rng.uniform(), i});
  std::sort(keyed.begin(), keyed.end());
  float total_width = 0;
  for (auto& k : keyed) total_width += objects[size_t(k.second)].geo.width;
  const bool crowded = total_width > 2 * (kStageHalfWidth - 0.4f) - 0.3f * float(keyed.size() + 1);
  for (int lane = 0; lane < (crowded ? 2 : 1); ++lane) {
    std::vector<int> members;
    for (size_t k = 0; k < keyed.size(); ++k)
      if (!crowded || int(k % 2) == lane) members.push_back(keyed[k].second);
    std::vector<float> widths;
    for (int i : members) widths.push_back(objects[size_t(i)].geo.width);
    Rng pack_rng = stream(seed, 2, uint64_t(lane));
    const std::vector<float> centres = pack(widths, pack_rng);
    for (size_t m = 0; m < members.size(); ++m) {
      objects[size_t(members[m])].x0 = centres[m];
      objects[size_t(members[m])].lane = crowded ? kCrowdedLanes[lane] : kObjectLane;
    }
  }
  // the lanes behind, each past the back (largest z + half depth) of everything before it
  bool placed = false;
  float back = 0;
  auto occupy = [&](float lane, float half) {
    back = placed ? std::max(back, lane + half) : lane + half;
    placed = true;
  };
  auto next_lane = [&](float half) { return placed ? back + kLaneGap + half : kObjectLane; };
  for (int i : stage_members) occupy(objects[size_t(i)].lane, half_depth(objects[size_t(i)]));
  for (int i = 0; i < n_objects; ++i) {
    ObjectPlan& p = objects[size_t(i)];
    if (!p.sideways) continue;
    p.lane = next_lane(half_depth(p));
    occupy(p.lane, half_depth(p));
    Rng rng = stream(seed, 2, 20 + uint64_t(i));
    p.x0 = -p.dir * (kStageHalfWidth - 0.4f - p.geo.width / 2 - rng.uniform(0.0f, 1.5f));
  }
  // driving cars: one lane per direction, so that they never meet head-on
  for (float dir : {1.0f, -1.0f}) {
    std::vector<int> members;
    std::vector<float> widths;
    for (int i = 0; i < n_objects; ++i)
      if (objects[size_t(i)].driving && objects[size_t(i)].dir == dir) {
        members.push_back(i);
        widths.push_back(objects[size_t(i)].geo.width + 1.0f);  // a gap between cars
      }
    if (members.empty()) continue;
    const float lane = std::max(dir > 0 ? kRoadLanes[0] : kRoadLanes[1], next_lane(kCarHalfDepth));
    occupy(lane, kCarHalfDepth);
    Rng pack_rng = stream(seed, 2, dir > 0 ? 10 : 11);
    const std::vector<float> centres = pack(widths, pack_rng);
    for (size_t m = 0; m < members.size(); ++m) {
      objects[size_t(members[m])].x0 = centres[m];
      objects[size_t(members[m])].lane = lane;
    }
  }
  return objects;
}

// Script of a bird: pose at time t. Birds do not collide.
struct BirdState {
  float x = 0, y = 0, heading = 1, wing_phase = 0, vx = 0, vy = 0;
  bool flying = false, present = true, on_ground = false;
};

BirdState bird_at(const ObjectPlan& p, double t_d) {
  const float t = float(t_d);
  const float body = p.geo.height / 2;  // centre height when perched
  BirdState s;
  s.heading = p.dir != 0 ? p.dir : 1;
  s.x = p.x0;
  const float flap = p.phase0 + p.flap_rate * t;
  switch (p.spec.motion) {
    case Motion::FliesLeft:
    case Motion::FliesRight: {
      const float x = p.x0 + p.dir * p.speed * t;  // on and on: out of the picture, never back
      s.x = x;
      s.vx = p.dir * p.speed;
      s.y = p.cruise_height + 0.15f * std::sin(0.5f * kTwoPi * t + p.phase0);
      s.vy = 0.15f * 0.5f * kTwoPi * std::cos(0.5f * kTwoPi * t + p.phase0);
      s.flying = true;
      s.wing_phase = flap;
      s.present = std::fabs(x) < p.room;  // out through the living room's wall
      break;
    }
    case Motion::Bounces:
    case Motion::RollsLeft:
    case Motion::RollsRight: {
      constexpr float hop_period = 0.5f, hop_speed = 1.2f;  // hop: up at 1.2 m/s, 0.24 s aloft
      const float since = std::fmod(t, hop_period);
      const float aloft = 2 * hop_speed / physics::kGravity;
      s.y = body;
      if (since < aloft) {
        s.y += hop_speed * since - 0.5f * physics::kGravity * since * since;
        s.vy = hop_speed - physics::kGravity * since;
      }
      s.on_ground = since >= aloft;
      if (p.dir != 0) {  // hops along the ground, 0.5 m/s on average (indoors until near a wall)
        const float limit = p.room - 0.3f;
        s.x = std::clamp(p.x0 + p.dir * 0.5f * t, -limit, limit);
        s.vx = std::fabs(s.x) < limit ? p.dir * 0.5f : 0;
      }
      break;
    }
    case Motion::Falls: {
      const float start = kBirdFallStart, descent = kBirdFallSpeed;
      const float land = (start - body) / descent;
      if (t < land) {
        s.y = start - descent * t, s.vy = -descent;
        s.flying = true, s.wing_phase = flap;
      } else {
        s.y = body, s.on_ground = true;
      }
      break;
    }
    case Motion::FloatsUp: {
      const float takeoff = 0.5f;
      if (t < takeoff) {
        s.y = body, s.on_ground = true;
      } else {
        const float a = t - takeoff;
        s.x = p.x0 + 1.0f * a * s.heading;
        s.y = body + 1.5f * a;
        s.vx = 1.0f * s.heading, s.vy = 1.5f;
        s.flying = true, s.wing_phase = p.phase0 + p.flap_rate * a;
        s.present = s.y < 12.0f && std::fabs(s.x) < p.room;
      }
      break;
    }
    case Motion::Spins: {
      const float w = 1.2f * (p.dir != 0 ? p.dir : 1), radius = 1.2f;
      s.x = p.x0 + radius * std::cos(w * t);
      s.y = p.cruise_height + 0.4f * std::sin(w * t);
      s.vx = -radius * w * std::sin(w * t);
      s.vy = 0.4f * w * std::cos(w * t);
      s.heading = s.vx >= 0 ? 1.0f : -1.0f;
      s.flying = true, s.wing_phase = flap;
      break;
    }
    case Motion::StaysStill:
      s.y = body, s.on_ground = true;
      break;
  }
  return s;
}

// A bird's flight: wingbeat, speed, cruising height and where it starts.
void plan_bird(ObjectPlan& p, Rng& rng) {
  p.lane = kBirdLane;
  const bool large = p.spec.size == Size::Large;
  p.flap_rate = kTwoPi * (large ? rng.uniform(2.5f, 3.5f) : rng.uniform(5.5f, 7.5f));
  p.phase0 = rng.uniform(0, kTwoPi);
  p.speed = rng.uniform(2.5f, 4.0f);
  p.cruise_height = rng.uniform(2.5f, 4.0f);
  switch (p.spec.motion) {
    case Motion::FliesLeft:
    case Motion::FliesRight:
      p.x0 = -p.dir * rng.uniform(3.5f, 4.5f);  // enters from the side it flies away from
      break;
    case Motion::FloatsUp:
      p.dir = rng.sign();
      p.x0 = rng.uniform(-3.0f, 3.0f);
      break;
    default:
      p.x0 = rng.uniform(-3.5f, 3.5f);
      if (p.spec.motion == Motion::Spins) p.dir = rng.sign();
  }
}

// Wing flaps (wings at the top, the downstroke starts: wing_phase = pi/2 + 2 pi k) and chirps.
void bird_events(const ObjectPlan& p, int entity, double seconds, Rng& rng, std::vector<Event>& events) {
  // flapping intervals in script time, and the phase at their start
  double fly_from = 0, fly_until = seconds, phase_at_from = p.phase0;
  switch (p.spec.motion) {
    case Motion::FliesLeft:
    case Motion::FliesRight:
    case Motion::Spins:
      break;
    case Motion::Falls:
      fly_until = std::min(seconds, double((kBirdFallStart - p.geo.height / 2) / kBirdFallSpeed));
      break;
    case Motion::FloatsUp:
      fly_from = 0.5;
      break;
    default:
      fly_until = 0;
  }
  if (fly_until > fly_from) {
    // flap k happens where phase_at_from + rate (t - fly_from) = pi/2 + 2 pi k
    const double first_k = std::ceil((phase_at_from - kPi / 2) / kTwoPi);
    for (double k = first_k;; k += 1) {
      const double t = fly_from + (kPi / 2 + kTwoPi * k - phase_at_from) / p.flap_rate;
      if (t >= fly_until) break;
      if (t < fly_from || !bird_at(p, t).present) continue;
      Event e;
      e.kind = EventKind::WingFlap;
      e.time = t;
      e.entity = entity;
      e.material = "feather";
      e.speed = std::hypot(bird_at(p, t).vx, bird_at(p, t).vy);
      events.push_back(std::move(e));
    }
  }
  for (double t : poisson_times(rng, rng.uniform(0.3f, 0.8f), 0.2, seconds)) {
    if (!bird_at(p, t).present) continue;
    Event e;
    e.kind = EventKind::Chirp;
    e.time = t;
    e.entity = entity;
    events.push_back(std::move(e));
  }
}

// ---------------------------------------------------------------------------------------
// Characters

struct CharacterPlan {
  Action action = Action::Stands;
  float height = 1.7f;
  float x0 = 0, lane = kCharacterLanes[0], dir = 1;
  float walk_speed = 0, walk_stop_time = 0;  // walking: seconds until it reaches the wall
  float jump_period = 0, jump_speed = 0, jump_first = 0;
  float sway_phase = 0, wave_rate = 0;
  // talking: phonemes on the clip clock
  double speech_start = 0;
  std::vector<PhonemeTiming> phonemes;
};

float jump_flight(const CharacterPlan& c) { return 2 * c.jump_speed / physics::kGravity; }

void pose_character(const CharacterPlan& c, double t_d, EntityPose& pose) {
  const float t = float(t_d);
  pose.z = c.lane;
  pose.x = c.x0;
  pose.y = 0;
  pose.heading = c.dir;
  pose.on_ground = true;
  pose.angle = 0.012f * std::sin(kTwoPi * t / 3.5f + c.sway_phase);  // idle breathing sway
  switch (c.action) {
    case Action::WalksLeft:
    case Action::WalksRight: {
      const float walked = c.walk_speed * std::min(t, c.walk_stop_time);
      pose.x = c.x0 + c.dir * walked;
      pose.walk_phase = kPi * walked / kStepLength;
      pose.vx = t < c.walk_stop_time ? c.dir * c.walk_speed : 0;
      pose.side_on = t < c.walk_stop_time;
      pose.angle = 0;
      break;
    }
    case Action::Waves: {
      pose.arm_raise = smoothstep(0.2f, 0.6f, t);
      pose.wave_phase = t > 0.4f ? c.wave_rate * (t - 0.4f) : 0;
      break;
    }
    case Action::Jumps: {
      if (t >= c.jump_first) {
        const float since = std::fmod(t - c.jump_first, c.jump_period);
        const float flight = jump_flight(c);
        if (since < flight) {
          pose.y = c.jump_speed * since - 0.5f * physics::kGravity * since * since;
          pose.vy = c.jump_speed - physics::kGravity * since;
          pose.on_ground = false;
        } else {
          // landing squash, then the crouch before the next take-off
          const float after = since - flight, before = c.jump_period - since;
          pose.squash = 0.2f * std::exp(-after / 0.08f) + 0.15f * std::max(0.0f, 1 - before / 0.15f);
        }
      } else {
        pose.squash = 0.15f * std::max(0.0f, 1 - (c.jump_first - t) / 0.15f);
      }
      break;
    }
    case Action::Talks: {
      const double local = t_d - c.speech_start;
      if (local >= 0 && !c.phonemes.empty()) {
        // the phoneme sounding at this instant: the last one that started at or before it
        auto it = std::upper_bound(c.phonemes.begin(), c.phonemes.end(), local,
                                   [](double v, const PhonemeTiming& p) { return v < p.start; });
        if (it != c.phonemes.begin()) {
          const PhonemeTiming& p = *std::prev(it);
          if (local < p.start + p.duration) {
            pose.mouth_open = p.openness;
            pose.viseme = p.viseme;
          }
        }
      }
      break;
    }
    case Action::Stands:
      break;
  }
}

// Where a standing character goes: clear of the objects' starting places (widened for the
// character standing nearer the camera) and of the characters already placed.
float place_character(const std::vector<ObjectPlan>& objects, const std::vector<CharacterPlan>& characters, int index,
                      Rng& rng) {
  std::vector<std::pair<float, float>> taken;  // (centre, half width) along x
  for (const ObjectPlan& o : objects)
    if (o.spec.kind != ObjectKind::Bird && !o.driving) taken.push_back({o.x0, o.geo.width / 2});
  for (int c = 0; c < index; ++c) taken.push_back({characters[size_t(c)].x0, 0.5f});
  float best_x = 0, best_score = -1e9f;
  for (int k = 0; k <= 120; ++k) {
    const float x = -3.0f + 0.05f * float(k);
    float clearance = 1.5f;  // beyond this a neighbour no longer matters
    for (const auto& [centre, half] : taken) clearance = std::min(clearance, std::fabs(x - centre) - half - 0.3f);
    const float score = clearance - 0.1f * std::fabs(x) + rng.uniform(0.0f, 0.3f);
    if (score > best_score) best_score = score, best_x = x;
  }
  return best_x;
}

// ---------------------------------------------------------------------------------------
// Camera

struct Lookup {
  float x = 0, y = 0, z = kStageZ;
  bool present = true;
};

float lens_focal(Lens lens) {
  switch (lens) {
    case Lens::Standard: return 0.8f;     // 10 m across the shorter side at the stage from z = 0
    case Lens::Anamorphic: return 0.8f;   // same focal; the look (letterbox, flares) is drawn
    case Lens::Portrait85mm: return 1.36f;  // 85/50 of the standard
    case Lens::Wide: return 0.5f;
  }
  return 0.8f;
}

// Where each character stands and what it does over the clip: footsteps, jumps and the
// spoken lines (speech tracks and phoneme events, one line after another) go into the timeline.
std::vector<CharacterPlan> direct_characters(const SceneSpec& spec, uint64_t seed, const std::vector<ObjectPlan>& objects,
                                             Timeline& timeline) {
  const double seconds = spec.seconds();
  const int sample_rate = timeline.sample_rate;
  const int n_objects = int(objects.size());
  const int n_characters = int(spec.characters.size());
  const Ground ground = ground_of(spec.setting);
  std::vector<Event>& events = timeline.events;
  std::vector<CharacterPlan> characters(static_cast<size_t>(n_characters));
  double speech_cursor = kSpeechStart;
  for (int c = 0; c < n_characters; ++c) {
    const CharacterSpec& cs = spec.characters[size_t(c)];
    CharacterPlan& p = characters[size_t(c)];
    Rng rng = stream(seed, 5, uint64_t(c));
    p.action = cs.action;
    p.height = geometry(cs).height;
    p.lane = kCharacterLanes[c % 2];
    p.sway_phase = rng.uniform(0, kTwoPi);
    p.x0 = place_character(objects, characters, c, rng);
    p.dir = p.x0 <= 0 ? 1.0f : -1.0f;  // standing characters turn towards the middle
    switch (cs.action) {
      case Action::WalksLeft:
      case Action::WalksRight: {
        p.dir = cs.action == Action::WalksRight ? 1.0f : -1.0f;
        p.x0 = -p.dir * (3.5f + rng.uniform(-0.3f, 0.3f));
        // a second walker the same way starts ahead, not in step behind the first
        if (c == 1 && characters[0].action == cs.action) p.x0 += p.dir * 1.6f;
        p.walk_speed = rng.uniform(1.0f, 1.4f);
        p.walk_stop_time = (kWalkStop - p.dir * p.x0) / p.walk_speed;
        // footsteps: one per step length walked
        for (int k = 1;; ++k) {
          const double t = k * double(kStepLength) / p.walk_speed;
          if (t > p.walk_stop_time + 1e-9 || t >= seconds) break;
          Event e;
          e.kind = EventKind::Footstep;
          e.time = t;
          e.entity = n_objects + c;
          e.material = ground.material;
          e.speed = p.walk_speed;
          events.push_back(std::move(e));
        }
        break;
      }
      case Action::Waves:
        p.wave_rate = kTwoPi * rng.uniform(1.4f, 2.0f);
        break;
      case Action::Jumps: {
        p.jump_period = rng.uniform(1.1f, 1.5f);
        p.jump_speed = rng.uniform(2.6f, 3.2f);
        p.jump_first = rng.uniform(0.3f, 0.6f);
        for (double take_off = p.jump_first; take_off < seconds; take_off += p.jump_period) {
          const double landing = take_off + jump_flight(p);
          if (landing >= seconds) break;
          Event e;
          e.kind = EventKind::Footstep;
          e.time = landing;
          e.entity = n_objects + c;
          e.material = ground.material;
          e.speed = p.jump_speed;  // landing speed equals take-off speed
          events.push_back(std::move(e));
        }
        break;
      }
      case Action::Talks: {
        const Speech speech = speak(cs.line, cs.identity, sample_rate);
        p.speech_start = speech_cursor;
        p.phonemes = speech.phonemes;
        speech_cursor += speech.pcm.seconds() + kSpeechGap;
        if (p.speech_start >= seconds) break;
        SpeechTrack track;
        track.entity = n_objects + c;
        track.start = p.speech_start;
        track.pcm = speech.pcm;
        const size_t room = size_t(std::floor((seconds - p.speech_start) * sample_rate)) * size_t(track.pcm.channels);
        if (track.pcm.samples.size() > room) track.pcm.samples.resize(room);  // the clip ends mid-line
        timeline.speech.push_back(std::move(track));
        for (const PhonemeTiming& ph : p.phonemes) {
          const double t = p.speech_start + ph.start;
          if (t >= seconds) break;
          Event e;
          e.kind = EventKind::Phoneme;
          e.time = t;
          e.entity = n_objects + c;
          e.phoneme = ph.phoneme;
          e.duration = ph.duration;
          events.push_back(std::move(e));
        }
        break;
      }
      case Action::Stands:
        break;
    }
  }
  return characters;
}

// The camera through each shot (and a Cut event at each shot after the first), once the
// entities' poses are known. Wide frames the stage (10 m across the frame's shorter side at
// z = kStageZ with the standard lens, camera 1.6 m high). Medium and close-up frame the
// subject (the first character, else the first object) and follow it: sideways exactly, up
// and down smoothed (0.4 s); the named move (pan, tilt, dolly, orbit, dolly zoom; fast =
// twice the extent) is applied on top. The lens sets the focal and the camera distance
// keeps the framing: a wide lens stands closer, an 85 mm farther back.
void film(const SceneSpec& spec, const std::vector<ObjectPlan>& objects, const std::vector<CharacterPlan>& characters,
          Timeline& timeline) {
  const double seconds = spec.seconds();
  const int fps = timeline.fps;
  const int frame_count = int(timeline.frames.size());
  const int n_objects = int(objects.size());
  const int n_characters = int(characters.size());
  std::vector<Event>& events = timeline.events;
  const int subject = n_characters > 0 ? n_objects : (n_objects > 0 ? 0 : -1);
  double first_landing = seconds;  // of the subject, when it is an object
  for (const Event& e : events)
    if (e.entity == subject && subject < n_objects && e.kind == EventKind::Impact && e.other == -1)
      first_landing = std::min(first_landing, e.time);
  if (subject >= 0 && subject < n_objects && objects[size_t(subject)].spec.kind == ObjectKind::Bird)
    first_landing = (kBirdFallStart - objects[size_t(subject)].geo.height / 2) / kBirdFallSpeed;
  double shot_start = 0;
  int f = 0;
  for (int s = 0; s < int(spec.shots.size()); ++s) {
    const ShotSpec& shot = spec.shots[size_t(s)];
    const double shot_end = s + 1 == int(spec.shots.size()) ? seconds + 1 : shot_start + shot.seconds;
    if (s > 0) {
      Event e;
      e.kind = EventKind::Cut;
      e.time = shot_start;
      e.shot = s;
      events.push_back(std::move(e));
    }
    const float f0 = lens_focal(shot.lens);
    const float fast = shot.speed == CameraSpeed::Fast ? 2.0f : 1.0f;
    bool first = true;
    float smooth_y = 0;
    float last_x = 0, last_z = kStageZ;
    for (; f < frame_count && timeline.frames[size_t(f)].time < shot_end - 1e-9; ++f) {
      FrameState& frame = timeline.frames[size_t(f)];
      const float u = float(std::clamp((frame.time - shot_start) / shot.seconds, 0.0, 1.0));
      // what to look at, and how many metres should span the frame's shorter side there
      float aim_x = 0, aim_y = 1.0f, aim_z = kStageZ, extent = 10.0f, cam_height = 1.6f;
      const bool tracked = shot.framing != Framing::Wide && subject >= 0;
      if (tracked) {
        const EntityPose& pose = frame.entities[size_t(subject)];
        const bool close = shot.framing == Framing::CloseUp;
        float y;
        if (subject >= n_objects) {
          const float height = characters[size_t(subject - n_objects)].height;
          y = pose.y + (close ? 0.92f : 0.72f) * height;
          extent = close ? 0.55f : 1.3f;
        } else {
          const ObjectPlan& p = objects[size_t(subject)];
          const float size = std::max(p.geo.width, p.geo.height);
          y = p.bottom_anchored ? pose.y + p.geo.height / 2 : pose.y;
          // a falling thing drops into a frame set up where it lands; then the camera follows
          if (p.spec.motion == Motion::Falls && frame.time < first_landing)
            y = p.spec.kind == ObjectKind::Balloon ? p.geo.width / 2 : p.geo.height / 2;
          extent = close ? std::max(0.35f, 2.0f * size) : std::max(1.2f, 4.0f * size);
        }
        if (pose.present || first) last_x = pose.x, last_z = pose.z;
        const double dt = 1.0 / fps;
        smooth_y = first ? y : smooth_y + (y - smooth_y) * float(1.0 - std::exp(-dt / 0.4));
        aim_x = last_x, aim_y = smooth_y, aim_z = last_z;
        cam_height = std::max(0.25f, aim_y);
      }
      first = false;
      float distance = f0 * extent, focal = f0, orbit = 0, yaw_offset = 0, pitch_offset = 0;
      switch (shot.camera) {
        case CameraMove::Static: break;
        case CameraMove::PanLeft: yaw_offset = -fast * 0.3f * (u - 0.5f); break;
        case CameraMove::PanRight: yaw_offset = fast * 0.3f * (u - 0.5f); break;
        case CameraMove::TiltUp: pitch_offset = fast * 0.2f * (u - 0.5f); break;
        case CameraMove::TiltDown: pitch_offset = -fast * 0.2f * (u - 0.5f); break;
        case CameraMove::DollyIn: distance *= 1 + fast * 0.2f * (1 - 2 * u); break;
        case CameraMove::DollyOut: distance *= 1 - fast * 0.2f * (1 - 2 * u); break;
        case CameraMove::OrbitLeft: orbit = fast * 0.3f * (2 * u - 1); break;
        case CameraMove::OrbitRight: orbit = -fast * 0.3f * (2 * u - 1); break;
        case CameraMove::DollyZoom: {
          const float shrink = 1 - (fast > 1 ? 0.55f : 0.3f) * u;
          distance *= shrink;
          focal *= shrink;
          break;
        }
      }
      CameraPose& cam = frame.camera;
      cam.x = aim_x - distance * std::sin(orbit);
      cam.z = aim_z - distance * std::cos(orbit);
      cam.y = cam_height;
      cam.yaw = orbit + yaw_offset;
      cam.pitch = std::atan2(aim_y - cam_height, distance) + pitch_offset;
      cam.focal = focal;
      cam.shot = s;
    }
    shot_start += shot.seconds;
  }

}

}  // namespace

Timeline simulate(const SceneSpec& spec, uint64_t seed, int fps, int sample_rate) {
  validate(spec);
  if (fps < 1 || fps > 240) throw InvalidArgument("fps", "fps must be between 1 and 240, got " + std::to_string(fps));
  if (sample_rate < 8000 || sample_rate > 192000)
    throw InvalidArgument("sample_rate", "sample rate must be between 8000 and 192000 Hz, got " + std::to_string(sample_rate));

  const double seconds = spec.seconds();
  const int frame_count = int(std::lround(seconds * fps));
  const Ground ground = ground_of(spec.setting);
  const int n_objects = int(spec.objects.size());
  const int n_characters = int(spec.characters.size());
  const int n_entities = n_objects + n_characters;

  Timeline timeline;
  timeline.fps = fps;
  timeline.sample_rate = sample_rate;
  std::vector<Event>& events = timeline.events;

  // --- objects: what and where
  std::vector<ObjectPlan> objects = place_objects(spec, seed);

  // --- physics bodies and bird scripts
  std::vector<physics::Body> bodies;
  std::vector<int> body_entity;
  for (int i = 0; i < n_objects; ++i) {
    ObjectPlan& p = objects[size_t(i)];
    Rng rng = stream(seed, 3, uint64_t(i));
    if (p.spec.kind == ObjectKind::Bird) {
      plan_bird(p, rng);
      Rng event_rng = stream(seed, 4, uint64_t(i));
      bird_events(p, i, seconds, event_rng, events);
      continue;
    }
    physics::Body body = make_body(p, ground, rng);
    if (p.sideways && body.confined && p.spec.kind != ObjectKind::Balloon) fit_in_room(body, p, seconds);
    if (p.spec.kind == ObjectKind::Car && p.dir == 0) p.dir = rng.sign();  // parked facing
    p.body = int(bodies.size());
    bodies.push_back(body);
    body_entity.push_back(i);
  }

  // --- characters
  const std::vector<CharacterPlan> characters = direct_characters(spec, seed, objects, timeline);

  // --- run the physics, sampling every frame
  timeline.frames.resize(size_t(frame_count));
  for (int f = 0; f < frame_count; ++f) {
    timeline.frames[size_t(f)].time = double(f) / fps;
    timeline.frames[size_t(f)].entities.resize(size_t(n_entities));
  }
  // squash: the latest impact of each entity (time, amount)
  std::vector<std::pair<double, float>> last_impact(size_t(n_entities), {-1e9, 0.0f});
  auto squash_at = [&](int entity, double t) {
    const auto& [when, amount] = last_impact[size_t(entity)];
    if (t < when) return 0.0f;
    const bool car = objects[size_t(entity)].spec.kind == ObjectKind::Car;
    return amount * float(std::exp(-(t - when) / (car ? 0.25 : 0.06)));
  };
  {
    physics::World world(bodies, physics::kGravity, kRoomHalfWidth);  // walls for confined bodies only
    std::vector<physics::Body> previous = world.bodies();
    std::vector<physics::Contact> contacts;
    const double h = physics::kSubstep;
    // one substep: script forces, physics, impacts as events, departures
    auto advance = [&] {
      previous = world.bodies();
      const float t_now = float(world.time());
      for (size_t b = 0; b < world.bodies().size(); ++b) {
        const ObjectPlan& p = objects[size_t(body_entity[b])];
        if (p.spec.kind == ObjectKind::Balloon)
          world.bodies()[b].push_x = p.push + p.sway_amplitude * std::sin(p.sway_rate * t_now + p.sway_phase);
      }
      contacts.clear();
      world.step(h, contacts);
      for (const physics::Contact& c : contacts) {
        const int entity = body_entity[size_t(c.body)];
        const int other = c.other >= 0 ? body_entity[size_t(c.other)] : c.other;
        Event e;
        e.kind = EventKind::Impact;
        e.time = c.time;
        e.entity = entity;
        e.other = other;
        e.material = objects[size_t(entity)].geo.material;
        e.speed = c.speed;
        events.push_back(std::move(e));
        const float amount = 0.3f * std::min(1.0f, c.speed / 6.0f);
        for (int who : {entity, other}) {
          if (who < 0) continue;
          auto& slot = last_impact[size_t(who)];
          if (c.time > slot.first + 0.03 || amount > slot.second) slot = {c.time, amount};
        }
      }
      for (size_t b = 0; b < world.bodies().size(); ++b) {
        physics::Body& body = world.bodies()[b];
        const ObjectPlan& p = objects[size_t(body_entity[b])];
        if (!body.present) continue;
        if (p.spec.kind == ObjectKind::Balloon && body.y > 14.0f) body.present = false;  // gone up
      }
    };
    for (int f = 0; f < frame_count; ++f) {
      const double t_frame = timeline.frames[size_t(f)].time;
      while (world.time() + 1e-12 < t_frame) advance();
      // interpolate between the substeps around the frame's time
      const double alpha = world.time() > 0 ? std::clamp(1.0 - (world.time() - t_frame) / h, 0.0, 1.0) : 1.0;
      FrameState& frame = timeline.frames[size_t(f)];
      for (size_t b = 0; b < world.bodies().size(); ++b) {
        const physics::Body& now = world.bodies()[b];
        const physics::Body& before = previous[b];
        const int entity = body_entity[b];
        const ObjectPlan& p = objects[size_t(entity)];
        const float a = float(alpha);
        auto mix = [a](float u, float v) { return u + (v - u) * a; };
        EntityPose& pose = frame.entities[size_t(entity)];
        pose.x = mix(before.x, now.x);
        const float centre_y = mix(before.y, now.y);
        pose.z = now.z;
        pose.angle = mix(before.angle, now.angle);
        pose.y = centre_y;
        if (p.spec.kind == ObjectKind::Box)  // its lowest corner when turned
          pose.y -= now.half_width * std::fabs(std::sin(pose.angle)) + now.half_height * std::fabs(std::cos(pose.angle));
        else if (p.bottom_anchored)
          pose.y -= now.half_height;
        pose.vx = mix(before.vx, now.vx);
        pose.vy = mix(before.vy, now.vy);
        pose.on_ground = now.on_ground;
        pose.present = now.present;
        pose.squash = squash_at(entity, t_frame);
        if (p.spec.kind == ObjectKind::Car) {
          if (p.spin_rate > 0) pose.heading = std::cos(p.spin_rate * float(t_frame)) >= 0 ? p.dir : -p.dir;
          else pose.heading = std::fabs(pose.vx) > 0.1f ? (pose.vx > 0 ? 1.0f : -1.0f) : p.dir;
          pose.angle = 0;
        } else {
          pose.heading = p.dir != 0 ? p.dir : 1.0f;
        }
      }
    }
    // the sound runs to the clip's end, past the last frame: so do the impacts
    if (!world.bodies().empty())
      while (world.time() + h <= seconds + 1e-12) advance();
  }

  // --- scripted poses: birds and characters
  for (int f = 0; f < frame_count; ++f) {
    FrameState& frame = timeline.frames[size_t(f)];
    for (int i = 0; i < n_objects; ++i) {
      const ObjectPlan& p = objects[size_t(i)];
      if (p.spec.kind != ObjectKind::Bird) continue;
      const BirdState s = bird_at(p, frame.time);
      EntityPose& pose = frame.entities[size_t(i)];
      pose.x = s.x, pose.y = s.y, pose.z = p.lane;
      pose.heading = s.heading;
      pose.wing_phase = s.wing_phase;
      pose.vx = s.vx, pose.vy = s.vy;
      pose.present = s.present;
      pose.on_ground = s.on_ground;
    }
    for (int c = 0; c < n_characters; ++c) pose_character(characters[size_t(c)], frame.time, frame.entities[size_t(n_objects + c)]);
  }

  // --- camera
  film(spec, objects, characters, timeline);

  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  return timeline;
}

}  // namespace opsis::studio
