#pragma once
// Rigid bodies of the studio world in the x-y plane of their depth lane: gravity, buoyancy,
// drag, ground friction, restitution, collisions with the ground, the walls (for confined
// bodies: simulate() confines things only in the living room, whose walls are drawn) and each other
// (impulses along the contact normal, so momentum is conserved). simulate() drives it;
// world.cpp implements it. Internal to the studio world.
#include <cstdint>
#include <vector>

namespace opsis::studio::physics {

inline constexpr double kSubstep = 1.0 / 480.0;  // seconds
inline constexpr float kGravity = 9.81f;         // m/s^2
inline constexpr float kMinImpactSpeed = 0.3f;   // m/s; slower contacts make no event
inline constexpr float kSettleSpeed = 0.35f;     // m/s; a slower rebound from the ground comes to rest

enum class Shape { Circle, Box };

struct Body {
  Shape shape = Shape::Circle;
  float half_width = 0.2f;   // circle: radius (half_width == half_height)
  float half_height = 0.2f;
  float half_depth = 0.2f;   // extent of its lane along z
  float z = 7.5f;            // lane centre
  float mass = 1;            // kg
  float restitution = 0.5f;
  bool held = false;         // kept in place by its script: infinite mass, no forces
  bool confined = true;      // bounces off the walls at x = +-wall_x
  bool collides = true;      // takes part in body-body collisions
  bool present = true;       // false once gone: no forces, no collisions
  bool rolls = false;        // a circle on the ground turns with angle -= dx / r

  // Forces, as accelerations (m/s^2) constant over one substep.
  float lift = 0;            // upward, against gravity (balloons)
  float drag = 0;            // 1/s, air drag proportional to velocity
  float ground_friction = 0; // m/s^2 deceleration while on the ground (rolling or sliding)
  float push_x = 0;          // horizontal push (wind on a balloon), set by the script
  float drive_speed = 0;     // a car's engine pulls vx towards this ...
  float drive_rate = 0;      // ... at this rate (1/s); 0 = no engine
  bool anchored = false;     // a tether pulls it towards (anchor_x, anchor_y)
  float anchor_x = 0, anchor_y = 0, anchor_stiffness = 0, anchor_damping = 0;

  // State. (x, y) is the centre.
  float x = 0, y = 0, vx = 0, vy = 0;
  float angle = 0, omega = 0;  // radians, rad/s (counter-clockwise)
  bool on_ground = false;

  float inverse_mass() const { return held || !present ? 0.0f : 1.0f / mass; }
  float bottom() const { return y - half_height; }
};

// One contact that made a sound: time within the substep interpolated, closing speed along
// the normal in m/s. other: a body index, -1 the ground, -2 a wall.
struct Contact {
  double time = 0;
  int body = -1;
  int other = -1;
  float speed = 0;
};

class World {
 public:
  explicit World(std::vector<Body> bodies, float gravity = kGravity, float wall_x = 7.0f);

  // Advances by `dt` (normally kSubstep), appending the contacts faster than kMinImpactSpeed.
  void step(double dt, std::vector<Contact>& contacts);

  double time() const { return time_; }
  std::vector<Body>& bodies() { return bodies_; }
  const std::vector<Body>& bodies() const { return bodies_; }

 private:
  void integrate(int index, double dt, std::vector<Contact>& contacts);
  void collide_pair(int a, int b, double dt, std::vector<Contact>& contacts);
  void keep_inside(Body& body);

  std::vector<Body> bodies_;
  float gravity_;
  float wall_x_;
  double time_ = 0;
};

}  // namespace opsis::studio::physics
