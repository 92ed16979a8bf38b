#pragma once
// The setting behind the action: sky (gradient, sun, moon, stars, clouds), far layers on
// vertical planes (hills, dunes, skyline, tree line), the ground plane in perspective, the
// living-room interior, and props at various depths. Everything is placed in world metres
// and seen through the frame's camera, so pans, orbits and dollies give true parallax.
#include <cstdint>
#include <vector>

#include "studio/render_raster.hpp"
#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::studio::render_detail {

using raster::Canvas;
using raster::Rgb;

// 32-bit integer hash (lowbias32) and helpers: the only randomness, so frames are a pure
// function of (spec, seed, state).
inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}
inline uint32_t hash32(uint32_t a, uint32_t b) { return hash32(a * 0x9E3779B1U ^ hash32(b)); }
inline uint32_t hash32(uint32_t a, uint32_t b, uint32_t c) { return hash32(hash32(a, b), c); }
inline float unit(uint32_t h) { return float(h >> 8) * (1.0f / 16777216.0f); }  // [0, 1)

// The light of a scene, from time of day, weather and setting.
struct Look {
  Rgb zenith, horizon, haze;  // sky gradient and distance haze
  Rgb scenery{1, 1, 1};       // multiplier on scenery colours
  Rgb entity{1, 1, 1};        // multiplier on objects and characters: milder, keeps hue readable
  bool night = false, golden = false, rain = false;
  float fog_distance = 400;   // metres for 63% haze
};
Look make_look(const SceneSpec& spec);

// A bright point in the picture (sun, moon, lamps, headlights): lens flares and bokeh.
struct Light {
  float u = 0, v = 0;   // pixels
  float radius = 0;     // pixels, apparent size of the source
  Rgb color;
  float strength = 1;   // 0..1
  bool background = true;  // behind the action (gets bokeh)
};

// The camera's pixel geometry for one frame (the inverse of project()).
struct View {
  CameraPose pose;
  int width = 0, height = 0;
  float f = 1;                 // pixels per unit of the view plane
  float cyaw = 1, syaw = 0, cpitch = 1, spitch = 0;
  View(const CameraPose& c, int w, int h);
};

class Scenery {
 public:
  Scenery(const SceneSpec& spec, uint64_t seed, int width, int height);
  ~Scenery();
  Scenery(const Scenery&) = delete;
  Scenery& operator=(const Scenery&) = delete;

  const Look& look() const { return look_; }

  // Sky, sky objects and terrain (ground and far layers; the room for the living room).
  void draw_background(const View& view, double time, Canvas& canvas, std::vector<Light>& lights) const;

  int prop_count() const;
  // Depth of a prop's base along the view axis; <= 0 when behind the camera.
  float prop_depth(const View& view, int prop) const;
  void draw_prop(const View& view, int prop, double time, Canvas& canvas, std::vector<Light>& lights) const;

  struct Impl;

 private:
  Look look_;
  Impl* impl_;
};

}  // namespace opsis::studio::render_detail
