#pragma once
// The simulated world over time: what the physics, the characters and the camera do, before
// anything is drawn or heard. simulate() produces it; the renderer draws each FrameState,
// the sound synthesiser plays the events and motions, and the truth is read from both.
//
// World coordinates are metres: x to the right, y up, z away from the camera's start.
// The ground is the plane y = 0; the stage is centred on (0, 0, kStageZ).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "studio/spec.hpp"

namespace opsis::studio {

inline constexpr float kStageZ = 8.0f;       // centre of the action
// Things start within x = +-kStageHalfWidth (a wide shot frames 10 m across the frame's
// shorter side there). The stage has no walls: what moves sideways moves on, out of the
// frame if it goes far enough. The only walls are the living room's, drawn at
// x = +-kRoomHalfWidth (its back wall is far behind everything).
inline constexpr float kStageHalfWidth = 5.0f;
inline constexpr float kRoomHalfWidth = 7.0f;

// Physical size of an entity. Balls and balloons: radius. Boxes: width = height = depth.
// Cars: length (x) and height. Birds: wingspan. Characters: standing height.
struct Geometry {
  float width = 0;   // metres, extent along x at rest
  float height = 0;  // metres, extent along y at rest
  float mass = 1;    // kilograms, for collisions
  float restitution = 0.5f;
  std::string material;  // "rubber", "wood", "latex", "feather", "metal", "person"
};
Geometry geometry(const ObjectSpec& object);
Geometry geometry(const CharacterSpec& character);

// Where an entity is and how it is posed in one frame. Entities are indexed objects first,
// then characters, in spec order.
//
// y is the bottom of balls, boxes (the lowest corner of a turned box), cars and characters
// (0 = standing on the ground) and the centre of the body of balloons (of the round part,
// diameter = width; the knot hangs below) and birds.
// Depth lanes: objects at z = kStageZ (a crowded stage puts them at kStageZ -+ 0.5); each
// ball, box or balloon asked to move left or right in a lane of its own just behind them (so
// that nothing it could meet turns it round); driving cars on a road behind those (from
// kStageZ + 1.5 going right, + 2.5 going left, farther back when the lanes in front need the
// room); birds at 6.8, characters in front at 6.6 and 7.1.
struct EntityPose {
  float x = 0, y = 0, z = kStageZ;  // bottom centre (grounded things) or centre (fliers), metres
  float angle = 0;                  // rotation in the picture plane, radians, counter-clockwise
                                    // as seen by the camera (a ball rolling right turns negative)
  float heading = 1;                // +1 facing right, -1 facing left
  float squash = 0;                 // 0 at rest, up to ~0.3 at a hard impact (drawn as squash)
  bool present = true;              // false once it has left the world (a balloon gone up)
  // characters
  float walk_phase = 0;  // radians; legs swing with sin(walk_phase), a footstep at each pi
  float arm_raise = 0;   // 0 arms down .. 1 right arm fully up (waving)
  float wave_phase = 0;  // radians; the raised hand swings with sin(wave_phase)
  float mouth_open = 0;  // 0 closed .. 1 wide open
  int viseme = 0;        // mouth shape: see Viseme
  // birds
  float wing_phase = 0;  // radians; wings up at sin > 0
  // added by the world: velocity (m/s) for rolling rumble, car hum pitch, motion truth
  float vx = 0, vy = 0;
  bool on_ground = false;  // touching the ground: resting, rolling, sliding, driving, perched
  bool side_on = false;    // characters: seen in profile facing `heading` (walking); else facing the camera
};

// Mouth shapes a phoneme maps to (the renderer draws each differently).
enum Viseme : int { kRest = 0, kOpen = 1, kRound = 2, kWide = 3, kLipsClosed = 4, kTeethLip = 5 };

struct CameraPose {
  float x = 0, y = 1.6f, z = 0;  // position, metres
  float yaw = 0;    // radians, > 0 turns right
  float pitch = 0;  // radians, > 0 looks up
  float focal = 1;  // focal length in units of the frame's shorter side
  int shot = 0;     // index into SceneSpec::shots
};

struct FrameState {
  double time = 0;  // seconds from the clip's start: frame index / fps
  CameraPose camera;
  std::vector<EntityPose> entities;
};

enum class EventKind { Impact, Footstep, Phoneme, Cut, WingFlap, Chirp };
inline constexpr const char* kEventKindNames[] = {"impact", "footstep", "phoneme", "cut", "wing_flap", "chirp"};

struct Event {
  EventKind kind = EventKind::Impact;
  double time = 0;   // seconds, exact (not rounded to a frame)
  int entity = -1;   // who made it; -1 for cuts
  int other = -1;    // Impact: the other entity; -1 the ground, -2 a wall
  std::string material;  // Impact: the entity's material; Footstep: the ground's ("grass", "sand", ...)
  float speed = 0;       // Impact: closing speed along the contact normal, m/s; Footstep: walk speed
                         // (a jump's landing: the landing speed); WingFlap: the bird's speed
  std::string phoneme;   // Phoneme: espeak-ng's phoneme mnemonic
  double duration = 0;   // Phoneme: seconds
  int shot = -1;         // Cut: the shot that starts
};

// One character's spoken line, placed on the clip's clock.
struct SpeechTrack {
  int entity = -1;
  double start = 0;  // seconds into the clip where pcm begins
  Audio pcm;         // mono, at the timeline's sample rate
};

struct Timeline {
  int fps = 24;
  int sample_rate = 48000;
  std::vector<FrameState> frames;  // one per output frame: round(seconds * fps)
  std::vector<Event> events;       // sorted by time
  std::vector<SpeechTrack> speech;
};

// Runs the world: physics (gravity, restitution, friction, collisions with the ground, the
// living room's walls and each other, momentum conserved), character actions, dialogue
// timing, and the camera through each shot. Deterministic for (spec, seed, fps, sample_rate).
//
// An object asked to move left or right (rolls, flies) ends the clip displaced that way: it
// meets nothing in its lane, the stage has no walls, and in the living room it is launched
// gently enough to come to rest before the far wall (a balloon blown along, or a car driving,
// may end against that wall, which the picture shows).
Timeline simulate(const SceneSpec& spec, uint64_t seed, int fps, int sample_rate);

// Pinhole projection of a world point into a width x height frame.
struct Projected {
  float u = 0, v = 0;           // pixels, origin top-left
  float depth = 0;              // metres along the view axis
  float pixels_per_metre = 0;   // scale at that depth
  bool in_front = false;        // depth > near plane
};

inline Projected project(const CameraPose& c, float x, float y, float z, int width, int height) {
  const float dx = x - c.x, dy = y - c.y, dz = z - c.z;
  const float cy = std::cos(c.yaw), sy = std::sin(c.yaw);
  const float xr = cy * dx - sy * dz;
  const float zr = sy * dx + cy * dz;
  const float cp = std::cos(c.pitch), sp = std::sin(c.pitch);
  const float yr = cp * dy - sp * zr;
  const float depth = sp * dy + cp * zr;
  Projected p;
  p.depth = depth;
  p.in_front = depth > 0.05f;
  if (!p.in_front) return p;
  const float f = c.focal * float(width < height ? width : height);
  p.pixels_per_metre = f / depth;
  p.u = 0.5f * width + f * xr / depth;
  p.v = 0.5f * height - f * yr / depth;
  return p;
}

}  // namespace opsis::studio
