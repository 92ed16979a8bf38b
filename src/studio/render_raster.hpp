#pragma once
// Coverage-antialiased 2D drawing on an RGB8 frame. Every shape is a signed distance in
// pixels (negative inside); coverage = clamp(0.5 - d / softness) gives a one-pixel ramp at
// softness 1, so edges are clean at 128 px and crisp at 1080p. Shapes only visit the pixels
// of their own extent.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace opsis::studio::raster {

struct Rgb {
  float r = 0, g = 0, b = 0;
};
inline Rgb operator*(Rgb c, float s) { return {c.r * s, c.g * s, c.b * s}; }
inline Rgb operator*(Rgb a, Rgb b) { return {a.r * b.r, a.g * b.g, a.b * b.b}; }
inline Rgb operator+(Rgb a, Rgb b) { return {a.r + b.r, a.g + b.g, a.b + b.b}; }
inline Rgb mix(Rgb a, Rgb b, float t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

struct Vec2 {
  float x = 0, y = 0;
};
inline Vec2 operator+(Vec2 a, Vec2 b) { return {a.x + b.x, a.y + b.y}; }
inline Vec2 operator-(Vec2 a, Vec2 b) { return {a.x - b.x, a.y - b.y}; }
inline Vec2 operator*(Vec2 a, float s) { return {a.x * s, a.y * s}; }
inline float dot(Vec2 a, Vec2 b) { return a.x * b.x + a.y * b.y; }
inline float length(Vec2 a) { return std::sqrt(a.x * a.x + a.y * a.y); }

// Axis-aligned extent in pixels; empty while x0 > x1.
struct Rect {
  float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
  bool empty() const { return x0 >= x1 || y0 >= y1; }
  void include(const Rect& o) {
    x0 = std::min(x0, o.x0), y0 = std::min(y0, o.y0);
    x1 = std::max(x1, o.x1), y1 = std::max(y1, o.y1);
  }
  Rect grown(float g) const { return {x0 - g, y0 - g, x1 + g, y1 + g}; }
};

enum class Blend { Over, Add };

// An RGB8 frame being drawn. `record`, when set, collects the extent of every shape drawn
// (the truth box of the entity being drawn).
struct Canvas {
  uint8_t* rgb = nullptr;  // [height, width, 3]
  int width = 0, height = 0;
  Rect* record = nullptr;
};

inline uint8_t to_byte(float v) { return uint8_t(std::clamp(v, 0.0f, 255.0f) + 0.5f); }

inline void blend_pixel(uint8_t* p, Rgb c, float a) {
  p[0] = to_byte(p[0] + (c.r - p[0]) * a);
  p[1] = to_byte(p[1] + (c.g - p[1]) * a);
  p[2] = to_byte(p[2] + (c.b - p[2]) * a);
}
inline void add_pixel(uint8_t* p, Rgb c, float a) {
  p[0] = to_byte(p[0] + c.r * a);
  p[1] = to_byte(p[1] + c.g * a);
  p[2] = to_byte(p[2] + c.b * a);
}

// Fills a shape: shape(x, y) is the signed distance in pixels at pixel centre (x, y);
// shade(x, y) its colour there.
template <class Shape, class Shade>
void fill(Canvas& canvas, const Shape& shape, const Shade& shade, float opacity = 1.0f, float softness = 1.0f,
          Blend blend = Blend::Over) {
  const Rect e = shape.extent();
  if (canvas.record) canvas.record->include(e);
  const float pad = 0.5f * softness + 1.0f;
  // Clamp in float first: extents of shapes right in front of the camera can exceed int.
  const float W = float(canvas.width), H = float(canvas.height);
  const int x0 = int(std::clamp(std::floor(e.x0 - pad), 0.0f, W)), x1 = int(std::clamp(std::ceil(e.x1 + pad), 0.0f, W));
  const int y0 = int(std::clamp(std::floor(e.y0 - pad), 0.0f, H)), y1 = int(std::clamp(std::ceil(e.y1 + pad), 0.0f, H));
  if (x0 >= x1 || y0 >= y1 || opacity <= 0) return;
  const float inv_soft = 1.0f / softness;
  for (int y = y0; y < y1; ++y) {
    uint8_t* row = canvas.rgb + (size_t(y) * size_t(canvas.width)) * 3;
    const float py = float(y) + 0.5f;
    for (int x = x0; x < x1; ++x) {
      const float px = float(x) + 0.5f;
      float a = 0.5f - shape(px, py) * inv_soft;
      if (a <= 0) continue;
      a = std::min(a, 1.0f) * opacity;
      if (blend == Blend::Over)
        blend_pixel(row + x * 3, shade(px, py), a);
      else
        add_pixel(row + x * 3, shade(px, py), a);
    }
  }
}

template <class Shape>
void fill(Canvas& canvas, const Shape& shape, Rgb color, float opacity = 1.0f, float softness = 1.0f,
          Blend blend = Blend::Over) {
  fill(canvas, shape, [color](float, float) { return color; }, opacity, softness, blend);
}

// Additive soft light: intensity * (1 - q)^2 with q = (dx/rx)^2 + (dy/ry)^2 < 1. No square
// roots, so large glows (lamps, headlights, the sun) stay cheap at 1080p.
inline void glow(Canvas& canvas, float cx, float cy, float rx, float ry, Rgb color, float intensity) {
  if (rx <= 0.5f || ry <= 0.5f || intensity <= 0) return;
  const float W = float(canvas.width), H = float(canvas.height);
  const int x0 = int(std::clamp(std::floor(cx - rx), 0.0f, W)), x1 = int(std::clamp(std::ceil(cx + rx), 0.0f, W));
  const int y0 = int(std::clamp(std::floor(cy - ry), 0.0f, H)), y1 = int(std::clamp(std::ceil(cy + ry), 0.0f, H));
  const float irx2 = 1.0f / (rx * rx), iry2 = 1.0f / (ry * ry);
  for (int y = y0; y < y1; ++y) {
    uint8_t* row = canvas.rgb + (size_t(y) * size_t(canvas.width)) * 3;
    const float dy = float(y) + 0.5f - cy;
    const float qy = dy * dy * iry2;
    if (qy >= 1) continue;
    for (int x = x0; x < x1; ++x) {
      const float dx = float(x) + 0.5f - cx;
      const float q = qy + dx * dx * irx2;
      if (q >= 1) continue;
      const float a = (1 - q) * (1 - q) * intensity;
      add_pixel(row + x * 3, color, a);
    }
  }
}

struct Circle {
  float cx, cy, r;
  float operator()(float x, float y) const { return std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r; }
  Rect extent() const { return {cx - r, cy - r, cx + r, cy + r}; }
};

// A ring of radius r and half thickness w (glasses, wheel rims).
struct Annulus {
  float cx, cy, r, w;
  float operator()(float x, float y) const {
    return std::abs(std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r) - w;
  }
  Rect extent() const { return {cx - r - w, cy - r - w, cx + r + w, cy + r + w}; }
};

// Ellipse with radii (rx, ry) turned by `angle` (radians, clockwise on screen).
struct Ellipse {
  float cx, cy, rx, ry, angle;
  float c, s;  // cos and sin of angle, computed once
  Ellipse(float cx_, float cy_, float rx_, float ry_, float angle_ = 0)
      : cx(cx_), cy(cy_), rx(std::max(rx_, 1e-4f)), ry(std::max(ry_, 1e-4f)), angle(angle_), c(std::cos(angle_)), s(std::sin(angle_)) {}
  float operator()(float x, float y) const {
    const float dx = x - cx, dy = y - cy;
    const float lx = c * dx + s * dy, ly = -s * dx + c * dy;
    const float ax = lx / rx, ay = ly / ry;
    const float k0 = std::sqrt(ax * ax + ay * ay);
    const float bx = ax / rx, by = ay / ry;
    const float k1 = std::sqrt(bx * bx + by * by);
    if (k1 < 1e-12f) return -std::min(rx, ry);
    return k0 * (k0 - 1.0f) / k1;
  }
  Rect extent() const {
    const float hx = std::sqrt(rx * rx * c * c + ry * ry * s * s), hy = std::sqrt(rx * rx * s * s + ry * ry * c * c);
    return {cx - hx, cy - hy, cx + hx, cy + hy};
  }
};

// Rectangle with half sizes (hx, hy), corner radius `round`, turned by `angle`.
struct RoundBox {
  float cx, cy, hx, hy, round, angle;
  float c, s;
  RoundBox(float cx_, float cy_, float hx_, float hy_, float round_ = 0, float angle_ = 0)
      : cx(cx_), cy(cy_), hx(hx_), hy(hy_), round(std::min(round_, std::min(hx_, hy_))), angle(angle_),
        c(std::cos(angle_)), s(std::sin(angle_)) {}
  float operator()(float x, float y) const {
    const float dx = x - cx, dy = y - cy;
    const float lx = std::abs(c * dx + s * dy) - hx + round, ly = std::abs(-s * dx + c * dy) - hy + round;
    const float ox = std::max(lx, 0.0f), oy = std::max(ly, 0.0f);
    return std::sqrt(ox * ox + oy * oy) + std::min(std::max(lx, ly), 0.0f) - round;
  }
  Rect extent() const {
    const float ac = std::abs(c), as = std::abs(s);
    const float ex = hx * ac + hy * as, ey = hx * as + hy * ac;
    return {cx - ex, cy - ey, cx + ex, cy + ey};
  }
};

// A stroke from a to b whose half width goes from ra to rb (limbs, strings, posts).
struct Segment {
  Vec2 a, b;
  float ra, rb;
  float operator()(float x, float y) const {
    const Vec2 p{x - a.x, y - a.y}, ba = b - a;
    const float len2 = dot(ba, ba);
    const float h = len2 > 1e-12f ? std::clamp(dot(p, ba) / len2, 0.0f, 1.0f) : 0.0f;
    return length(p - ba * h) - (ra + (rb - ra) * h);
  }
  Rect extent() const {
    return {std::min(a.x - ra, b.x - rb), std::min(a.y - ra, b.y - rb), std::max(a.x + ra, b.x + rb),
            std::max(a.y + ra, b.y + rb)};
  }
};

// Convex polygon with up to 8 corners in either winding. The distance is the largest
// distance to an edge line: exact along edges, slightly rounded-in at sharp corners.
struct Polygon {
  Vec2 p[8];
  int n = 0;
  float nx[8], ny[8], off[8];
  Polygon(std::initializer_list<Vec2> points) {
    for (const Vec2& q : points)
      if (n < 8) p[n++] = q;
    float area = 0;
    for (int i = 0; i < n; ++i) {
      const Vec2 a = p[i], b = p[(i + 1) % n];
      area += a.x * b.y - b.x * a.y;
    }
    const float sign = area >= 0 ? 1.0f : -1.0f;
    for (int i = 0; i < n; ++i) {
      const Vec2 a = p[i], b = p[(i + 1) % n];
      Vec2 e = b - a;
      const float len = std::max(length(e), 1e-9f);
      // Outward normal for counter-clockwise (in y-down screen space, positive area) winding.
      nx[i] = sign * e.y / len, ny[i] = -sign * e.x / len;
      off[i] = nx[i] * a.x + ny[i] * a.y;
    }
  }
  float operator()(float x, float y) const {
    float d = -1e30f;
    for (int i = 0; i < n; ++i) d = std::max(d, nx[i] * x + ny[i] * y - off[i]);
    return d;
  }
  Rect extent() const {
    Rect r;
    for (int i = 0; i < n; ++i) r.include({p[i].x, p[i].y, p[i].x, p[i].y});
    return r;
  }
};

// A shape grown (positive) or shrunk (negative) by `by` pixels: outlines and insets.
template <class Shape>
struct Offset {
  const Shape& shape;
  float by;
  float operator()(float x, float y) const { return shape(x, y) - by; }
  Rect extent() const { return shape.extent().grown(std::max(by, 0.0f)); }
};
template <class Shape>
Offset<Shape> offset(const Shape& s, float by) {
  return {s, by};
}

// Part of a shape on one side of a line (half-plane n.x <= c): hair caps, hat crowns.
template <class Shape>
struct Clipped {
  const Shape& shape;
  float nx, ny, c;
  float operator()(float x, float y) const { return std::max(shape(x, y), nx * x + ny * y - c); }
  Rect extent() const { return shape.extent(); }
};

}  // namespace opsis::studio::raster
