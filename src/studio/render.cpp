#include "studio/render.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "studio/render_raster.hpp"
#include "studio/render_scenery.hpp"

namespace opsis::studio {

using raster::Annulus;
using raster::Blend;
using raster::Canvas;
using raster::Circle;
using raster::Ellipse;
using raster::Polygon;
using raster::Rect;
using raster::RoundBox;
using raster::Rgb;
using raster::Segment;
using raster::Vec2;
using render_detail::hash32;
using render_detail::Light;
using render_detail::Look;
using render_detail::Scenery;
using render_detail::unit;
using render_detail::View;

namespace {

constexpr float kPi = 3.14159265358979f;

Rgb rgb(float r, float g, float b) { return {r, g, b}; }

// The eight object and shirt colours, far apart in hue or value so they stay distinct at
// 128 px and at night.
constexpr std::array<Rgb, 8> kPalette{{{222, 36, 36},
                                       {250, 132, 20},
                                       {248, 216, 36},
                                       {40, 170, 64},
                                       {34, 92, 230},
                                       {140, 56, 196},
                                       {242, 242, 238},
                                       {30, 30, 34}}};
constexpr Rgb kHat{58, 46, 40}, kGlassesFrame{24, 24, 30};
constexpr std::array<Rgb, 5> kSkin{{{255, 226, 212}, {240, 192, 156}, {204, 148, 100}, {160, 106, 66}, {92, 58, 38}}};
constexpr std::array<Rgb, 6> kHair{{{26, 22, 22}, {110, 66, 32}, {238, 204, 110}, {188, 62, 26}, {170, 170, 172}, {40, 96, 230}}};

float smoothstep(float a, float b, float x) {
  const float t = std::clamp((x - a) / (b - a), 0.0f, 1.0f);
  return t * t * (3 - 2 * t);
}

// Letterbox bar height for the anamorphic 2.39:1 frame inside width x height.
int letterbox_bar(int width, int height) {
  const double aspect = double(width) / double(height);
  if (aspect >= 2.39) return 0;
  return int(std::lround(double(height) * (1.0 - aspect / 2.39) / 2.0));
}

struct Entity {
  bool is_character = false;
  ObjectSpec object;
  CharacterSpec character;
  Geometry geo;
  Rgb color, dark, light, outline;  // graded body colours (objects) or shirt (characters)
  Rgb skin, skin_dark, hair, trousers, shoes;
};

// A body drawn in local metres: origin at (u0, v0) on screen, s pixels per metre, x mirrored
// when facing left.
struct Frame2 {
  float u0, v0, s, mirror = 1;
  Vec2 operator()(float x, float y) const { return {u0 + s * mirror * x, v0 - s * y}; }
};

// stretch > 1: a long low-sun shadow cast toward -x (the golden-hour sun is to the right).
void draw_shadow(Canvas& canvas, const View& view, float x, float z, float half_width, float height_above, float strength,
                 float stretch = 1) {
  x -= (stretch - 1) * half_width;
  const Projected p = project(view.pose, x, 0, z, view.width, view.height);
  if (!p.in_front) return;
  const Projected q = project(view.pose, x, 0, z + half_width, view.width, view.height);
  const float rx = half_width * stretch * p.pixels_per_metre;
  const float ry = std::max(std::abs(q.v - p.v) * (q.in_front ? 1.0f : 0.3f), rx * 0.12f / stretch);
  const float fade = std::clamp(1.0f - height_above / 4.0f, 0.15f, 1.0f);
  Rect* saved = canvas.record;
  canvas.record = nullptr;
  const float grow = 1.2f - 0.3f * fade;
  // Softness follows the short axis so the fill's extent (padded by half the softness) holds the whole ramp.
  raster::fill(canvas, Ellipse{p.u, p.v, rx * grow, ry * grow, 0}, rgb(0, 0, 0), strength * fade, std::max(1.0f, 0.8f * ry * grow));
  canvas.record = saved;
}

// --- objects --------------------------------------------------------------------------

void draw_ball(Canvas& canvas, const Entity& e, const EntityPose& pose, const Projected& p) {
  const float r = 0.5f * e.geo.width * p.pixels_per_metre;
  const float sq = std::clamp(pose.squash, 0.0f, 0.6f);
  const float rx = r * (1 + 0.6f * sq), ry = r * (1 - sq);
  const float cx = p.u, cy = p.v - ry;
  const float a = -pose.angle;  // screen rotation, clockwise positive (y down)
  const float ca = std::cos(a), sa = std::sin(a);
  const Ellipse body{cx, cy, rx, ry, 0};
  raster::fill(canvas, raster::offset(body, std::max(0.5f, 0.06f * r)), e.outline);
  raster::fill(canvas, body, [&](float x, float y) {
    const float nx = (x - cx) / rx, ny = (y - cy) / ry;
    const float nz = std::sqrt(std::max(0.0f, 1 - nx * nx - ny * ny));
    const float diffuse = 0.55f + 0.5f * std::max(0.0f, -0.45f * nx - 0.55f * ny + 0.7f * nz);
    // Pattern rotates with the ball: a stripe through the centre and a spot.
    const float lx = ca * nx + sa * ny, ly = -sa * nx + ca * ny;
    const float stripe = std::clamp((0.2f - std::abs(ly)) * r + 0.5f, 0.0f, 1.0f);
    const float sx = lx - 0.5f, sy = ly + 0.55f;
    const float spot = std::clamp((0.2f - std::sqrt(sx * sx + sy * sy)) * r + 0.5f, 0.0f, 1.0f);
    Rgb c = raster::mix(e.color, e.dark, std::max(stripe, spot));
    c = c * diffuse;
    const float hx = nx + 0.38f, hy = ny + 0.42f;
    const float spec = std::max(0.0f, 1.0f - (hx * hx + hy * hy) * 9.0f);
    return raster::mix(c, rgb(255, 255, 255), 0.55f * spec);
  });
}

void draw_box(Canvas& canvas, const Entity& e, const EntityPose& pose, const Projected& p) {
  const float side = e.geo.width * p.pixels_per_metre;
  const float sq = std::clamp(pose.squash, 0.0f, 0.6f);
  const float hx = 0.5f * side * (1 + 0.5f * sq), hy = 0.5f * e.geo.height * p.pixels_per_metre * (1 - sq);
  const float a = -pose.angle;
  // A box turned by a stays on the ground by its lowest corner.
  const float reach = hx * std::abs(std::sin(a)) + hy * std::abs(std::cos(a));
  const float cx = p.u, cy = p.v - reach;
  const RoundBox body{cx, cy, hx, hy, 0.08f * hx, a};
  raster::fill(canvas, raster::offset(body, std::max(0.5f, 0.05f * hx)), e.outline);
  const float ca = std::cos(a), sa = std::sin(a);
  raster::fill(canvas, body, [&](float x, float y) {
    const float lx = (ca * (x - cx) + sa * (y - cy)) / hx, ly = (-sa * (x - cx) + ca * (y - cy)) / hy;
    const float edge = std::max(std::abs(lx), std::abs(ly));
    const float bevel = std::clamp((edge - 0.8f) * hx + 0.5f, 0.0f, 1.0f);
    // Planks: two lines across the face that turn with the box.
    const float plank = std::clamp((0.05f - std::abs(std::abs(ly) - 0.3f)) * hy + 0.5f, 0.0f, 1.0f);
    Rgb c = raster::mix(e.color, e.light, 0.35f * std::clamp(-(lx + ly) * 0.5f, 0.0f, 1.0f));
    c = raster::mix(c, e.dark, std::max(bevel * 0.8f, plank * 0.7f));
    return c;
  });
}

void draw_balloon(Canvas& canvas, const Entity& e, const EntityPose& pose, const Projected& p, double time) {
  const float s = p.pixels_per_metre;
  const float rx = 0.5f * e.geo.width * s, ry = 0.5f * (e.geo.height - 0.06f) * s * 1.0f;
  const float cx = p.u, cy = p.v;
  const float a = -pose.angle;
  const float sq = std::clamp(pose.squash, 0.0f, 0.6f);
  // String hangs below the knot and sways.
  const Vec2 knot{cx - std::sin(a) * ry, cy + std::cos(a) * ry};
  Vec2 prev = knot;
  const float sway = std::sin(float(time) * 2.1f + pose.x) * 0.12f * ry;
  for (int i = 1; i <= 4; ++i) {
    const float t = float(i) / 4;
    const Vec2 next{knot.x + sway * std::sin(t * kPi) + 0.1f * ry * t, knot.y + 2.2f * ry * t};
    raster::fill(canvas, Segment{prev, next, std::max(0.35f, 0.012f * s), std::max(0.35f, 0.012f * s)}, rgb(235, 235, 230) * 0.8f);
    prev = next;
  }
  const Ellipse body{cx, cy, rx * (1 + 0.5f * sq), ry * (1 - sq), a};
  raster::fill(canvas, raster::offset(body, std::max(0.5f, 0.05f * rx)), e.outline);
  raster::fill(canvas, Polygon{{knot.x - 0.18f * rx, knot.y + 0.12f * ry}, {knot.x + 0.18f * rx, knot.y + 0.12f * ry}, {knot.x, knot.y - 0.05f * ry}},
               e.dark);
  raster::fill(canvas, body, [&](float x, float y) {
    const float nx = (x - cx) / rx, ny = (y - cy) / ry;
    const float d = std::sqrt(nx * nx + ny * ny);
    Rgb c = e.color * (1.05f - 0.25f * d);
    const float hx = nx + 0.4f, hy = ny + 0.45f;
    const float spec = std::max(0.0f, 1.0f - (hx * hx * 4 + hy * hy) * 12.0f);
    return raster::mix(c, rgb(255, 255, 255), 0.6f * spec);
  });
}

void draw_bird(Canvas& canvas, const Entity& e, const EntityPose& pose, const Projected& p) {
  const float span = e.geo.width;
  const Frame2 F{p.u, p.v, p.pixels_per_metre, pose.heading < 0 ? -1.0f : 1.0f};
  const float flap = std::sin(pose.wing_phase);
  auto wing = [&](float depth_shift, Rgb c) {
    const Vec2 root_front = F(0.06f * span + depth_shift, 0.02f * span), root_back = F(-0.1f * span + depth_shift, 0.02f * span);
    const Vec2 tip = F(-0.12f * span + depth_shift, flap * 0.42f * span + 0.02f * span);
    const Vec2 mid = F(-0.02f * span + depth_shift, flap * 0.22f * span + 0.03f * span);
    raster::fill(canvas, Polygon{root_front, mid, tip, root_back}, c);
  };
  wing(0.03f * span, e.dark);
  const Vec2 body_c = F(0, 0);
  const Ellipse body{body_c.x, body_c.y, 0.24f * span * F.s, 0.09f * span * F.s, 0};
  // Tail.
  raster::fill(canvas, Polygon{F(-0.18f * span, 0.01f * span), F(-0.34f * span, 0.06f * span), F(-0.34f * span, -0.05f * span)},
               e.dark);
  raster::fill(canvas, raster::offset(body, std::max(0.5f, 0.05f * body.ry)), e.outline);
  raster::fill(canvas, body, [&](float, float y) { return raster::mix(e.light, e.color, std::clamp((y - body_c.y) / body.ry + 0.6f, 0.0f, 1.0f)); });
  const Vec2 head = F(0.22f * span, 0.06f * span);
  raster::fill(canvas, Circle{head.x, head.y, 0.085f * span * F.s}, e.color);
  raster::fill(canvas, Polygon{F(0.28f * span, 0.08f * span), F(0.38f * span, 0.05f * span), F(0.28f * span, 0.03f * span)},
               rgb(245, 170, 40) * 0.9f);
  const Vec2 eye = F(0.25f * span, 0.08f * span);
  raster::fill(canvas, Circle{eye.x, eye.y, 0.025f * span * F.s}, rgb(250, 250, 250));
  raster::fill(canvas, Circle{eye.x + F.mirror * 0.006f * span * F.s, eye.y, 0.014f * span * F.s}, rgb(10, 10, 10));
  wing(-0.02f * span, e.color * 0.92f);
}

void draw_car(Canvas& canvas, const Entity& e, const EntityPose& pose, const Projected& p, const Look& look,
              std::vector<Light>& lights) {
  const float L = e.geo.width, Hc = e.geo.height;
  const Frame2 F{p.u, p.v, p.pixels_per_metre, pose.heading < 0 ? -1.0f : 1.0f};
  const float s = F.s;
  const float wheel_r = 0.24f * Hc;
  // Cabin with windows.
  const Polygon cabin{F(-0.36f * L, 0.55f * Hc), F(0.24f * L, 0.55f * Hc), F(0.1f * L, Hc), F(-0.28f * L, Hc)};
  raster::fill(canvas, raster::offset(cabin, std::max(0.5f, 0.02f * Hc * s)), e.outline);
  raster::fill(canvas, cabin, e.color);
  const Rgb glass = look.night ? rgb(40, 52, 74) : rgb(150, 190, 220) * look.entity;
  raster::fill(canvas, Polygon{F(-0.31f * L, 0.6f * Hc), F(-0.07f * L, 0.6f * Hc), F(-0.07f * L, 0.93f * Hc), F(-0.25f * L, 0.93f * Hc)}, glass);
  raster::fill(canvas, Polygon{F(-0.03f * L, 0.6f * Hc), F(0.19f * L, 0.6f * Hc), F(0.07f * L, 0.93f * Hc), F(-0.03f * L, 0.93f * Hc)}, glass);
  // Body.
  const Vec2 body_c = F(0, 0.38f * Hc);
  const RoundBox body{body_c.x, body_c.y, 0.5f * L * s, 0.2f * Hc * s, 0.08f * Hc * s, 0};
  raster::fill(canvas, raster::offset(body, std::max(0.5f, 0.02f * Hc * s)), e.outline);
  raster::fill(canvas, body, [&](float, float y) {
    const float t = (y - (body_c.y - body.hy)) / (2 * body.hy);
    return raster::mix(e.light, e.dark, smoothstep(0.2f, 1.0f, t));
  });
  // Door line and handle.
  raster::fill(canvas, Segment{F(-0.05f * L, 0.22f * Hc), F(-0.05f * L, 0.56f * Hc), std::max(0.3f, 0.008f * Hc * s), std::max(0.3f, 0.008f * Hc * s)}, e.dark);
  // Lights: headlight at the front, tail light at the back.
  const Vec2 head = F(0.48f * L, 0.44f * Hc), tail = F(-0.49f * L, 0.44f * Hc);
  const bool lit = look.night || look.rain;
  raster::fill(canvas, Ellipse{head.x, head.y, 0.03f * L * s, 0.06f * Hc * s, 0}, lit ? rgb(255, 250, 220) : rgb(250, 240, 190) * look.entity);
  raster::fill(canvas, Ellipse{tail.x, tail.y, 0.015f * L * s, 0.05f * Hc * s, 0}, lit ? rgb(255, 60, 50) : rgb(190, 30, 30) * look.entity);
  if (lit) {
    Rect* saved = canvas.record;
    canvas.record = nullptr;
    const Vec2 far_end = F(1.6f * L, 0.1f * Hc), far_top = F(1.6f * L, 0.7f * Hc);
    raster::fill(canvas, Polygon{head, far_top, far_end}, [&](float x, float) {
      const float t = std::clamp(std::abs(x - head.x) / std::max(std::abs(far_end.x - head.x), 1.0f), 0.0f, 1.0f);
      return rgb(255, 240, 190) * (1 - t);
    }, 0.35f, 1.0f, Blend::Add);
    raster::glow(canvas, head.x, head.y, 0.45f * Hc * s, 0.45f * Hc * s, rgb(255, 240, 200), 0.7f);
    canvas.record = saved;
    lights.push_back({head.x, head.y, 0.06f * Hc * s, rgb(255, 245, 220), 1.0f, false});
  }
  // Wheels turn with distance travelled (angle on screen, clockwise positive).
  const float turn = pose.x / wheel_r;  // rolling: clockwise on screen while x grows
  for (int w = -1; w <= 1; w += 2) {
    const Vec2 c = F(float(w) * 0.31f * L, wheel_r);
    const float r = wheel_r * s;
    raster::fill(canvas, Circle{c.x, c.y, r}, rgb(24, 24, 26));
    raster::fill(canvas, Circle{c.x, c.y, 0.55f * r}, rgb(170, 172, 178) * look.entity);
    for (int k = 0; k < 3; ++k) {
      const float a = turn + float(k) * (2 * kPi / 3);
      raster::fill(canvas, Segment{{c.x, c.y}, {c.x + std::cos(a) * 0.5f * r, c.y + std::sin(a) * 0.5f * r}, std::max(0.3f, 0.08f * r), std::max(0.3f, 0.06f * r)},
                   rgb(90, 92, 98) * look.entity);
    }
    raster::fill(canvas, Circle{c.x, c.y, 0.14f * r}, rgb(60, 60, 64));
  }
}

// --- characters -----------------------------------------------------------------------

// Returns the mouth opening as drawn.
float draw_character(Canvas& canvas, const Entity& e, const EntityPose& pose, const Projected& p) {
  const float H = e.geo.height;
  const bool profile = pose.side_on;
  const float facing = pose.heading < 0 ? -1.0f : 1.0f;
  const Frame2 F{p.u, p.v, p.pixels_per_metre, 1};
  const float s = F.s;
  const float sq = std::clamp(pose.squash, 0.0f, 0.5f);
  const float body_scale = 1 - 0.35f * sq;  // a crouch on landing
  auto B = [&](float x, float y) { return F(x, y * body_scale); };
  const Rgb trousers = e.trousers, shoes = e.shoes;

  const float head_r = 0.1f * H;
  const float hip_y = 0.47f * H, shoulder_y = 0.75f * H, head_y = 0.885f * H;
  const float lean = -pose.angle;
  // The whole body leans about the feet by the pose angle (the idle sway).
  auto L = [&](float x, float y) {
    const float rx = x * std::cos(lean) + y * std::sin(lean);
    const float ry = -x * std::sin(lean) + y * std::cos(lean);
    return B(rx, ry);
  };

  // Legs swing with walk_phase.
  const float swing = std::sin(pose.walk_phase) * (profile ? 0.45f : 0.12f);
  const float leg_w = 0.045f * H * s;
  for (int side = -1; side <= 1; side += 2) {
    const float hip_x = profile ? 0.015f * float(side) * H : 0.06f * float(side) * H;
    const float a = float(side) * swing;
    const float knee_bend = profile ? std::max(0.0f, -std::sin(pose.walk_phase) * float(side)) * 0.25f : 0.0f;
    const Vec2 hip = L(hip_x, hip_y);
    const float leg = hip_y - 0.03f * H;
    const float kx = hip_x + std::sin(a) * leg * 0.5f * facing, ky = hip_y - std::cos(a) * leg * 0.5f;
    const float fx = kx + std::sin(a - knee_bend) * leg * 0.5f * facing, fy = std::max(0.03f * H, ky - std::cos(a - knee_bend) * leg * 0.5f);
    const Vec2 knee = L(kx, ky), foot = L(fx, fy);
    const Rgb tone = side * facing < 0 && profile ? trousers * 0.8f : trousers;
    raster::fill(canvas, Segment{hip, knee, leg_w, leg_w * 0.92f}, tone);
    raster::fill(canvas, Segment{knee, foot, leg_w * 0.92f, leg_w * 0.85f}, tone);
    const Vec2 toe = L(fx + (profile ? 0.06f * H * facing : 0.025f * float(side) * H), 0.022f * H);
    raster::fill(canvas, Segment{L(fx, 0.025f * H), toe, 0.03f * H * s, 0.026f * H * s}, shoes);
  }

  // Long hair falls behind the shoulders.
  const Vec2 head_c = L(profile ? 0.01f * H * facing : 0.0f, head_y);
  if (e.character.identity.hair_style == HairStyle::Long) {
    raster::fill(canvas, RoundBox{head_c.x, head_c.y + 0.55f * head_r * s * body_scale, 1.08f * head_r * s, 1.05f * head_r * s, 0.5f * head_r * s, lean},
                 e.hair * 0.85f);
  }

  // Arms: shoulders, elbows, hands. The character's right arm (screen left when facing the
  // camera) rises with arm_raise and waves with wave_phase.
  const float arm_w = 0.032f * H * s;
  auto draw_arm = [&](int side, bool front) {
    const float sx = profile ? 0.02f * float(side) * H : 0.13f * float(side) * H;
    const Vec2 shoulder = L(sx, shoulder_y - 0.02f * H);
    const bool raising = side < 0;
    float upper_a, lower_a;  // radians from hanging straight down, positive outward
    if (raising && pose.arm_raise > 0.001f) {
      const float wave = std::sin(pose.wave_phase) * 0.4f * pose.arm_raise;
      upper_a = pose.arm_raise * 2.2f;
      lower_a = upper_a + pose.arm_raise * 0.6f + wave;
    } else if (profile) {
      upper_a = -float(side) * std::sin(pose.walk_phase) * 0.5f;
      lower_a = upper_a + 0.25f;
    } else {
      upper_a = 0.12f;
      lower_a = 0.06f;
    }
    const float out = profile ? facing : float(side);
    const float seg = 0.15f * H;
    const float ex = sx + std::sin(upper_a) * seg * out, ey = shoulder_y - 0.02f * H - std::cos(upper_a) * seg;
    const float hx = ex + std::sin(lower_a) * seg * out, hy = ey - std::cos(lower_a) * seg;
    const Vec2 elbow = L(ex, ey), hand = L(hx, hy);
    const Rgb sleeve = front ? e.color : e.dark;
    raster::fill(canvas, Segment{shoulder, elbow, arm_w * 1.15f, arm_w}, sleeve);
    raster::fill(canvas, Segment{elbow, hand, arm_w * 0.9f, arm_w * 0.8f}, front ? e.skin : e.skin_dark);
    raster::fill(canvas, Circle{hand.x, hand.y, arm_w * 1.15f}, front ? e.skin : e.skin_dark);
  };
  if (profile) draw_arm(facing > 0 ? -1 : 1, false);

  // Torso with shirt shading.
  const Vec2 torso_c = L(0, 0.615f * H);
  const RoundBox torso{torso_c.x, torso_c.y, (profile ? 0.1f : 0.14f) * H * s, 0.155f * H * s * body_scale, 0.06f * H * s, lean};
  raster::fill(canvas, torso, [&](float x, float) {
    const float t = (x - torso_c.x) / std::max(torso.hx, 1e-3f);
    return raster::mix(e.light, e.dark, smoothstep(-0.6f, 1.2f, t) * 0.7f);
  });
  // Belt.
  const Vec2 belt = L(0, 0.47f * H);
  raster::fill(canvas, RoundBox{belt.x, belt.y, torso.hx * 0.98f, 0.015f * H * s, 0.005f * H * s, lean}, rgb(40, 30, 26));
  if (profile) {
    draw_arm(facing > 0 ? 1 : -1, true);
  } else {
    draw_arm(-1, true);
    draw_arm(1, true);
  }

  // Neck and head.
  const Vec2 neck_a = L(0, shoulder_y - 0.02f * H), neck_b = L(0, head_y - 0.5f * head_r);
  raster::fill(canvas, Segment{neck_a, neck_b, 0.03f * H * s, 0.03f * H * s}, e.skin_dark);
  const float r = head_r * s;
  const float hx = head_c.x, hy = head_c.y;
  const float face_shift = profile ? 0.32f * facing * r : 0.0f;
  // Ears.
  if (!profile)
    for (int side = -1; side <= 1; side += 2)
      raster::fill(canvas, Circle{hx + float(side) * 0.95f * r, hy + 0.05f * r, 0.2f * r}, e.skin_dark);
  else
    raster::fill(canvas, Circle{hx - 0.1f * r * facing, hy + 0.05f * r, 0.2f * r}, e.skin_dark);
  const Circle head{hx, hy, r};
  raster::fill(canvas, head, [&](float x, float y) {
    const float nx = (x - hx) / r, ny = (y - hy) / r;
    return raster::mix(e.skin, e.skin_dark, std::clamp(0.35f * (nx * 0.6f + ny * 0.6f + 0.3f), 0.0f, 0.6f));
  });

  // Hair on top.
  const HairStyle style = e.character.identity.hair_style;
  if (style != HairStyle::Bald) {
    const Circle cap{hx - face_shift * 0.15f, hy - 0.04f * r, 1.07f * r};
    // Keep the cap above a line across the forehead (tilted back in profile).
    const float nx = profile ? 0.35f * facing : 0.0f, ny = 1.0f;
    const float len = std::sqrt(nx * nx + ny * ny);
    raster::fill(canvas, raster::Clipped<Circle>{cap, nx / len, ny / len, (nx * hx + ny * (hy - 0.32f * r)) / len}, e.hair);
    if (style == HairStyle::Long && !profile)
      for (int side = -1; side <= 1; side += 2)
        raster::fill(canvas, RoundBox{hx + float(side) * 0.9f * r, hy + 0.35f * r, 0.2f * r, 0.6f * r, 0.18f * r, 0}, e.hair);
  }

  // Eyes, brows, nose.
  const float eye_y = hy - 0.02f * r;
  const float eye_dx = profile ? 0.0f : 0.36f * r;
  for (int side = -1; side <= 1; side += 2) {
    if (profile && side != int(facing)) continue;
    const float ex = hx + face_shift + (profile ? 0.18f * r * facing : float(side) * eye_dx);
    raster::fill(canvas, Ellipse{ex, eye_y, 0.15f * r, 0.17f * r, 0}, rgb(250, 250, 248));
    raster::fill(canvas, Circle{ex + (profile ? 0.05f * r * facing : 0.0f), eye_y + 0.02f * r, 0.09f * r}, rgb(22, 18, 20));
    raster::fill(canvas, Segment{{ex - 0.15f * r, eye_y - 0.3f * r}, {ex + 0.15f * r, eye_y - 0.33f * r}, std::max(0.3f, 0.035f * r), std::max(0.3f, 0.035f * r)},
                 e.hair * 0.8f);
  }
  if (profile)
    raster::fill(canvas, Polygon{{hx + facing * 0.9f * r, hy + 0.02f * r}, {hx + facing * 1.12f * r, hy + 0.22f * r}, {hx + facing * 0.9f * r, hy + 0.27f * r}}, e.skin_dark);
  else
    raster::fill(canvas, Ellipse{hx, hy + 0.2f * r, 0.09f * r, 0.06f * r, 0}, e.skin_dark);

  // Mouth: shape by viseme, opening by mouth_open.
  const float open = std::clamp(pose.mouth_open, 0.0f, 1.0f);
  const int viseme = pose.viseme;
  const float mx = hx + face_shift + (profile ? 0.42f * r * facing : 0.0f), my = hy + 0.48f * r;
  const Rgb lips = raster::mix(e.skin_dark, rgb(150, 50, 56), 0.55f);
  const Rgb inside = rgb(64, 18, 24), teeth = rgb(246, 244, 236), tongue = rgb(200, 70, 80);
  float drawn_open = 0;
  const float mscale = profile ? 0.6f : 1.0f;
  if (viseme == kRest || viseme == kLipsClosed || open < 0.02f) {
    // Lips pressed together (m, b, p) read as a shorter, fuller line than the mouth at rest.
    const bool pressed = viseme == kLipsClosed;
    const float w = (pressed ? 0.22f : 0.3f) * r * mscale, th = std::max(0.45f, (pressed ? 0.085f : 0.05f) * r);
    raster::fill(canvas, Segment{{mx - w, my}, {mx + w, my}, th, th}, pressed ? lips * 0.85f : lips);
  } else {
    float rx = 0.28f * r, ry = (0.07f + 0.26f * open) * r;
    if (viseme == kRound) rx = (0.15f + 0.04f * open) * r, ry = (0.12f + 0.16f * open) * r;
    if (viseme == kWide) rx = 0.4f * r, ry = (0.05f + 0.15f * open) * r;
    if (viseme == kTeethLip) rx = 0.27f * r, ry = (0.06f + 0.1f * open) * r;
    rx *= mscale;
    const Ellipse mouth{mx, my + 0.3f * ry - 0.03f * r, rx, ry, 0};
    raster::fill(canvas, raster::offset(mouth, std::max(0.45f, 0.05f * r)), lips);
    raster::fill(canvas, mouth, [&](float, float y) {
      const float t = (y - (mouth.cy - ry)) / (2 * ry);
      if (t < 0.22f && viseme != kRound) return teeth;
      if (t > 0.72f) return tongue;
      return inside;
    });
    drawn_open = open;
  }

  // Accessory.
  const Accessory acc = e.character.identity.accessory;
  if (acc == Accessory::Glasses) {
    const Rgb frame_c = kGlassesFrame;
    const float w = std::max(0.4f, 0.045f * r);
    if (profile) {
      const float ex = hx + face_shift + 0.18f * r * facing;
      raster::fill(canvas, Annulus{ex, eye_y, 0.24f * r, w}, frame_c);
      raster::fill(canvas, Segment{{ex - facing * 0.24f * r, eye_y}, {hx - facing * 0.3f * r, eye_y - 0.05f * r}, w, w}, frame_c);
    } else {
      for (int side = -1; side <= 1; side += 2) raster::fill(canvas, Annulus{hx + float(side) * eye_dx, eye_y, 0.25f * r, w}, frame_c);
      raster::fill(canvas, Segment{{hx - eye_dx + 0.25f * r, eye_y}, {hx + eye_dx - 0.25f * r, eye_y}, w, w}, frame_c);
    }
  } else if (acc == Accessory::Hat) {
    const Rgb hat = kHat, band = e.dark;
    const float top = hy - 0.72f * r;
    raster::fill(canvas, RoundBox{hx, top, 1.35f * r, 0.1f * r, 0.08f * r, lean}, hat);
    raster::fill(canvas, RoundBox{hx, top - 0.42f * r, 0.82f * r, 0.45f * r, 0.2f * r, lean}, hat);
    raster::fill(canvas, RoundBox{hx, top - 0.12f * r, 0.83f * r, 0.1f * r, 0.02f * r, lean}, band);
  }
  return drawn_open;
}

// --- lens and weather -----------------------------------------------------------------

// Separable box blur (running sums), applied twice: about a Gaussian of sigma ~ radius.
void box_blur(uint8_t* rgb, int width, int height, int radius) {
  if (radius < 1) return;
  std::vector<uint8_t> tmp(size_t(width) * height * 3);
  const int window = 2 * radius + 1;
  const uint32_t scale = (1u << 16) / uint32_t(window);
  for (int pass = 0; pass < 2; ++pass) {
    // Horizontal: rgb -> tmp.
    for (int y = 0; y < height; ++y) {
      const uint8_t* src = rgb + size_t(y) * width * 3;
      uint8_t* dst = tmp.data() + size_t(y) * width * 3;
      uint32_t sum[3] = {0, 0, 0};
      for (int k = -radius; k <= radius; ++k) {
        const int x = std::clamp(k, 0, width - 1);
        for (int c = 0; c < 3; ++c) sum[c] += src[x * 3 + c];
      }
      for (int x = 0; x < width; ++x) {
        for (int c = 0; c < 3; ++c) dst[x * 3 + c] = uint8_t((sum[c] * scale) >> 16);
        const int add = std::min(x + radius + 1, width - 1), sub = std::max(x - radius, 0);
        for (int c = 0; c < 3; ++c) sum[c] += uint32_t(src[add * 3 + c]) - uint32_t(src[sub * 3 + c]);
      }
    }
    // Vertical: tmp -> rgb, a running sum per column, row by row.
    std::vector<uint32_t> sum(size_t(width) * 3, 0);
    for (int k = -radius; k <= radius; ++k) {
      const uint8_t* src = tmp.data() + size_t(std::clamp(k, 0, height - 1)) * width * 3;
      for (int i = 0; i < width * 3; ++i) sum[i] += src[i];
    }
    for (int y = 0; y < height; ++y) {
      uint8_t* dst = rgb + size_t(y) * width * 3;
      for (int i = 0; i < width * 3; ++i) dst[i] = uint8_t((sum[i] * scale) >> 16);
      const uint8_t* add = tmp.data() + size_t(std::min(y + radius + 1, height - 1)) * width * 3;
      const uint8_t* sub = tmp.data() + size_t(std::max(y - radius, 0)) * width * 3;
      for (int i = 0; i < width * 3; ++i) sum[i] += uint32_t(add[i]) - uint32_t(sub[i]);
    }
  }
}

void draw_rain(Canvas& canvas, uint32_t seed, double time, const Look& look) {
  const int W = canvas.width, H = canvas.height;
  const int count = std::max(12, int(float(W) * float(H) / 1100.0f));
  const float len = 0.07f * float(H), thick = std::max(0.35f, 0.0011f * float(H));
  const Rgb c = look.night ? rgb(150, 165, 200) : rgb(215, 222, 235);
  for (int i = 0; i < count; ++i) {
    const uint32_t h = hash32(seed, uint32_t(i) + 31337u);
    const float speed = 1.6f + 0.8f * unit(hash32(h));  // screen heights per second
    const float x = unit(h) * float(W + len * 0.3f);
    const float phase = unit(hash32(h, 1u)) + float(time) * speed;
    const float y = (phase - std::floor(phase)) * (float(H) + len) - len;
    const float l = len * (0.6f + 0.4f * unit(hash32(h, 2u)));
    raster::fill(canvas, Segment{{x, y}, {x - 0.18f * l, y + l}, thick, thick}, c, 0.28f + 0.2f * unit(hash32(h, 3u)));
  }
}

void draw_anamorphic_lights(Canvas& canvas, const std::vector<Light>& lights, int bar) {
  const int W = canvas.width, H = canvas.height;
  Rect* saved = canvas.record;
  canvas.record = nullptr;
  for (const Light& l : lights) {
    if (l.u < -0.2f * W || l.u > 1.2f * W || l.v < float(bar) - 20 || l.v > float(H - bar) + 20) continue;
    const float strength = l.strength;
    // Horizontal streak: blue, thin, fading toward its ends.
    const float len = 0.22f * float(W) * strength, hh = std::max(0.7f, 0.006f * float(H)) + 0.3f * l.radius;
    const Rgb blue = rgb(90, 140, 255);
    raster::fill(canvas, Ellipse{l.u, l.v, len, hh, 0}, [&](float x, float) {
      const float t = 1 - std::abs(x - l.u) / len;
      return blue * (t * t);
    }, 0.75f, std::max(1.0f, hh), Blend::Add);
    raster::fill(canvas, Ellipse{l.u, l.v, len * 0.4f, hh * 0.35f, 0}, rgb(200, 220, 255), 0.5f, 1.0f, Blend::Add);
    // Oval bokeh: out-of-focus highlights are tall ovals.
    if (l.background) {
      const float br = std::max(2.0f, 0.035f * float(H));
      for (int k = 0; k < 3; ++k) {
        const float ox = l.u + (float(k) - 1) * 1.6f * br * 0.6f, oy = l.v + (k == 1 ? 0.8f * br : -0.3f * br);
        raster::fill(canvas, Ellipse{ox, oy, br * 0.55f, br, 0}, l.color * 0.5f, 0.25f, std::max(1.0f, 0.15f * br), Blend::Add);
        raster::fill(canvas, Annulus{ox, oy, br * 0.7f, br * 0.05f}, l.color * 0.2f, 0.2f, 1.0f, Blend::Add);
      }
    }
  }
  canvas.record = saved;
}

}  // namespace

// ---------------------------------------------------------------------------------------

struct FrameRenderer::Impl {
  SceneSpec spec;
  uint32_t seed = 0;
  int width = 0, height = 0;
  Scenery scenery;
  std::vector<Entity> entities;
  std::vector<uint16_t> vignette;  // [height, width] gain * 256, only when a shot uses the wide lens
  int bar = 0;
  Impl(const SceneSpec& s, uint64_t sd, int w, int h) : spec(s), width(w), height(h), scenery(s, sd, w, h) {}
};

namespace {
std::array<uint8_t, 3> bytes(const Rgb& c) {
  auto byte = [](float x) { return uint8_t(std::clamp(std::lround(x), 0L, 255L)); };
  return {byte(c.r), byte(c.g), byte(c.b)};
}
}  // namespace

std::array<uint8_t, 3> palette_rgb(Color color) { return bytes(kPalette.at(size_t(color))); }
std::array<uint8_t, 3> skin_rgb(SkinTone skin) { return bytes(kSkin.at(size_t(skin))); }
std::array<uint8_t, 3> hair_rgb(HairColor hair) { return bytes(kHair.at(size_t(hair))); }
std::array<uint8_t, 3> hat_rgb() { return bytes(kHat); }
std::array<uint8_t, 3> glasses_frame_rgb() { return bytes(kGlassesFrame); }

FrameRenderer::FrameRenderer(const SceneSpec& spec, uint64_t seed, int width, int height) : impl_(nullptr) {
  if (width < 8 || height < 8 || width > 8192 || height > 8192)
    throw InvalidArgument("size", "frame size " + std::to_string(width) + "x" + std::to_string(height) +
                                      " is outside 8..8192 pixels per side");
  validate(spec);
  impl_ = new Impl(spec, seed, width, height);
  Impl& m = *impl_;
  m.seed = uint32_t(seed ^ (seed >> 32)) ^ 0xA5F00Du;
  const Look& look = m.scenery.look();
  auto make_colors = [&](Entity& e, Color color) {
    const Rgb base = kPalette[size_t(color)];
    e.color = base * look.entity;
    e.dark = base * look.entity * 0.62f;
    e.light = raster::mix(base, rgb(255, 255, 255), 0.25f) * look.entity;
    e.outline = color == Color::Black ? rgb(120, 124, 136) * look.entity : base * look.entity * 0.4f;
    if (color == Color::Black) e.dark = rgb(70, 72, 80) * look.entity, e.light = rgb(58, 58, 64) * look.entity;
    if (color == Color::White) e.dark = rgb(196, 198, 204) * look.entity, e.outline = rgb(120, 122, 130) * look.entity;
  };
  for (const ObjectSpec& o : spec.objects) {
    Entity e;
    e.object = o;
    e.geo = geometry(o);
    make_colors(e, o.color);
    m.entities.push_back(e);
  }
  for (const CharacterSpec& c : spec.characters) {
    Entity e;
    e.is_character = true;
    e.character = c;
    e.geo = geometry(c);
    make_colors(e, c.identity.shirt);
    e.skin = kSkin[size_t(c.identity.skin)] * look.entity;
    e.skin_dark = e.skin * 0.84f;
    e.hair = kHair[size_t(c.identity.hair_color)] * look.entity;
    e.trousers = rgb(52, 62, 96) * look.entity;
    e.shoes = rgb(40, 32, 28) * look.entity;
    m.entities.push_back(e);
  }
  bool wide = false, anamorphic = false;
  for (const ShotSpec& s : spec.shots) wide |= s.lens == Lens::Wide, anamorphic |= s.lens == Lens::Anamorphic;
  if (anamorphic) m.bar = letterbox_bar(width, height);
  if (wide) {
    m.vignette.resize(size_t(width) * height);
    const float cx = 0.5f * float(width), cy = 0.5f * float(height);
    const float norm = 1.0f / (cx * cx + cy * cy);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const float dx = float(x) + 0.5f - cx, dy = float(y) + 0.5f - cy;
        const float r2 = (dx * dx + dy * dy) * norm;  // 0 centre .. 1 corner
        const float gain = 1.0f - 0.55f * r2 * r2 - 0.1f * r2;
        m.vignette[size_t(y) * width + x] = uint16_t(std::clamp(gain, 0.0f, 1.0f) * 256.0f);
      }
  }
}

FrameRenderer::~FrameRenderer() { delete impl_; }

void FrameRenderer::draw(const FrameState& state, uint8_t* rgb_out, std::vector<EntityTruth>* truth) const {
  draw(state, rgb_out, truth, DrawParts{});
}

void FrameRenderer::draw(const FrameState& state, uint8_t* rgb_out, std::vector<EntityTruth>* truth, const DrawParts& parts) const {
  const Impl& m = *impl_;
  const int W = m.width, H = m.height;
  if (state.camera.shot < 0 || state.camera.shot >= int(m.spec.shots.size()))
    throw InvalidArgument("shot", "frame refers to shot " + std::to_string(state.camera.shot + 1) + " but the scene has " +
                                      std::to_string(m.spec.shots.size()));
  if (state.entities.size() != m.entities.size())
    throw InvalidArgument("entities", "frame has " + std::to_string(state.entities.size()) + " entity poses but the scene has " +
                                          std::to_string(m.entities.size()) + " objects and characters");
  if (!(state.camera.focal > 0) || !std::isfinite(state.camera.focal) || !std::isfinite(state.camera.x) ||
      !std::isfinite(state.camera.y) || !std::isfinite(state.camera.z) || !std::isfinite(state.camera.yaw) ||
      !std::isfinite(state.camera.pitch))
    throw InvalidArgument("camera", "frame camera needs a finite position and angles and a focal length above 0");
  for (size_t i = 0; i < state.entities.size(); ++i) {
    const EntityPose& e = state.entities[i];
    if (e.present && !(std::isfinite(e.x) && std::isfinite(e.y) && std::isfinite(e.z) && std::isfinite(e.angle)))
      throw InvalidArgument("entities", "entity " + std::to_string(i) + " has a position or angle that is not a finite number");
  }
  if (parts.only_entity >= int(m.entities.size()) || parts.only_entity < -2)
    throw InvalidArgument("only_entity", "no entity " + std::to_string(parts.only_entity) + " in a scene of " +
                                             std::to_string(m.entities.size()));
  const Lens lens = parts.lens ? m.spec.shots[size_t(state.camera.shot)].lens : Lens::Standard;
  const View view(state.camera, W, H);
  const Look& look = m.scenery.look();
  Canvas canvas{rgb_out, W, H, nullptr};
  std::vector<Light> lights;
  if (parts.background) {
    m.scenery.draw_background(view, state.time, canvas, lights);
  } else {
    for (size_t k = 0; k < size_t(W) * H; ++k) std::copy(parts.fill, parts.fill + 3, rgb_out + k * 3);
  }

  // Painter's order: props and entities far to near.
  struct Item {
    float depth;
    int index;  // >= 0 entity, < 0 prop (-1 - prop)
  };
  std::vector<Item> items;
  items.reserve(size_t(m.scenery.prop_count()) + m.entities.size());
  for (int i = 0; parts.background && i < m.scenery.prop_count(); ++i) {
    const float d = m.scenery.prop_depth(view, i);
    if (d > 0.3f) items.push_back({d, -1 - i});
  }
  std::vector<float> entity_depth(m.entities.size(), 0.0f);
  for (size_t i = 0; i < m.entities.size(); ++i) {
    const EntityPose& pose = state.entities[i];
    const Projected p = project(view.pose, pose.x, pose.y, pose.z, W, H);
    entity_depth[i] = p.depth;
    const bool wanted = parts.only_entity == -1 || parts.only_entity == int(i);
    if (wanted && pose.present && p.in_front) items.push_back({p.depth, int(i)});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.depth > b.depth; });

  if (lens == Lens::Portrait85mm) {
    // The background is out of focus: props with it, then one blur, then the sharp subjects.
    for (const Item& it : items)
      if (it.index < 0) m.scenery.draw_prop(view, -1 - it.index, state.time, canvas, lights);
    box_blur(rgb_out, W, H, std::max(1, int(std::lround(float(std::min(W, H)) * 0.011f))));
  }

  std::vector<Rect> boxes(m.entities.size());
  std::vector<float> mouths(m.entities.size(), 0.0f);
  for (const Item& it : items) {
    if (it.index < 0) {
      if (lens != Lens::Portrait85mm) m.scenery.draw_prop(view, -1 - it.index, state.time, canvas, lights);
      continue;
    }
    const size_t i = size_t(it.index);
    const Entity& e = m.entities[i];
    const EntityPose& pose = state.entities[i];
    const Projected p = project(view.pose, pose.x, pose.y, pose.z, W, H);
    if (p.pixels_per_metre * std::max(e.geo.width, e.geo.height) > 40.0f * float(std::max(W, H))) continue;  // camera inside it
    // Shadow on the ground below, softer and fainter the higher the body.
    // Height of the body's bottom above the ground: fliers' poses give their centre.
    const bool flier = !e.is_character && (e.object.kind == ObjectKind::Balloon || e.object.kind == ObjectKind::Bird);
    const float above = flier ? pose.y - 0.5f * e.geo.height : pose.y;
    const float half_w = e.is_character ? 0.28f : e.object.kind == ObjectKind::Car ? 0.55f * e.geo.width : 0.5f * e.geo.width;
    const float stretch = look.golden ? (e.is_character ? 4.0f : 2.2f) : 1.0f;
    if (parts.shadows)
      draw_shadow(canvas, view, pose.x, pose.z, half_w, std::max(0.0f, above), look.night ? 0.3f : 0.42f, stretch);
    canvas.record = &boxes[i];
    if (e.is_character) {
      mouths[i] = draw_character(canvas, e, pose, p);
    } else {
      switch (e.object.kind) {
        case ObjectKind::Ball: draw_ball(canvas, e, pose, p); break;
        case ObjectKind::Box: draw_box(canvas, e, pose, p); break;
        case ObjectKind::Balloon: draw_balloon(canvas, e, pose, p, state.time); break;
        case ObjectKind::Bird: draw_bird(canvas, e, pose, p); break;
        case ObjectKind::Car: draw_car(canvas, e, pose, p, look, lights); break;
      }
    }
    canvas.record = nullptr;
  }

  if (look.rain && parts.weather) draw_rain(canvas, m.seed, state.time, look);

  int bar = 0;
  if (lens == Lens::Anamorphic) {
    bar = m.bar;
    draw_anamorphic_lights(canvas, lights, bar);
    if (bar > 0) {
      std::fill(rgb_out, rgb_out + size_t(bar) * W * 3, uint8_t(0));
      std::fill(rgb_out + size_t(H - bar) * W * 3, rgb_out + size_t(H) * W * 3, uint8_t(0));
    }
  } else if (lens == Lens::Wide && !m.vignette.empty()) {
    const size_t n = size_t(W) * H;
    for (size_t k = 0; k < n; ++k) {
      const uint32_t g = m.vignette[k];
      uint8_t* p = rgb_out + k * 3;
      p[0] = uint8_t((p[0] * g) >> 8), p[1] = uint8_t((p[1] * g) >> 8), p[2] = uint8_t((p[2] * g) >> 8);
    }
  }

  if (truth) {
    truth->assign(m.entities.size(), EntityTruth{});
    for (size_t i = 0; i < m.entities.size(); ++i) {
      EntityTruth& t = (*truth)[i];
      t.entity = int(i);
      const Rect& b = boxes[i];
      if (b.empty() || !state.entities[i].present) continue;
      const float x0 = std::clamp(b.x0, 0.0f, float(W)), x1 = std::clamp(b.x1, 0.0f, float(W));
      const float y0 = std::clamp(b.y0, float(bar), float(H - bar)), y1 = std::clamp(b.y1, float(bar), float(H - bar));
      if (x1 <= x0 || y1 <= y0) continue;
      t.visible = true;
      t.x0 = x0, t.y0 = y0, t.x1 = x1, t.y1 = y1;
      t.mouth_open = mouths[i];
    }
  }
}

}  // namespace opsis::studio
