// The world's physical rules: what each thing is made of and how rigid bodies move.
#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "studio/physics.hpp"
#include "studio/world.hpp"

namespace opsis::studio {

Geometry geometry(const ObjectSpec& object) {
  const bool large = object.size == Size::Large;
  switch (object.kind) {
    case ObjectKind::Ball:  // a football; a large exercise ball
      return large ? Geometry{0.9f, 0.9f, 1.2f, 0.72f, "rubber"} : Geometry{0.4f, 0.4f, 0.45f, 0.78f, "rubber"};
    case ObjectKind::Box:  // a wooden crate
      return large ? Geometry{0.8f, 0.8f, 20.0f, 0.2f, "wood"} : Geometry{0.4f, 0.4f, 4.0f, 0.25f, "wood"};
    case ObjectKind::Balloon:  // width = diameter, height includes the knot
      return large ? Geometry{0.7f, 0.8f, 0.02f, 0.6f, "latex"} : Geometry{0.4f, 0.46f, 0.01f, 0.6f, "latex"};
    case ObjectKind::Bird:  // width = wingspan: a sparrow; a gull
      return large ? Geometry{0.9f, 0.3f, 0.5f, 0.3f, "feather"} : Geometry{0.3f, 0.12f, 0.03f, 0.3f, "feather"};
    case ObjectKind::Car:  // width = length: a city car; a saloon
      return large ? Geometry{4.2f, 1.5f, 1400.0f, 0.05f, "metal"} : Geometry{2.6f, 1.2f, 800.0f, 0.05f, "metal"};
  }
  throw InvalidArgument("objects", "unknown object kind");
}

Geometry geometry(const CharacterSpec&) { return Geometry{0.5f, 1.7f, 70.0f, 0.1f, "person"}; }

namespace physics {
namespace {

// Smallest tau in [0, dt] where y0 + v0 tau + a tau^2 / 2 crosses 0 downwards, given y0 >= 0
// and a negative value at dt.
double first_crossing(double y0, double v0, double a, double dt) {
  if (y0 <= 0) return 0;
  if (std::fabs(a) < 1e-9) return v0 < 0 ? std::min(dt, -y0 / v0) : dt;
  const double disc = v0 * v0 - 2.0 * a * y0;
  if (disc < 0) return dt;
  const double s = std::sqrt(disc);
  double best = dt;
  for (double r : {(-v0 - s) / a, (-v0 + s) / a})
    if (r >= 0 && r < best) best = r;
  return best;
}

}  // namespace

World::World(std::vector<Body> bodies, float gravity, float wall_x)
    : bodies_(std::move(bodies)), gravity_(gravity), wall_x_(wall_x) {
  for (auto& b : bodies_) keep_inside(b);
}

void World::step(double dt, std::vector<Contact>& contacts) {
  const int n = int(bodies_.size());
  for (int i = 0; i < n; ++i) integrate(i, dt, contacts);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) collide_pair(i, j, dt, contacts);
  time_ += dt;
}

void World::keep_inside(Body& b) {
  if (!b.present) return;
  if (b.bottom() < 0) {
    b.y = b.half_height;
    if (b.vy < 0) b.vy = 0;
    b.on_ground = true;
  }
  if (b.confined) {
    if (b.x + b.half_width > wall_x_) {
      b.x = wall_x_ - b.half_width;
      if (b.vx > 0) b.vx = 0;
    }
    if (b.x - b.half_width < -wall_x_) {
      b.x = -wall_x_ + b.half_width;
      if (b.vx < 0) b.vx = 0;
    }
  }
}

void World::integrate(int index, double dt, std::vector<Contact>& contacts) {
  Body& b = bodies_[size_t(index)];
  if (!b.present || b.held) {
    b.angle += b.omega * float(dt);
    return;
  }
  double ax = b.push_x - b.drag * b.vx;
  double ay = -gravity_ + b.lift - b.drag * b.vy;
  if (b.drive_rate > 0) ax += (b.drive_speed - b.vx) * b.drive_rate;
  if (b.anchored) {
    ax += -b.anchor_stiffness * (b.x - b.anchor_x) - b.anchor_damping * b.vx;
    ay += -b.anchor_stiffness * (b.y - b.anchor_y) - b.anchor_damping * b.vy;
  }
  const bool resting = b.on_ground && b.bottom() <= 1e-4f && ay <= 0 && b.vy <= 0;
  bool friction_applied = false;
  if (resting) {
    ay = 0;
    b.vy = 0;
    b.y = b.half_height;
    if (b.ground_friction > 0) {
      const double decel = b.ground_friction;
      if (std::fabs(b.vx) <= decel * dt && std::fabs(ax) <= decel) {
        b.vx = 0;  // static friction holds it
        ax = 0;
      } else {
        ax -= (b.vx != 0 ? (b.vx > 0 ? 1 : -1) : (ax > 0 ? 1 : -1)) * decel;
        friction_applied = true;
      }
    }
  } else {
    b.on_ground = false;
  }

  const double x0 = b.x, vx0 = b.vx, y0 = b.y, vy0 = b.vy;
  double x1 = x0 + vx0 * dt + 0.5 * ax * dt * dt;
  double vx1 = vx0 + ax * dt;
  if (friction_applied && vx0 * vx1 < 0) {
    // friction stops a slide; it never reverses it
    const double t_stop = -vx0 / ax;
    x1 = x0 + vx0 * t_stop + 0.5 * ax * t_stop * t_stop;
    vx1 = 0;
  }
  double y1 = y0 + vy0 * dt + 0.5 * ay * dt * dt;
  double vy1 = vy0 + ay * dt;

  // ground
  if (!resting && y1 - b.half_height < 0) {
    const double tau = first_crossing(std::max(0.0, y0 - b.half_height), vy0, ay, dt);
    const double speed = -(vy0 + ay * tau);
    if (speed >= kMinImpactSpeed) contacts.push_back({time_ + tau, index, -1, float(speed)});
    const double rebound = std::max(0.0, speed) * b.restitution;
    if (rebound < kSettleSpeed && ay <= 0) {
      y1 = b.half_height;
      vy1 = 0;
      b.on_ground = true;
    } else {
      const double rest = dt - tau;
      y1 = b.half_height + std::max(0.0, rebound * rest + 0.5 * ay * rest * rest);
      vy1 = rebound + ay * rest;
    }
  }

  // walls
  if (b.confined) {
    for (int side : {1, -1}) {
      const double limit = side * (wall_x_ - b.half_width);
      const double gap0 = side * (limit - x0);  // >= 0 inside
      const double gap1 = side * (limit - x1);
      if (gap1 >= 0) continue;
      // gap(tau) = gap0 - side * (vx0 tau + ax tau^2 / 2)
      const double tau = first_crossing(std::max(0.0, gap0), -side * vx0, -side * ax, dt);
      const double speed = side * (vx0 + ax * tau);
      if (speed >= kMinImpactSpeed) contacts.push_back({time_ + tau, index, -2, float(speed)});
      const double rebound = std::max(0.0, speed) * b.restitution;
      x1 = limit - side * rebound * (dt - tau);
      vx1 = -side * rebound;
    }
  }

  b.x = float(x1);
  b.vx = float(vx1);
  b.y = float(y1);
  b.vy = float(vy1);
  if (b.rolls && b.on_ground) {
    b.omega = -b.vx / b.half_width;
    b.angle -= float((x1 - x0) / b.half_width);
  } else {
    b.angle += b.omega * float(dt);
  }
}

void World::collide_pair(int ia, int ib, double dt, std::vector<Contact>& contacts) {
  Body& a = bodies_[size_t(ia)];
  Body& b = bodies_[size_t(ib)];
  if (!a.present || !b.present || !a.collides || !b.collides) return;
  if (std::fabs(a.z - b.z) >= a.half_depth + b.half_depth) return;
  float inv_a = a.inverse_mass(), inv_b = b.inverse_mass();
  if (inv_a + inv_b == 0) return;

  // n: unit normal from a towards b; depth: overlap along it (metres)
  float nx = 0, ny = 1, depth = 0;
  const float dx = b.x - a.x, dy = b.y - a.y;
  if (a.shape == Shape::Circle && b.shape == Shape::Circle) {
    const float dist = std::sqrt(dx * dx + dy * dy);
    depth = a.half_width + b.half_width - dist;
    if (depth <= 0) return;
    if (dist > 1e-6f) nx = dx / dist, ny = dy / dist;
  } else if (a.shape == Shape::Box && b.shape == Shape::Box) {
    const float ox = a.half_width + b.half_width - std::fabs(dx);
    const float oy = a.half_height + b.half_height - std::fabs(dy);
    if (ox <= 0 || oy <= 0) return;
    if (ox < oy) nx = dx >= 0 ? 1.0f : -1.0f, ny = 0, depth = ox;
    else nx = 0, ny = dy >= 0 ? 1.0f : -1.0f, depth = oy;
  } else {
    // one circle, one box; work from the circle's side then orient the normal a -> b
    const bool a_is_circle = a.shape == Shape::Circle;
    const Body& circle = a_is_circle ? a : b;
    const Body& box = a_is_circle ? b : a;
    const float cx = std::clamp(circle.x, box.x - box.half_width, box.x + box.half_width);
    const float cy = std::clamp(circle.y, box.y - box.half_height, box.y + box.half_height);
    float ex = cx - circle.x, ey = cy - circle.y;  // circle centre -> closest point of the box
    const float dist = std::sqrt(ex * ex + ey * ey);
    float mx, my;  // circle -> box
    if (dist > 1e-6f) {
      depth = circle.half_width - dist;
      if (depth <= 0) return;
      mx = ex / dist, my = ey / dist;
    } else {  // centre inside the box: leave along the shallowest axis
      const float px = box.half_width - std::fabs(circle.x - box.x);
      const float py = box.half_height - std::fabs(circle.y - box.y);
      if (px < py) mx = circle.x < box.x ? 1.0f : -1.0f, my = 0, depth = px + circle.half_width;
      else mx = 0, my = circle.y < box.y ? 1.0f : -1.0f, depth = py + circle.half_width;
    }
    nx = a_is_circle ? mx : -mx;
    ny = a_is_circle ? my : -my;
  }

  // A body pressed into the ground or a wall it touches cannot give way: the support takes
  // the push (as if its mass were infinite along the normal).
  auto supported = [this](const Body& body, float push_x, float push_y) {
    if (body.bottom() <= 1e-3f && push_y < -0.5f) return true;
    if (!body.confined) return false;
    return (body.x + body.half_width >= wall_x_ - 1e-3f && push_x > 0.5f) ||
           (body.x - body.half_width <= -wall_x_ + 1e-3f && push_x < -0.5f);
  };
  if (supported(a, -nx, -ny)) inv_a = 0;
  if (supported(b, nx, ny)) inv_b = 0;
  if (inv_a + inv_b == 0) return;

  const float vn = (b.vx - a.vx) * nx + (b.vy - a.vy) * ny;  // < 0: closing
  if (vn < 0) {
    const float e = std::min(a.restitution, b.restitution);
    const float j = -(1 + e) * vn / (inv_a + inv_b);
    a.vx -= j * inv_a * nx, a.vy -= j * inv_a * ny;
    b.vx += j * inv_b * nx, b.vy += j * inv_b * ny;
    if (-vn >= kMinImpactSpeed) {
      const double back = std::min(double(depth) / double(-vn), dt);
      contacts.push_back({time_ + dt - back, ia, ib, -vn});
    }
  }
  const float correction = std::max(0.0f, depth - 5e-4f) / (inv_a + inv_b);
  a.x -= nx * correction * inv_a, a.y -= ny * correction * inv_a;
  b.x += nx * correction * inv_b, b.y += ny * correction * inv_b;
  keep_inside(a);
  keep_inside(b);
}

}  // namespace physics
}  // namespace opsis::studio
