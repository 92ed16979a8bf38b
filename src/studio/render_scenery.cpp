#include "studio/render_scenery.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace opsis::studio::render_detail {

using raster::Blend;
using raster::Circle;
using raster::Ellipse;
using raster::Polygon;
using raster::RoundBox;
using raster::Segment;
using raster::Vec2;

namespace {

constexpr float kPi = 3.14159265358979f;
constexpr float kInf = std::numeric_limits<float>::infinity();

float smoothstep(float a, float b, float x) {
  const float t = std::clamp((x - a) / (b - a), 0.0f, 1.0f);
  return t * t * (3 - 2 * t);
}
float fract(float x) { return x - std::floor(x); }
int floor_int(float x) {
  const int i = int(x);
  return i - (x < float(i));
}
Rgb rgb(float r, float g, float b) { return {r, g, b}; }
Rgb clamp255(Rgb c) {
  return {std::clamp(c.r, 0.0f, 255.0f), std::clamp(c.g, 0.0f, 255.0f), std::clamp(c.b, 0.0f, 255.0f)};
}

// Tileable value noise: period in lattice cells, a power of two.
float value_noise(float x, float y, int period, uint32_t seed) {
  const int ix = floor_int(x), iy = floor_int(y);
  float fx = x - float(ix), fy = y - float(iy);
  fx = fx * fx * (3 - 2 * fx);
  fy = fy * fy * (3 - 2 * fy);
  const int mask = period - 1;
  auto h = [&](int a, int b) { return unit(hash32(uint32_t(a & mask) * 0x9E3779B1U + uint32_t(b & mask) * 0x85EBCA77U + seed)); };
  const float a = h(ix, iy), b = h(ix + 1, iy), c = h(ix, iy + 1), d = h(ix + 1, iy + 1);
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}
// Sum of octaves in [0, 1); x, y in tile units [0, 1).
float fbm(float x, float y, int base_period, uint32_t seed, int octaves) {
  float sum = 0, amp = 0.5f, norm = 0;
  int period = base_period;
  for (int o = 0; o < octaves; ++o) {
    sum += amp * value_noise(x * float(period), y * float(period), period, seed + uint32_t(o) * 101u);
    norm += amp;
    amp *= 0.5f;
    period *= 2;
  }
  return sum / norm;
}

// ---------------------------------------------------------------------------------------
// Ground: a tileable texture in world metres with a mip chain, sampled per row.

enum class GroundKind { Grass, Sand, Asphalt, Wood, Snow, ForestFloor };

struct GroundTexture {
  int size = 256;    // texels per tile side, a power of two
  float tile_m = 4;  // metres covered by one tile
  // levels[l]: [size >> l, size >> l, 3]
  std::vector<std::vector<uint8_t>> levels;
};

Rgb ground_texel(GroundKind kind, Setting setting, float u, float v, float tile_m, int n, uint32_t seed) {
  const uint32_t texel = hash32(uint32_t(u * n), uint32_t(v * n), seed ^ 0x51u);
  const float grain = unit(texel) - 0.5f;
  switch (kind) {
    case GroundKind::Grass: {
      const float patches = fbm(u, v, 4, seed, 4);
      const float blades = fbm(u, v, 64, seed + 7, 2);
      Rgb c = mix(rgb(70, 138, 52), rgb(118, 156, 62), smoothstep(0.35f, 0.75f, patches));
      c = c * (0.82f + 0.36f * blades + 0.12f * grain);
      if (setting == Setting::Meadow) {
        const uint32_t fl = hash32(uint32_t(u * n / 2), uint32_t(v * n / 2), seed ^ 0xf10u);
        if (unit(fl) < 0.004f) {
          const int which = int(fl % 3u);
          c = which == 0 ? rgb(245, 245, 235) : which == 1 ? rgb(250, 215, 60) : rgb(235, 120, 170);
        }
      }
      return c;
    }
    case GroundKind::Sand: {
      const bool desert = setting == Setting::Desert;
      const float patches = fbm(u, v, 4, seed, 3);
      float ripple = 0;
      if (desert) ripple = std::sin(2 * kPi * (v * 10 + 0.6f * fbm(u, v, 2, seed + 3, 2)));  // 10 ripples per tile
      Rgb c = desert ? rgb(226, 176, 112) : rgb(232, 212, 168);
      c = c * (0.9f + 0.14f * patches + 0.05f * ripple + 0.08f * grain);
      return c;
    }
    case GroundKind::Asphalt: {
      const float patches = fbm(u, v, 4, seed, 3);
      Rgb c = rgb(72, 72, 77) * (0.85f + 0.25f * patches + 0.22f * grain);
      if (unit(hash32(texel)) < 0.02f) c = rgb(120, 120, 122);
      return c;
    }
    case GroundKind::Wood: {
      // Boards run along x, 0.2 m wide; v crosses boards.
      const float board_m = 0.2f;
      const float vz = v * tile_m, ux = u * tile_m;
      const int board = floor_int(vz / board_m);
      const float across = fract(vz / board_m);
      const uint32_t bh = hash32(uint32_t(board + 1000), seed ^ 0xb0a4du);
      const float joint = unit(bh) * tile_m;
      const float along = fract((ux - joint) / tile_m) * tile_m;
      Rgb c = mix(rgb(168, 112, 66), rgb(196, 142, 88), unit(hash32(bh)));
      const float grain_line = std::sin(2 * kPi * (across * 3 + 6 * fbm(u, v * 4, 8, seed + uint32_t(board), 2)));
      c = c * (0.92f + 0.08f * grain_line + 0.05f * grain);
      const float seam = std::min(across, 1 - across) * board_m;  // metres from the board edge
      if (seam < 0.008f) c = c * 0.55f;
      if (along < 0.01f || along > tile_m - 0.01f) c = c * 0.6f;
      return c;
    }
    case GroundKind::Snow: {
      const float drifts = fbm(u, v, 4, seed, 4);
      Rgb c = mix(rgb(200, 214, 238), rgb(246, 249, 255), smoothstep(0.3f, 0.7f, drifts));
      c = c * (0.97f + 0.05f * grain);
      if (unit(hash32(texel)) < 0.004f) c = rgb(255, 255, 255);
      return c;
    }
    case GroundKind::ForestFloor: {
      const float moss = fbm(u, v, 4, seed, 4);
      Rgb c = mix(rgb(96, 74, 46), rgb(74, 98, 46), smoothstep(0.45f, 0.7f, moss));
      c = c * (0.85f + 0.3f * fbm(u, v, 48, seed + 9, 2) + 0.1f * grain);
      const uint32_t leaf = hash32(uint32_t(u * n / 2), uint32_t(v * n / 2), seed ^ 0x1eafu);
      if (unit(leaf) < 0.03f) c = (leaf & 1u) ? rgb(176, 96, 40) : rgb(140, 110, 50);
      return c;
    }
  }
  return {};
}

GroundTexture make_ground(GroundKind kind, Setting setting, Rgb tint, int size, uint32_t seed) {
  GroundTexture g;
  g.size = size;
  g.tile_m = kind == GroundKind::Wood ? 4.0f : kind == GroundKind::Asphalt ? 4.0f : 6.0f;
  const int n = size;
  std::vector<float> level0(size_t(n) * n * 3);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const Rgb c = clamp255(ground_texel(kind, setting, (i + 0.5f) / n, (j + 0.5f) / n, g.tile_m, n, seed) * tint);
      float* t = &level0[(size_t(j) * n + i) * 3];
      t[0] = c.r, t[1] = c.g, t[2] = c.b;
    }
  std::vector<float> cur = level0;
  for (int size = n; size >= 1; size /= 2) {
    std::vector<uint8_t> bytes(size_t(size) * size * 3);
    for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = raster::to_byte(cur[k]);
    g.levels.push_back(std::move(bytes));
    if (size == 1) break;
    const int h = size / 2;
    std::vector<float> next(size_t(h) * h * 3);
    for (int j = 0; j < h; ++j)
      for (int i = 0; i < h; ++i)
        for (int c = 0; c < 3; ++c)
          next[(size_t(j) * h + i) * 3 + c] =
              0.25f * (cur[(size_t(2 * j) * size + 2 * i) * 3 + c] + cur[(size_t(2 * j) * size + 2 * i + 1) * 3 + c] +
                       cur[(size_t(2 * j + 1) * size + 2 * i) * 3 + c] +
                       cur[(size_t(2 * j + 1) * size + 2 * i + 1) * 3 + c]);
    cur = std::move(next);
  }
  return g;
}

// ---------------------------------------------------------------------------------------
// Far layers: a height profile on the vertical plane z = distance, seen from the camera.

enum class LayerKind { Hills, SnowHills, Mountains, Dunes, Mesas, Skyline, TreeLine, Island };

struct FarLayer {
  LayerKind kind = LayerKind::Hills;
  float z = 60;         // plane distance, metres
  float x0 = 0, dx = 1, inv_dx = 1;  // table covers x0 + i * dx
  std::vector<float> height;  // metres above the ground
  std::vector<float> shade;   // per-column light (slope lighting, building tone)
  float max_height = 0;
  Rgb low, high;              // colours at the foot and the top (tinted and hazed)
  Rgb window_day, window_lit, window_dark;
  float fog = 0;
  uint32_t seed = 0;

  float height_at(float x, float* column_shade) const {
    const float fi = (x - x0) * inv_dx;
    const int n = int(height.size());
    if (fi <= 0) {
      *column_shade = shade.front();
      return height.front();
    }
    if (fi >= float(n - 1)) {
      *column_shade = shade.back();
      return height.back();
    }
    const int i = int(fi);
    const float t = fi - float(i);
    *column_shade = shade[i];
    return height[i] + (height[i + 1] - height[i]) * t;
  }
};

FarLayer make_layer(LayerKind kind, float z, Rgb low, Rgb high, const Look& look, uint32_t seed) {
  FarLayer L;
  L.kind = kind;
  L.z = z;
  L.seed = seed;
  const float range = z * 3.5f;
  L.dx = z / 500.0f;
  L.inv_dx = 1.0f / L.dx;
  L.x0 = -range;
  const int n = int(2 * range / L.dx) + 2;
  L.height.resize(n);
  L.shade.assign(n, 1.0f);
  float phase[6];
  for (int k = 0; k < 6; ++k) phase[k] = unit(hash32(seed, uint32_t(k))) * 2 * kPi;
  auto waves = [&](float x, float scale) {
    const float w = x / scale;
    return 0.5f * std::sin(w + phase[0]) + 0.25f * std::sin(2.3f * w + phase[1]) + 0.14f * std::sin(5.1f * w + phase[2]) +
           0.07f * std::sin(11.3f * w + phase[3]);
  };
  // Buildings and trees: piecewise features with seeded widths.
  float feature_end = -kInf, feature_h = 0, feature_tone = 1, feature_start = 0;
  uint32_t feature = 0;
  for (int i = 0; i < n; ++i) {
    const float x = L.x0 + float(i) * L.dx;
    float h = 0, s = 1;
    switch (kind) {
      case LayerKind::Hills: h = z * 0.07f + z * 0.06f * waves(x, z * 0.25f); break;
      case LayerKind::SnowHills: h = z * 0.08f + z * 0.07f * waves(x, z * 0.22f); break;
      case LayerKind::Mountains: {
        const float w = waves(x, z * 0.18f) + 0.35f * std::abs(std::sin(x / (z * 0.05f) + phase[4]));
        h = z * 0.1f + z * 0.09f * w;
        break;
      }
      case LayerKind::Dunes: {
        const float w = x / (z * 0.3f);
        h = z * 0.05f + z * 0.05f * (std::pow(0.5f + 0.5f * std::sin(w + phase[0]), 1.6f) +
                                      0.4f * std::pow(0.5f + 0.5f * std::sin(2.7f * w + phase[1]), 2.0f));
        break;
      }
      case LayerKind::Mesas: {
        const float w = waves(x, z * 0.2f);
        h = z * 0.03f + z * 0.1f * smoothstep(0.05f, 0.2f, w);
        break;
      }
      case LayerKind::Island: {
        const float w = waves(x, z * 0.15f);
        h = std::max(0.0f, z * 0.03f * smoothstep(0.2f, 0.6f, w));
        break;
      }
      case LayerKind::Skyline:
      case LayerKind::TreeLine: {
        if (x >= feature_end) {
          ++feature;
          const uint32_t fh = hash32(seed, feature);
          const bool trees = kind == LayerKind::TreeLine;
          const float width = trees ? z * (0.05f + 0.05f * unit(fh)) : z * (0.18f + 0.3f * unit(fh)) * (z > 60 ? 0.5f : 1.0f);
          feature_start = x;
          feature_end = x + width;
          feature_h = trees ? z * (0.25f + 0.15f * unit(hash32(fh))) : z * (0.3f + 0.6f * unit(hash32(fh))) * (z > 60 ? 0.45f : 1.0f);
          feature_tone = 0.8f + 0.4f * unit(hash32(fh, 7u));
        }
        if (kind == LayerKind::TreeLine) {
          // A conifer: a triangle of the feature's width.
          const float t = (x - feature_start) / (feature_end - feature_start);
          h = feature_h * (0.45f + 0.55f * (1 - std::abs(2 * t - 1)));
        } else {
          h = feature_h;
        }
        s = feature_tone;
        break;
      }
    }
    L.height[i] = h;
    L.shade[i] = s;
  }
  // Slope lighting for smooth profiles: light from the left, shadowed slopes darker.
  if (kind != LayerKind::Skyline && kind != LayerKind::TreeLine) {
    for (int i = 0; i < n; ++i) {
      // Slope over +-6 samples: broad light and shadow sides, no per-column stripes.
      const float slope = (L.height[std::min(n - 1, i + 6)] - L.height[std::max(0, i - 6)]) / (12 * L.dx);
      L.shade[i] = std::clamp(1.0f + 0.35f * slope, 0.8f, 1.15f);
    }
  }
  for (float h : L.height) L.max_height = std::max(L.max_height, h);
  L.fog = 1 - std::exp(-z / look.fog_distance);
  L.low = mix(low * look.scenery, look.haze, L.fog);
  L.high = mix(high * look.scenery, look.haze, L.fog);
  L.window_day = mix(rgb(120, 140, 165) * look.scenery, look.haze, L.fog);
  L.window_lit = mix(rgb(236, 190, 110), look.haze, L.fog * 0.5f);
  L.window_dark = mix(rgb(40, 44, 55) * look.scenery, look.haze, L.fog);
  return L;
}

// Colour of a layer at plane point (x, y); footprint: metres per pixel there.
Rgb layer_color(const FarLayer& L, float x, float y, float h, float column_shade, float footprint, bool night) {
  const float up = std::clamp(y / std::max(h, 1e-3f), 0.0f, 1.0f);
  Rgb c = mix(L.low, L.high, up) * column_shade;
  switch (L.kind) {
    case LayerKind::Mountains:
      if (y > h * 0.72f + 0.04f * L.z * std::sin(x * 0.7f / L.z * 40)) c = mix(rgb(235, 240, 250), L.high, L.fog) * (0.7f + 0.3f * column_shade);
      break;
    case LayerKind::Skyline: {
      const float wx = 2.0f, wy = 3.2f;
      if (y < h - 1.0f && y > 2.0f) {
        const Rgb window = night ? ((hash32(uint32_t(floor_int(x / wx) + 100000), uint32_t(floor_int(y / wy)), L.seed) % 100u) < 35u
                                        ? L.window_lit
                                        : L.window_dark)
                                 : L.window_day;
        if (footprint * 3 > wx * 0.5f) {
          c = mix(c, window, night ? 0.3f : 0.25f);
        } else {
          const float fx = fract(x / wx), fy = fract(y / wy);
          const float cov_x = std::clamp((0.25f - std::abs(fx - 0.5f)) * wx / footprint + 0.5f, 0.0f, 1.0f);
          const float cov_y = std::clamp((0.22f - std::abs(fy - 0.55f)) * wy / footprint + 0.5f, 0.0f, 1.0f);
          c = mix(c, window, cov_x * cov_y);
        }
      }
      break;
    }
    default: break;
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Props.

enum class PropKind { Tree, Conifer, SnowyConifer, Palm, Bush, Rock, Cactus, LampPost, Umbrella, Sofa, FloorLamp, Plant, Snowman };

struct Prop {
  PropKind kind;
  float x, z, scale;
  uint32_t variant;
};

}  // namespace

View::View(const CameraPose& c, int w, int h) : pose(c), width(w), height(h) {
  f = c.focal * float(std::min(w, h));
  cyaw = std::cos(c.yaw), syaw = std::sin(c.yaw);
  cpitch = std::cos(c.pitch), spitch = std::sin(c.pitch);
}

Look make_look(const SceneSpec& spec) {
  Look k;
  TimeOfDay tod = spec.time_of_day;
  if (spec.setting == Setting::NightSky) tod = TimeOfDay::Night;
  switch (tod) {
    case TimeOfDay::Day:
      k.zenith = rgb(62, 122, 212), k.horizon = rgb(172, 207, 240);
      k.fog_distance = 420;
      break;
    case TimeOfDay::GoldenHour:
      k.zenith = rgb(84, 98, 168), k.horizon = rgb(255, 168, 92);
      k.scenery = rgb(1.06f, 0.88f, 0.72f);
      k.entity = rgb(1.06f, 0.93f, 0.8f);
      k.golden = true;
      k.fog_distance = 320;
      break;
    case TimeOfDay::Night:
      k.zenith = rgb(4, 8, 24), k.horizon = rgb(22, 32, 62);
      k.scenery = rgb(0.26f, 0.31f, 0.5f);
      k.entity = rgb(0.8f, 0.8f, 0.88f);  // lit by moon and street light: hues stay readable
      k.night = true;
      k.fog_distance = 600;
      break;
  }
  if (spec.setting == Setting::LivingRoom) {
    // Indoors the room light holds: warm lamp light at night, window light by day.
    if (k.night) k.scenery = rgb(0.62f, 0.52f, 0.4f), k.entity = rgb(0.85f, 0.78f, 0.7f);
    if (k.golden) k.scenery = rgb(1.05f, 0.9f, 0.72f);
  }
  if (spec.weather == Weather::Rain) {
    k.rain = true;
    const Rgb grey = k.night ? rgb(28, 32, 40) : k.golden ? rgb(130, 118, 115) : rgb(128, 136, 148);
    k.zenith = mix(k.zenith, grey * 0.8f, 0.8f);
    k.horizon = mix(k.horizon, grey, 0.75f);
    if (spec.setting != Setting::LivingRoom) {
      k.scenery = k.scenery * rgb(0.72f, 0.78f, 0.88f);
      k.entity = k.entity * rgb(0.86f, 0.9f, 0.97f);
    } else {
      k.scenery = k.scenery * rgb(0.88f, 0.9f, 0.95f);
    }
    k.fog_distance = 140;
  }
  k.haze = k.horizon;
  return k;
}

struct Scenery::Impl {
  SceneSpec spec;
  uint32_t seed = 0;
  int width = 0, height = 0;
  GroundKind ground_kind = GroundKind::Grass;
  GroundTexture ground;
  std::vector<FarLayer> layers;  // near to far
  std::vector<Prop> props;
  struct Star {
    float dx, dy, dz, size, bright;
  };
  std::vector<Star> stars;
  struct Cloud {
    float az, el, size;
    uint32_t variant;
  };
  std::vector<Cloud> clouds;
  std::array<Rgb, 512> sky_by_elevation;  // elevation -0.2 .. 1.5 rad
  bool interior = false;
  bool show_stars = false;
};

namespace {

Rgb sky_color(const Look& look, float elevation) {
  const float t = smoothstep(-0.02f, 0.75f, elevation);
  Rgb c = mix(look.horizon, look.zenith, std::sqrt(t));
  if (look.golden) c = mix(c, rgb(255, 200, 130), 0.35f * (1 - smoothstep(0.0f, 0.25f, elevation)));
  return c;
}

int sky_index(float elevation) { return std::clamp(int((elevation + 0.2f) * (511.0f / 1.7f)), 0, 511); }

void add_props(std::vector<Prop>& props, PropKind kind, int count, float z0, float z1, float xrange, float s0, float s1,
               uint32_t seed, bool sides) {
  for (int i = 0; i < count; ++i) {
    const uint32_t h = hash32(seed, uint32_t(kind) * 977u + uint32_t(i));
    Prop p;
    p.kind = kind;
    p.z = z0 + (z1 - z0) * unit(h);
    p.x = (unit(hash32(h)) * 2 - 1) * xrange;
    if (sides) p.x = (p.x < 0 ? -1 : 1) * (6.5f + std::abs(p.x));
    p.scale = s0 + (s1 - s0) * unit(hash32(h, 3u));
    p.variant = hash32(h, 5u);
    props.push_back(p);
  }
}

}  // namespace

Scenery::Scenery(const SceneSpec& spec, uint64_t seed, int width, int height) : impl_(new Impl) {
  Impl& m = *impl_;
  m.spec = spec;
  m.seed = uint32_t(seed ^ (seed >> 32)) * 2654435761u + 12345u;
  m.width = width, m.height = height;
  look_ = make_look(spec);
  const Look& k = look_;
  const uint32_t s = m.seed;
  for (int i = 0; i < 512; ++i) m.sky_by_elevation[i] = sky_color(k, -0.2f + float(i) * (1.7f / 511.0f));

  auto layer = [&](LayerKind kind, float z, Rgb low, Rgb high) {
    m.layers.push_back(make_layer(kind, z, low, high, k, hash32(s, uint32_t(m.layers.size()) + 31u)));
  };
  switch (spec.setting) {
    case Setting::Meadow:
      m.ground_kind = GroundKind::Grass;
      layer(LayerKind::Hills, 70, rgb(70, 128, 62), rgb(112, 168, 92));
      layer(LayerKind::Hills, 170, rgb(90, 130, 120), rgb(120, 160, 150));
      add_props(m.props, PropKind::Tree, 12, 16, 48, 40, 0.8f, 1.3f, s, false);
      add_props(m.props, PropKind::Bush, 10, 13, 30, 22, 0.6f, 1.1f, s, false);
      add_props(m.props, PropKind::Tree, 3, 9, 13, 5, 0.9f, 1.2f, s + 1, true);
      break;
    case Setting::Beach:
      m.ground_kind = GroundKind::Sand;
      layer(LayerKind::Island, 380, rgb(80, 110, 100), rgb(100, 130, 120));
      add_props(m.props, PropKind::Palm, 3, 9, 14, 6, 0.9f, 1.2f, s, true);
      add_props(m.props, PropKind::Umbrella, 2, 10, 14, 12, 0.9f, 1.1f, s + 2, false);
      break;
    case Setting::CityStreet:
      m.ground_kind = GroundKind::Asphalt;
      layer(LayerKind::Skyline, 24, rgb(150, 120, 105), rgb(175, 150, 130));
      layer(LayerKind::Skyline, 130, rgb(110, 120, 140), rgb(130, 140, 160));
      for (int i = -5; i <= 5; ++i)
        m.props.push_back({PropKind::LampPost, float(i) * 9.0f + 4.5f, 14.6f, 1.0f, hash32(s, uint32_t(i + 50))});
      break;
    case Setting::LivingRoom:
      m.ground_kind = GroundKind::Wood;
      m.interior = true;
      m.props.push_back({PropKind::Sofa, 2.4f, 12.6f, 1.0f, hash32(s, 1u)});
      m.props.push_back({PropKind::FloorLamp, -4.6f, 12.5f, 1.0f, hash32(s, 2u)});
      m.props.push_back({PropKind::Plant, 5.6f, 12.2f, 1.0f, hash32(s, 3u)});
      m.props.push_back({PropKind::Plant, -6.2f, 8.5f, 1.2f, hash32(s, 4u)});
      break;
    case Setting::Forest:
      m.ground_kind = GroundKind::ForestFloor;
      layer(LayerKind::TreeLine, 45, rgb(30, 70, 42), rgb(40, 88, 52));
      layer(LayerKind::TreeLine, 95, rgb(60, 95, 90), rgb(70, 105, 100));
      add_props(m.props, PropKind::Conifer, 22, 14, 42, 34, 0.8f, 1.4f, s, false);
      add_props(m.props, PropKind::Tree, 6, 14, 30, 25, 0.8f, 1.2f, s, false);
      add_props(m.props, PropKind::Conifer, 4, 9, 13, 6, 0.9f, 1.3f, s + 3, true);
      break;
    case Setting::Snowfield:
      m.ground_kind = GroundKind::Snow;
      layer(LayerKind::SnowHills, 70, rgb(205, 218, 240), rgb(240, 245, 255));
      layer(LayerKind::Mountains, 230, rgb(110, 120, 145), rgb(130, 140, 165));
      add_props(m.props, PropKind::SnowyConifer, 10, 15, 45, 35, 0.8f, 1.3f, s, false);
      add_props(m.props, PropKind::SnowyConifer, 2, 9, 13, 5, 0.9f, 1.2f, s + 4, true);
      m.props.push_back({PropKind::Snowman, -7.5f, 11.5f, 1.0f, hash32(s, 9u)});
      break;
    case Setting::Desert:
      m.ground_kind = GroundKind::Sand;
      layer(LayerKind::Dunes, 60, rgb(214, 158, 96), rgb(236, 190, 128));
      layer(LayerKind::Mesas, 210, rgb(170, 100, 70), rgb(190, 120, 86));
      add_props(m.props, PropKind::Cactus, 7, 13, 40, 35, 0.8f, 1.3f, s, false);
      add_props(m.props, PropKind::Rock, 8, 12, 35, 30, 0.5f, 1.4f, s, false);
      add_props(m.props, PropKind::Cactus, 2, 9, 13, 5, 0.9f, 1.2f, s + 5, true);
      break;
    case Setting::NightSky:
      m.ground_kind = GroundKind::Grass;
      layer(LayerKind::Hills, 90, rgb(60, 90, 60), rgb(70, 100, 70));
      add_props(m.props, PropKind::Tree, 3, 18, 40, 30, 0.9f, 1.3f, s, false);
      add_props(m.props, PropKind::Bush, 4, 13, 25, 20, 0.6f, 1.0f, s, false);
      break;
  }
  // Small frames never need the finest texels: a 128-texel tile costs a quarter to make.
  m.ground = make_ground(m.ground_kind, spec.setting, k.scenery, std::min(width, height) <= 360 ? 128 : 256, s);
  m.show_stars = k.night && !k.rain && !m.interior;
  if (m.show_stars) {
    const int count = spec.setting == Setting::NightSky ? 1400 : 600;
    for (int i = 0; i < count; ++i) {
      const uint32_t h = hash32(s, uint32_t(i) + 7777u);
      const float az = (unit(h) * 2 - 1) * 1.7f;
      float el = std::asin(unit(hash32(h)) * 0.98f);
      // A band of extra stars across the sky: the milky way.
      if (spec.setting == Setting::NightSky && (i % 3) == 0) el = std::clamp(0.35f + 0.6f * az * 0.3f + 0.08f * (unit(hash32(h, 2u)) - 0.5f) * 4, 0.02f, 1.4f);
      Impl::Star st;
      st.dx = std::sin(az) * std::cos(el), st.dy = std::sin(el), st.dz = std::cos(az) * std::cos(el);
      st.size = 0.5f + 1.0f * std::pow(unit(hash32(h, 1u)), 6.0f);
      st.bright = 0.35f + 0.65f * unit(hash32(h, 3u));
      m.stars.push_back(st);
    }
  }
  if (!k.night && !m.interior) {
    const int count = k.rain ? 14 : 6;
    for (int i = 0; i < count; ++i) {
      const uint32_t h = hash32(s, uint32_t(i) + 555u);
      m.clouds.push_back({(unit(h) * 2 - 1) * 1.3f, 0.12f + 0.35f * unit(hash32(h)), 0.08f + 0.08f * unit(hash32(h, 1u)),
                          hash32(h, 2u)});
    }
  }
}

Scenery::~Scenery() { delete impl_; }

int Scenery::prop_count() const { return int(impl_->props.size()); }

float Scenery::prop_depth(const View& view, int prop) const {
  const Prop& p = impl_->props[prop];
  return project(view.pose, p.x, 0, p.z, view.width, view.height).depth;
}

namespace {

// Sample the ground texture at world (x, z): nearest texel at mip `level`, bilinear at level 0
// when magnified.
inline void sample_ground(const GroundTexture& g, float x, float z, int level, float level_frac, bool magnified,
                          float out[3]) {
  const int n0 = g.size;
  const float scale = float(n0) / g.tile_m;
  if (magnified) {
    const float fx = x * scale - 0.5f, fz = z * scale - 0.5f;
    const int ix = floor_int(fx), iz = floor_int(fz);
    const float tx = fx - float(ix), tz = fz - float(iz);
    const uint8_t* t = g.levels[0].data();
    const int m = n0 - 1;
    const uint8_t* a = t + (size_t((iz & m)) * n0 + (ix & m)) * 3;
    const uint8_t* b = t + (size_t((iz & m)) * n0 + ((ix + 1) & m)) * 3;
    const uint8_t* c = t + (size_t(((iz + 1) & m)) * n0 + (ix & m)) * 3;
    const uint8_t* d = t + (size_t(((iz + 1) & m)) * n0 + ((ix + 1) & m)) * 3;
    for (int k = 0; k < 3; ++k) {
      const float top = a[k] + (b[k] - a[k]) * tx, bottom = c[k] + (d[k] - c[k]) * tx;
      out[k] = top + (bottom - top) * tz;
    }
    return;
  }
  const int n = n0 >> level;
  const float s = scale / float(1 << level);
  const uint8_t* t = g.levels[level].data() + (size_t(floor_int(z * s) & (n - 1)) * n + (floor_int(x * s) & (n - 1))) * 3;
  if (level_frac <= 0.01f || n == 1) {
    out[0] = t[0], out[1] = t[1], out[2] = t[2];
    return;
  }
  const int n2 = n >> 1;
  const float s2 = s * 0.5f;
  const uint8_t* u = g.levels[level + 1].data() + (size_t(floor_int(z * s2) & (n2 - 1)) * n2 + (floor_int(x * s2) & (n2 - 1))) * 3;
  for (int k = 0; k < 3; ++k) out[k] = t[k] + (u[k] - t[k]) * level_frac;
}

// Ground texture along one row of pixels, where world (x, z) is linear in the column:
// tile coordinates are 32-bit fixed point (a whole tile = 2^32), so wrapping is free and a
// texel costs a shift and a load. Nearest texels of two mip levels, blended by `frac`.
struct RowSampler {
  const uint8_t* a = nullptr;
  const uint8_t* b = nullptr;
  int log_a = 0;
  uint32_t x0 = 0, z0 = 0, dx = 0, dz = 0;
  uint32_t frac = 0;  // 0..256

  static uint32_t wrap(double tiles) { return uint32_t(int64_t(std::floor((tiles - std::floor(tiles)) * 4294967296.0)) & 0xffffffffLL); }

  // x_first, z_first: world metres at the row's first pixel centre; x_step, z_step per pixel.
  RowSampler(const GroundTexture& g, int level, float level_frac, double x_first, double z_first, double x_step,
             double z_step) {
    const int last = int(g.levels.size()) - 1;
    level = std::clamp(level, 0, last);
    a = g.levels[size_t(level)].data();
    b = g.levels[size_t(std::min(level + 1, last))].data();
    log_a = 0;
    while ((g.size >> level) > (1 << log_a)) ++log_a;
    frac = level >= last ? 0u : uint32_t(std::clamp(level_frac, 0.0f, 1.0f) * 256.0f);
    const double inv_tile = 1.0 / g.tile_m;
    x0 = wrap(x_first * inv_tile), z0 = wrap(z_first * inv_tile);
    dx = wrap(x_step * inv_tile), dz = wrap(z_step * inv_tile);
  }
  void sample(int u, float out[3]) const {
    const uint32_t x = x0 + uint32_t(u) * dx, z = z0 + uint32_t(u) * dz;
    if (log_a == 0) {
      out[0] = a[0], out[1] = a[1], out[2] = a[2];
      return;
    }
    const int sa = 32 - log_a;
    const uint8_t* ta = a + ((size_t(z >> sa) << log_a) + (x >> sa)) * 3;
    if (frac == 0) {
      out[0] = ta[0], out[1] = ta[1], out[2] = ta[2];
      return;
    }
    const int lb = log_a - 1, sb = sa + 1;
    const uint8_t* tb = lb == 0 ? b : b + ((size_t(z >> sb) << lb) + (x >> sb)) * 3;
    const float f = float(frac) * (1.0f / 256.0f);
    for (int k = 0; k < 3; ++k) out[k] = float(ta[k]) + (float(tb[k]) - float(ta[k])) * f;
  }
};

// Coverage of the band |c - centre| < half (metres) for a pixel footprint of fp metres.
inline float band(float c, float centre, float half, float fp) {
  return std::clamp((half - std::abs(c - centre)) / fp + 0.5f, 0.0f, 1.0f);
}

float fast_sin(float x) {
  // sin on any range: reduce to [-pi, pi], then a parabola with a correction (error < 0.001).
  x = x - 2 * kPi * std::floor((x + kPi) / (2 * kPi));
  const float y = 1.2732395f * x - 0.4052847f * x * std::abs(x);
  return 0.225f * (y * std::abs(y) - y) + y;
}

}  // namespace

void Scenery::draw_background(const View& view, double time, Canvas& canvas, std::vector<Light>& lights) const {
  const Impl& m = *impl_;
  const Look& k = look_;
  const int W = canvas.width, H = canvas.height;
  const CameraPose& cam = view.pose;
  const float f = view.f, inv_f = 1.0f / f;
  const float cy = view.cyaw, sy = view.syaw, cp = view.cpitch, sp = view.spitch;
  const float time_f = float(time);
  const int max_level = int(m.ground.levels.size()) - 1;

  // Per row: yr (camera up over depth) gives the world ray's dy and horizontal forward zr.
  auto row_ray = [&](int v, float* dy, float* zr) {
    const float yr = -(float(v) + 0.5f - 0.5f * float(H)) * inv_f;
    *dy = cp * yr + sp;
    *zr = -sp * yr + cp;
  };

  if (m.interior) {
    // The room: floor y = 0, ceiling y = 3, back wall z = 13.2, side walls x = +-7.
    const float ceiling = 3.0f, back = 13.2f, side = kRoomHalfWidth;  // the walls the physics has
    const Rgb wall = rgb(222, 200, 168) * k.scenery, wall_stripe = rgb(208, 184, 152) * k.scenery;
    const Rgb skirting = rgb(238, 232, 222) * k.scenery, ceiling_c = rgb(240, 232, 216) * k.scenery * 0.9f;
    const Rgb frame_c = rgb(245, 243, 236) * k.scenery, picture_frame = rgb(92, 60, 36) * k.scenery;
    const Rgb rug_a = rgb(150, 52, 48) * k.scenery, rug_b = rgb(222, 186, 120) * k.scenery;
    for (int v = 0; v < H; ++v) {
      float dy, zr;
      row_ray(v, &dy, &zr);
      const float t_floor = dy < -1e-6f ? -cam.y / dy : kInf;
      const float t_ceil = dy > 1e-6f ? (ceiling - cam.y) / dy : kInf;
      int level = 0;
      float level_frac = 0;
      bool magnified = false;
      if (t_floor < kInf) {
        const float fp = t_floor * inv_f * std::pow(std::sqrt(dy * dy + zr * zr) / std::abs(dy), 0.75f);
        const float lv = std::log2(std::max(fp * m.ground.size / m.ground.tile_m, 1e-6f));
        magnified = lv < 0;
        level = std::clamp(int(std::floor(std::max(lv, 0.0f))), 0, max_level);
        level_frac = level >= max_level ? 0 : std::max(lv, 0.0f) - float(level);
      }
      uint8_t* row = canvas.rgb + size_t(v) * W * 3;
      for (int u = 0; u < W; ++u) {
        const float xr = (float(u) + 0.5f - 0.5f * float(W)) * inv_f;
        const float dx = cy * xr + sy * zr, dz = -sy * xr + cy * zr;
        const float t_back = dz > 1e-6f ? (back - cam.z) / dz : kInf;
        const float t_side = dx > 1e-6f ? (side - cam.x) / dx : dx < -1e-6f ? (-side - cam.x) / dx : kInf;
        float t = std::min(std::min(t_floor, t_ceil), std::min(t_back, t_side));
        Rgb c;
        const float fp = t * inv_f;
        if (t == t_floor) {
          const float x = cam.x + t * dx, z = cam.z + t * dz;
          float tex[3];
          sample_ground(m.ground, x, z, level, level_frac, magnified, tex);
          c = rgb(tex[0], tex[1], tex[2]);
          // Rug: x in [-3, 3], z in [5.5, 11], with a border band.
          const float inside = std::min(std::clamp((3.0f - std::abs(x)) / fp + 0.5f, 0.0f, 1.0f),
                                        std::clamp((2.75f - std::abs(z - 8.25f)) / fp + 0.5f, 0.0f, 1.0f));
          if (inside > 0) {
            const float inner = std::min(std::clamp((2.6f - std::abs(x)) / fp + 0.5f, 0.0f, 1.0f),
                                         std::clamp((2.35f - std::abs(z - 8.25f)) / fp + 0.5f, 0.0f, 1.0f));
            c = mix(c, mix(rug_b, rug_a, inner), inside);
          }
          c = c * (0.8f + 0.2f * std::clamp((z - cam.z) / 10.0f, 0.0f, 1.0f));
        } else if (t == t_ceil) {
          // Brighter toward the back of the room, where the window and lamps light it.
          const float z = cam.z + t * dz;
          c = ceiling_c * (0.8f + 0.25f * std::clamp((z - cam.z) / 12.0f, 0.0f, 1.0f));
        } else {
          const bool is_back = t == t_back;
          const float X = is_back ? cam.x + t * dx : cam.z + t * dz;
          const float Y = cam.y + t * dy;
          const float stripe = std::clamp((0.075f - std::abs(fract(X / 0.3f) * 0.3f - 0.15f)) / fp + 0.5f, 0.0f, 1.0f);
          c = mix(wall, wall_stripe, stripe);
          if (Y < 0.12f) c = mix(c, skirting, std::clamp((0.12f - Y) / fp + 0.5f, 0.0f, 1.0f));
          if (Y > ceiling - 0.14f) c = mix(c, skirting, std::clamp((Y - (ceiling - 0.14f)) / fp + 0.5f, 0.0f, 1.0f));
          if (is_back) {
            // Window at x in [-3, -0.6], y in [0.9, 2.4] with a white frame and a cross bar.
            const float wx = -1.8f, whx = 1.2f, wyc = 1.65f, why = 0.75f;
            const float in_window = std::min(band(X, wx, whx, fp), band(Y, wyc, why, fp));
            if (in_window > 0) {
              const float glass = std::min(band(X, wx, whx - 0.08f, fp), band(Y, wyc, why - 0.08f, fp)) *
                                  (1 - band(X, wx, 0.03f, fp)) * (1 - band(Y, wyc + 0.15f, 0.03f, fp));
              const float el = std::atan2(Y - 1.0f, 30.0f) * 8.0f;
              const Rgb sky = m.sky_by_elevation[sky_index(el)];
              c = mix(c, mix(frame_c, sky, glass), in_window);
            }
            // Picture: x in [1.2, 3.4], y in [1.5, 2.4].
            const float in_pic = std::min(band(X, 2.3f, 1.1f, fp), band(Y, 1.95f, 0.45f, fp));
            if (in_pic > 0) {
              const float canvas_in = std::min(band(X, 2.3f, 1.0f, fp), band(Y, 1.95f, 0.35f, fp));
              const float hill = Y < 1.85f + 0.12f * std::sin(X * 3) ? 1.0f : 0.0f;
              const Rgb art = mix(rgb(120, 170, 210) * k.scenery, rgb(90, 140, 80) * k.scenery, hill);
              c = mix(c, mix(picture_frame, art, canvas_in), in_pic);
            }
          } else {
            c = c * 0.86f;
          }
          // Darker toward the ceiling and the corners: the lamp light falls off.
          c = c * (1.0f - 0.18f * std::clamp(Y / ceiling, 0.0f, 1.0f));
        }
        row[u * 3 + 0] = raster::to_byte(c.r);
        row[u * 3 + 1] = raster::to_byte(c.g);
        row[u * 3 + 2] = raster::to_byte(c.b);
      }
    }
    return;
  }

  // Pass 1: the sky, one colour per row (rows below the horizon are all ground: pass 3).
  for (int v = 0; v < H; ++v) {
    float dy, zr;
    row_ray(v, &dy, &zr);
    if (dy < -1e-6f) continue;
    const Rgb c = m.sky_by_elevation[sky_index(std::atan2(dy, zr))];
    const uint8_t r = raster::to_byte(c.r), g = raster::to_byte(c.g), b = raster::to_byte(c.b);
    uint8_t* row = canvas.rgb + size_t(v) * W * 3;
    for (int u = 0; u < W; ++u) row[u * 3] = r, row[u * 3 + 1] = g, row[u * 3 + 2] = b;
  }

  // Pass 2: things in the sky, placed by direction (they move with pans, not with dollies).
  // project() of the point at infinity in direction (dx, dy, dz), with this frame's trig.
  auto sky_point = [&](float dx, float dy, float dz, float* u, float* v) {
    const float xr = cy * dx - sy * dz, zr = sy * dx + cy * dz;
    const float yr = cp * dy - sp * zr, depth = sp * dy + cp * zr;
    if (depth <= 1e-4f) return false;
    *u = 0.5f * float(W) + f * xr / depth;
    *v = 0.5f * float(H) - f * yr / depth;
    return true;
  };
  auto direction = [](float az, float el, float* dx, float* dy, float* dz) {
    *dx = std::sin(az) * std::cos(el), *dy = std::sin(el), *dz = std::cos(az) * std::cos(el);
  };
  const float px_scale = float(std::min(W, H)) / 720.0f;  // star sizes follow resolution
  for (const auto& st : m.stars) {
    float u, v;
    if (!sky_point(st.dx, st.dy, st.dz, &u, &v)) continue;
    if (u < -2 || v < -2 || u > W + 2 || v > H + 2) continue;
    const float twinkle = 0.75f + 0.25f * fast_sin(time_f * 3.0f + st.bright * 40.0f);
    const float r = std::max(0.55f, st.size * 1.4f * px_scale);
    const float a = st.bright * twinkle * std::min(1.0f, r * r * 1.5f);
    raster::fill(canvas, Circle{u, v, r}, rgb(255, 250, 235), a, 1.0f, Blend::Add);
  }
  Canvas sky_canvas = canvas;
  sky_canvas.record = nullptr;
  if (k.night && !k.rain) {
    const bool big = m.spec.setting == Setting::NightSky;
    float dx, dy, dz, u, v;
    direction(big ? 0.32f : -0.38f, big ? 0.3f : 0.34f, &dx, &dy, &dz);
    if (sky_point(dx, dy, dz, &u, &v)) {
      const float r = (big ? 0.06f : 0.035f) * f;
      if (u > -6 * r && u < W + 6 * r && v > -6 * r && v < H + 6 * r) {
        raster::glow(sky_canvas, u, v, r * 4.0f, r * 4.0f, rgb(60, 70, 100), 0.6f);
        raster::fill(sky_canvas, Circle{u, v, r}, [&](float x, float y) {
          const float d = std::sqrt((x - u + 0.3f * r) * (x - u + 0.3f * r) + (y - v + 0.3f * r) * (y - v + 0.3f * r)) / r;
          return rgb(250, 246, 226) * (1.0f - 0.08f * d);
        });
        for (int c = 0; c < 5; ++c) {
          const uint32_t h = hash32(m.seed, uint32_t(c) + 900u);
          const float cx = u + (unit(h) - 0.5f) * 1.1f * r, cyy = v + (unit(hash32(h)) - 0.5f) * 1.1f * r;
          raster::fill(sky_canvas, Circle{cx, cyy, r * (0.1f + 0.12f * unit(hash32(h, 1u)))}, rgb(215, 210, 192), 0.8f);
        }
        lights.push_back({u, v, r, rgb(200, 215, 255), 0.8f, true});
      }
    }
  }
  if (!k.night && !k.rain) {
    float dx, dy, dz, u, v;
    if (k.golden)
      direction(0.45f, 0.07f, &dx, &dy, &dz);
    else
      direction(-0.9f, 0.7f, &dx, &dy, &dz);
    if (sky_point(dx, dy, dz, &u, &v)) {
      const float r = (k.golden ? 0.05f : 0.035f) * f;
      if (u > -8 * r && u < W + 8 * r && v > -8 * r && v < H + 8 * r) {
        raster::glow(sky_canvas, u, v, r * 8, r * 8, k.golden ? rgb(255, 150, 60) : rgb(255, 250, 220), 0.6f);
        raster::fill(sky_canvas, Circle{u, v, r}, k.golden ? rgb(255, 236, 180) : rgb(255, 255, 245));
        lights.push_back({u, v, r, k.golden ? rgb(255, 190, 110) : rgb(255, 250, 230), 1.0f, true});
      }
    }
  }
  for (const auto& cl : m.clouds) {
    const float drift = cl.az + 0.004f * time_f;
    float dx, dy, dz, u, v;
    direction(drift, cl.el, &dx, &dy, &dz);
    if (!sky_point(dx, dy, dz, &u, &v)) continue;
    const float r = cl.size * f;
    if (u < -3 * r || u > W + 3 * r || v < -2 * r || v > H + 2 * r) continue;
    const Rgb lit = k.rain ? rgb(150, 152, 160) : k.golden ? rgb(255, 214, 180) : rgb(252, 252, 255);
    const Rgb shade = k.rain ? rgb(105, 108, 118) : k.golden ? rgb(196, 140, 150) : rgb(208, 216, 232);
    for (int e = 0; e < 5; ++e) {
      const uint32_t h = hash32(cl.variant, uint32_t(e));
      const float ex = u + (float(e) - 2.0f) * 0.55f * r + (unit(h) - 0.5f) * 0.3f * r;
      const float ey = v - (e == 1 || e == 2 ? 0.35f * r : 0.0f) - unit(hash32(h)) * 0.2f * r;
      const float er = r * (0.45f + 0.3f * unit(hash32(h, 1u))) * (e == 0 || e == 4 ? 0.8f : 1.1f);
      raster::fill(sky_canvas, Ellipse{ex, ey, er, er * 0.7f, 0}, [&](float, float y) {
        return mix(lit, shade, std::clamp((y - (ey - er * 0.7f)) / (1.4f * er), 0.0f, 1.0f));
      }, 0.92f, std::max(1.0f, 0.15f * r));
    }
  }

  // Pass 3: terrain. Per row the ground hit distance is constant (no roll), so ground
  // coordinates are linear along the row; far layers need one divide per pixel.
  const bool beach = m.spec.setting == Setting::Beach;
  const bool city = m.spec.setting == Setting::CityStreet;
  const Rgb water_deep = rgb(30, 96, 150) * k.scenery, water_near = rgb(56, 150, 172) * k.scenery;
  const Rgb foam = rgb(240, 246, 250) * k.scenery, lane = rgb(236, 232, 214) * k.scenery;
  const Rgb curb = rgb(170, 168, 160) * k.scenery, pavement = rgb(148, 146, 140) * k.scenery;
  const float shore_z = 15.5f;
  for (int v = 0; v < H; ++v) {
    float dy, zr;
    row_ray(v, &dy, &zr);
    const float t_ground = dy < -1e-6f ? -cam.y / dy : kInf;
    // Which layers can this row reach? Y at the plane grows with t when dy > 0.
    const float xr0 = (0.5f - 0.5f * float(W)) * inv_f, xr1 = (float(W) - 0.5f - 0.5f * float(W)) * inv_f;
    const float dz_max = std::max(-sy * xr0 + cy * zr, -sy * xr1 + cy * zr);
    // Layers this row can show, far to near.
    int active[4];
    int n_active = 0;
    for (int li = int(m.layers.size()) - 1; li >= 0 && n_active < 4; --li) {
      const FarLayer& L = m.layers[size_t(li)];
      if (dz_max <= 1e-6f) continue;
      const float t_min = (L.z - cam.z) / dz_max;
      if (t_min <= 0 || t_min >= t_ground) continue;
      if (dy > 0 && cam.y + t_min * dy > L.max_height + 1.0f) continue;
      active[n_active++] = li;
    }
    if (t_ground == kInf && n_active == 0) continue;
    int level = 0;
    float level_frac = 0, fog = 0;
    bool magnified = false;
    if (t_ground < kInf) {
      // Footprint grows toward the horizon (1 / sin of the elevation); the 0.75 power sits
      // between isotropic sharpness and no aliasing of detail running across the view.
      const float stretch = std::pow(std::sqrt(dy * dy + zr * zr) / std::abs(dy), 0.75f);
      const float fp = t_ground * inv_f * stretch;
      const float lv = std::log2(std::max(fp * m.ground.size / m.ground.tile_m, 1e-6f));
      magnified = lv < 0;
      level = std::clamp(int(std::floor(std::max(lv, 0.0f))), 0, max_level);
      level_frac = level >= max_level ? 0 : std::max(lv, 0.0f) - float(level);
      fog = 1 - std::exp(-t_ground * std::sqrt(dy * dy + zr * zr) / k.fog_distance);
    }
    const float ground_fp = t_ground * inv_f * (t_ground < kInf ? std::pow(std::sqrt(dy * dy + zr * zr) / std::abs(dy), 0.75f) : 1.0f);
    uint8_t* row = canvas.rgb + size_t(v) * W * 3;
    const float xr_first = (0.5f - 0.5f * float(W)) * inv_f;
    const double t_row = t_ground < kInf ? double(t_ground) : 0.0;
    const RowSampler sampler(m.ground, level, level_frac, cam.x + t_row * (cy * xr_first + sy * zr),
                             cam.z + t_row * (-sy * xr_first + cy * zr), t_row * cy * inv_f, -t_row * sy * inv_f);
    for (int u = 0; u < W; ++u) {
      const float xr = (float(u) + 0.5f - 0.5f * float(W)) * inv_f;
      const float dx = cy * xr + sy * zr, dz = -sy * xr + cy * zr;
      uint8_t* p = row + u * 3;
      // Far layers, near to far (front to back): once covered, nothing behind is computed.
      float cover = 0;
      Rgb front{0, 0, 0};
      for (int a = n_active - 1; a >= 0 && cover < 0.999f; --a) {
        const FarLayer& L = m.layers[size_t(active[a])];
        if (dz <= 1e-6f) continue;
        const float t = (L.z - cam.z) / dz;
        if (t <= 0 || t >= t_ground) continue;
        const float Y = cam.y + t * dy;
        if (Y > L.max_height + 1.0f) continue;
        const float X = cam.x + t * dx;
        float shade;
        const float h = L.height_at(X, &shade);
        const float fp = t * inv_f;
        const float cov = std::clamp((h - Y) / fp + 0.5f, 0.0f, 1.0f);
        if (cov <= 0) continue;
        const float w = (1 - cover) * cov;
        front = front + layer_color(L, X, Y, h, shade, fp, k.night) * w;
        cover += w;
      }
      Rgb c{float(p[0]), float(p[1]), float(p[2])};
      bool changed = cover > 0;
      if (t_ground < kInf && cover < 0.999f) {
        const float x = cam.x + t_ground * dx, z = cam.z + t_ground * dz;
        float tex[3];
        Rgb g;
        if (beach && z > shore_z + 0.6f * fast_sin(x * 0.15f + time_f * 0.5f)) {
          // Sea: deeper farther out, with moving wave crests.
          const float out = std::clamp((z - shore_z) / 60.0f, 0.0f, 1.0f);
          g = mix(water_near, water_deep, std::sqrt(out));
          const float crest_phase = z * 0.9f + 0.8f * fast_sin(x * 0.23f) - time_f * 1.3f;
          const float crest = 0.5f + 0.5f * fast_sin(crest_phase);
          const float sharp = crest * crest * crest * crest;
          const float detail = std::clamp(1.0f - ground_fp * 1.5f, 0.0f, 1.0f);
          g = mix(g, foam, sharp * 0.35f * detail + 0.04f);
          const float shore_foam = z - (shore_z + 0.6f * fast_sin(x * 0.15f + time_f * 0.5f));
          if (shore_foam < 0.4f) g = mix(g, foam, std::clamp((0.4f - shore_foam) / 0.4f, 0.0f, 1.0f) * 0.8f);
        } else {
          if (magnified)
            sample_ground(m.ground, x, z, level, level_frac, true, tex);
          else
            sampler.sample(u, tex);
          g = rgb(tex[0], tex[1], tex[2]);
          if (beach) {
            const float wet = std::clamp((z - (shore_z - 3.0f)) / 3.0f, 0.0f, 1.0f);
            g = g * (1.0f - 0.3f * wet);
          }
          if (city) {
            // Dashed centre line at z = 11, solid edge line at z = 13.3, curb and pavement beyond 13.7.
            const float fp = std::max(ground_fp, 1e-4f);
            const float dash = std::clamp((1.5f - std::abs(fract(x / 6.0f) * 6.0f - 1.5f)) / fp + 0.5f, 0.0f, 1.0f);
            g = mix(g, lane, band(z, 11.0f, 0.08f, fp) * dash * 0.9f);
            g = mix(g, lane, band(z, 13.3f, 0.07f, fp) * 0.85f);
            if (z > 13.6f) {
              const float slabs = std::max(band(fract(x / 1.5f) * 1.5f, 0.75f, 0.72f, fp), 0.0f);
              Rgb side = mix(pavement * 0.8f, pavement, slabs);
              side = mix(side, curb, band(z, 13.75f, 0.15f, fp));
              g = mix(g, side, std::clamp((z - 13.6f) / fp + 0.5f, 0.0f, 1.0f));
            }
          }
        }
        c = mix(g, k.haze, fog);
        changed = true;
      }
      if (changed) {
        c = front + c * (1 - cover);
        p[0] = raster::to_byte(c.r);
        p[1] = raster::to_byte(c.g);
        p[2] = raster::to_byte(c.b);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------

void Scenery::draw_prop(const View& view, int index, double time, Canvas& canvas, std::vector<Light>& lights) const {
  const Impl& m = *impl_;
  const Prop& p = m.props[index];
  const Look& k = look_;
  const Projected base = project(view.pose, p.x, 0, p.z, view.width, view.height);
  if (!base.in_front || base.depth < 0.3f) return;
  const float s = base.pixels_per_metre * p.scale;
  const float u0 = base.u, v0 = base.v;
  // Cull by a generous extent: props are at most ~8 m tall and 6 m wide.
  if (u0 + 4 * s < 0 || u0 - 4 * s > float(view.width) || v0 - 9 * s > float(view.height) || v0 + 1 * s < 0) return;
  auto P = [&](float lx, float ly) { return Vec2{u0 + s * lx, v0 - s * ly}; };
  const float fog = 1 - std::exp(-base.depth / k.fog_distance);
  auto tint = [&](Rgb c) { return mix(c * k.scenery, k.haze, fog); };
  const float soft = 1.0f;
  // Soft contact shadow on the ground.
  auto shadow = [&](float half_width) {
    raster::fill(canvas, Ellipse{u0, v0, half_width * s, half_width * s * 0.25f, 0}, rgb(0, 0, 0), 0.25f,
                 std::max(1.0f, 0.3f * half_width * s));
  };
  auto vertical_shade = [&](Rgb c, float top, float bottom) {
    return [c, top, bottom](float, float y) {
      const float t = std::clamp((y - top) / std::max(bottom - top, 1e-3f), 0.0f, 1.0f);
      return c * (1.12f - 0.3f * t);
    };
  };
  switch (p.kind) {
    case PropKind::Tree: {
      shadow(1.2f);
      const Rgb bark = tint(rgb(96, 66, 42));
      raster::fill(canvas, Segment{P(0, 0), P(0, 2.6f), 0.16f * s, 0.1f * s}, bark, 1, soft);
      raster::fill(canvas, Segment{P(0, 1.9f), P(0.6f, 2.7f), 0.06f * s, 0.04f * s}, bark, 1, soft);
      const Rgb leaf = tint(unit(p.variant) < 0.5f ? rgb(62, 128, 52) : rgb(84, 140, 50));
      const float top = v0 - 4.6f * s, bottom = v0 - 1.9f * s;
      const float cx[4] = {0, -0.75f, 0.75f, 0.1f}, cyv[4] = {3.4f, 3.0f, 3.1f, 3.9f}, cr[4] = {1.15f, 0.85f, 0.9f, 0.8f};
      for (int i = 0; i < 4; ++i) {
        const Vec2 c = P(cx[i], cyv[i]);
        raster::fill(canvas, Circle{c.x, c.y, cr[i] * s}, vertical_shade(leaf, top, bottom), 1, soft);
      }
      break;
    }
    case PropKind::Conifer:
    case PropKind::SnowyConifer: {
      shadow(1.0f);
      const bool snowy = p.kind == PropKind::SnowyConifer;
      raster::fill(canvas, Segment{P(0, 0), P(0, 1.0f), 0.14f * s, 0.12f * s}, tint(rgb(90, 60, 40)), 1, soft);
      const Rgb needles = tint(unit(p.variant) < 0.5f ? rgb(36, 92, 56) : rgb(46, 104, 60));
      const Rgb snow = tint(rgb(240, 246, 255));
      for (int tier = 0; tier < 3; ++tier) {
        const float y0 = 0.7f + 1.3f * float(tier), w = 1.3f - 0.33f * float(tier), h = 2.2f - 0.3f * float(tier);
        const Polygon tri{P(-w, y0), P(w, y0), P(0, y0 + h)};
        raster::fill(canvas, tri, vertical_shade(needles, v0 - (y0 + h) * s, v0 - y0 * s), 1, soft);
        if (snowy) {
          const Polygon cap{P(-w * 0.45f, y0 + h * 0.55f), P(w * 0.45f, y0 + h * 0.55f), P(0, y0 + h)};
          raster::fill(canvas, cap, snow, 1, soft);
        }
      }
      break;
    }
    case PropKind::Palm: {
      shadow(1.0f);
      const Rgb trunk = tint(rgb(140, 104, 66));
      Vec2 prev = P(0, 0);
      const float lean = (p.x < 0 ? 1.0f : -1.0f) * 0.5f;
      for (int i = 1; i <= 6; ++i) {
        const float t = float(i) / 6;
        const Vec2 next = P(lean * t * t * 1.6f, 5.0f * t);
        raster::fill(canvas, Segment{prev, next, (0.2f - 0.06f * t) * s, (0.2f - 0.06f * float(i) / 6) * s}, trunk, 1, soft);
        prev = next;
      }
      const Vec2 top = prev;
      const Rgb frond = tint(rgb(52, 132, 60));
      const float sway = 0.06f * fast_sin(float(time) * 1.1f + unit(p.variant) * 6);
      for (int i = 0; i < 7; ++i) {
        const float a = -kPi * (0.05f + 0.9f * float(i) / 6) + sway;
        const float len = 1.9f * s;
        const Vec2 tip{top.x + std::cos(a) * len, top.y + std::sin(a) * len * 0.55f + 0.5f * s * std::abs(std::cos(a))};
        const Vec2 mid = (top + tip) * 0.5f;
        raster::fill(canvas, Ellipse{mid.x, mid.y, len * 0.55f, 0.16f * s, std::atan2(tip.y - top.y, tip.x - top.x)}, frond, 1, soft);
      }
      raster::fill(canvas, Circle{top.x, top.y + 0.15f * s, 0.16f * s}, tint(rgb(100, 70, 40)), 1, soft);
      break;
    }
    case PropKind::Bush: {
      const Rgb leaf = tint(rgb(58, 118, 50));
      const float top = v0 - 1.2f * s;
      for (int i = 0; i < 3; ++i) {
        const Vec2 c = P(-0.5f + 0.5f * float(i), 0.45f + (i == 1 ? 0.25f : 0.0f));
        raster::fill(canvas, Circle{c.x, c.y, (i == 1 ? 0.6f : 0.45f) * s}, vertical_shade(leaf, top, v0), 1, soft);
      }
      break;
    }
    case PropKind::Rock: {
      const Rgb stone = tint(rgb(150, 120, 100));
      const Polygon rock{P(-0.8f, 0), P(0.9f, 0), P(0.7f, 0.5f), P(0.1f, 0.8f), P(-0.6f, 0.55f)};
      raster::fill(canvas, rock, vertical_shade(stone, v0 - 0.8f * s, v0), 1, soft);
      break;
    }
    case PropKind::Cactus: {
      shadow(0.5f);
      const Rgb green = tint(rgb(72, 132, 76));
      const float w = 0.22f * s;
      raster::fill(canvas, Segment{P(0, 0), P(0, 2.8f), w, w}, green, 1, soft);
      raster::fill(canvas, Segment{P(0, 1.3f), P(-0.6f, 1.3f), w * 0.75f, w * 0.75f}, green, 1, soft);
      raster::fill(canvas, Segment{P(-0.6f, 1.3f), P(-0.6f, 2.1f), w * 0.75f, w * 0.75f}, green, 1, soft);
      raster::fill(canvas, Segment{P(0, 1.7f), P(0.55f, 1.7f), w * 0.7f, w * 0.7f}, green, 1, soft);
      raster::fill(canvas, Segment{P(0.55f, 1.7f), P(0.55f, 2.3f), w * 0.7f, w * 0.7f}, green, 1, soft);
      raster::fill(canvas, Segment{P(-0.07f, 0.1f), P(-0.07f, 2.7f), w * 0.2f, w * 0.2f}, tint(rgb(96, 160, 96)), 0.6f, soft);
      break;
    }
    case PropKind::LampPost: {
      const Rgb metal = tint(rgb(52, 58, 64));
      raster::fill(canvas, Segment{P(0, 0), P(0, 4.3f), 0.09f * s, 0.06f * s}, metal, 1, soft);
      raster::fill(canvas, Segment{P(0, 4.3f), P(-0.7f, 4.45f), 0.05f * s, 0.05f * s}, metal, 1, soft);
      const Vec2 lamp = P(-0.75f, 4.3f);
      const Rgb glass = k.night ? rgb(255, 236, 180) : tint(rgb(200, 205, 200));
      raster::fill(canvas, Ellipse{lamp.x, lamp.y, 0.32f * s, 0.14f * s, 0}, glass, 1, soft);
      if (k.night) {
        raster::glow(canvas, lamp.x, lamp.y, 2.0f * s, 2.0f * s, rgb(255, 200, 120), 0.4f);
        // Pool of light on the ground.
        const Vec2 pool = P(-0.75f, 0);
        raster::glow(canvas, pool.x, pool.y, 2.4f * s, 0.6f * s, rgb(255, 200, 120), 0.2f);
        lights.push_back({lamp.x, lamp.y, 0.3f * s, rgb(255, 214, 150), 0.9f, true});
      }
      break;
    }
    case PropKind::Umbrella: {
      shadow(1.2f);
      raster::fill(canvas, Segment{P(0, 0), P(0.1f, 2.2f), 0.04f * s, 0.04f * s}, tint(rgb(230, 230, 230)), 1, soft);
      const Rgb a = tint(unit(p.variant) < 0.5f ? rgb(230, 60, 60) : rgb(40, 120, 220)), b = tint(rgb(245, 245, 240));
      const Vec2 c = P(0.1f, 2.1f);
      const float r = 1.3f * s;
      const raster::Ellipse dome{c.x, c.y, r, 0.55f * s, 0};
      raster::fill(canvas, raster::Clipped<raster::Ellipse>{dome, 0, 1, c.y}, [&](float x, float y) {
        const float ang = std::atan2(x - c.x, (c.y - y) + 0.6f * s);
        return (int(std::floor(ang * 5.0f)) & 1) ? a : b;
      }, 1, soft);
      break;
    }
    case PropKind::Sofa: {
      const Rgb cloth = tint(unit(p.variant) < 0.5f ? rgb(70, 96, 140) : rgb(120, 86, 70));
      const Rgb dark = cloth * 0.78f;
      const Vec2 back = P(0, 0.75f), seat = P(0, 0.35f);
      raster::fill(canvas, RoundBox{back.x, back.y, 1.4f * s, 0.4f * s, 0.12f * s, 0}, dark, 1, soft);
      raster::fill(canvas, RoundBox{seat.x, seat.y, 1.4f * s, 0.28f * s, 0.08f * s, 0}, cloth, 1, soft);
      for (int i = 0; i < 2; ++i) {
        const Vec2 cu = P(-0.65f + 1.3f * float(i), 0.62f);
        raster::fill(canvas, RoundBox{cu.x, cu.y, 0.62f * s, 0.1f * s, 0.06f * s, 0}, cloth * 1.08f, 1, soft);
      }
      for (int side = -1; side <= 1; side += 2) {
        const Vec2 arm = P(float(side) * 1.45f, 0.5f);
        raster::fill(canvas, RoundBox{arm.x, arm.y, 0.18f * s, 0.32f * s, 0.09f * s, 0}, cloth * 0.92f, 1, soft);
      }
      break;
    }
    case PropKind::FloorLamp: {
      const Rgb metal = tint(rgb(60, 52, 44));
      raster::fill(canvas, Segment{P(0, 0), P(0, 1.6f), 0.03f * s, 0.03f * s}, metal, 1, soft);
      raster::fill(canvas, Ellipse{u0, v0, 0.25f * s, 0.06f * s, 0}, metal, 1, soft);
      const bool on = k.night || k.golden;
      const Rgb shade_c = on ? rgb(255, 226, 170) : tint(rgb(236, 222, 196));
      const Polygon lamp_shade{P(-0.28f, 1.55f), P(0.28f, 1.55f), P(0.18f, 1.95f), P(-0.18f, 1.95f)};
      raster::fill(canvas, lamp_shade, shade_c, 1, soft);
      if (on) {
        const Vec2 c = P(0, 1.75f);
        raster::glow(canvas, c.x, c.y, 1.8f * s, 1.8f * s, rgb(255, 190, 110), 0.35f);
        lights.push_back({c.x, c.y, 0.25f * s, rgb(255, 210, 150), 0.8f, true});
      }
      break;
    }
    case PropKind::Plant: {
      const Rgb pot = tint(rgb(178, 92, 60)), leaf = tint(rgb(58, 132, 66));
      const Polygon pot_shape{P(-0.25f, 0), P(0.25f, 0), P(0.32f, 0.45f), P(-0.32f, 0.45f)};
      for (int i = 0; i < 6; ++i) {
        const float a = -kPi * (0.15f + 0.7f * float(i) / 5);
        const Vec2 base_pt = P(0, 0.45f);
        const Vec2 tip{base_pt.x + std::cos(a) * 0.8f * s, base_pt.y + std::sin(a) * 0.9f * s};
        const Vec2 mid = (base_pt + tip) * 0.5f;
        raster::fill(canvas, Ellipse{mid.x, mid.y, 0.45f * s, 0.12f * s, std::atan2(tip.y - base_pt.y, tip.x - base_pt.x)},
                     leaf * (0.9f + 0.2f * float(i % 2)), 1, soft);
      }
      raster::fill(canvas, pot_shape, pot, 1, soft);
      break;
    }
    case PropKind::Snowman: {
      shadow(0.6f);
      const Rgb snow = tint(rgb(245, 248, 255));
      const float ys[3] = {0.4f, 1.05f, 1.5f}, rs[3] = {0.45f, 0.32f, 0.22f};
      for (int i = 0; i < 3; ++i) {
        const Vec2 c = P(0, ys[i]);
        raster::fill(canvas, Circle{c.x, c.y, rs[i] * s}, [&](float x, float y) {
          const float d = ((x - c.x) + (y - c.y)) / (rs[i] * s);
          return snow * (0.92f + 0.08f * std::clamp(-d, -1.0f, 1.0f));
        }, 1, soft);
      }
      const Vec2 nose = P(0.05f, 1.5f);
      raster::fill(canvas, Polygon{nose, P(0.35f, 1.47f), P(0.05f, 1.43f)}, tint(rgb(240, 120, 30)), 1, soft);
      for (int e = -1; e <= 1; e += 2) {
        const Vec2 eye = P(0.08f * float(e), 1.58f);
        raster::fill(canvas, Circle{eye.x, eye.y, 0.03f * s}, rgb(20, 20, 20), 1, soft);
      }
      break;
    }
  }
}

}  // namespace opsis::studio::render_detail
