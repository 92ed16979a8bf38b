#pragma once
// Draws the world. Shapes are drawn from geometry at the output resolution (a 1080p frame is
// as crisp as a 128 px one), with depth layers that show parallax under camera moves,
// lighting by time of day, weather, and lens looks (anamorphic letterbox and flares,
// 85mm background blur, wide-angle).
#include <array>
#include <cstdint>
#include <vector>

#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::studio {

// Where an entity appears in one frame.
struct EntityTruth {
  int entity = -1;
  bool visible = false;        // any part of it inside the picture (and present)
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // screen box, pixels, clipped to the picture
  float mouth_open = 0;        // characters: as drawn
  float world_x = 0, world_y = 0, world_z = 0;  // where it is in the world, metres (EntityPose x, y, z)
};

// Which parts of a frame draw() paints: everything by default. Layered learned renderers
// (src/models/mini2/layered_renderer.hpp) are trained on the parts apart: the setting alone,
// and each entity alone over black and over white (which gives its coverage).
struct DrawParts {
  bool background = true;  // sky, terrain and props; else the frame is filled with `fill`
  int only_entity = -1;    // >= 0: that entity alone; -1: every entity; -2: none
  bool shadows = true;     // entities' ground shadows
  bool weather = true;     // rain streaks
  bool lens = true;        // 85mm background blur, anamorphic bars and flares, wide vignette
  uint8_t fill[3] = {0, 0, 0};
};

// The renderer's own colours, 0..255 RGB as drawn in daylight (before time-of-day lighting
// and shading): what code that reads studio pictures matches them against (the cameo
// likeness reader, src/cameo/likeness.cpp), so it never carries a copy of the numbers.
std::array<uint8_t, 3> palette_rgb(Color color);  // objects and shirts
std::array<uint8_t, 3> skin_rgb(SkinTone skin);
std::array<uint8_t, 3> hair_rgb(HairColor hair);
std::array<uint8_t, 3> hat_rgb();           // the hat's crown and brim (its band is the shirt's dark shade)
std::array<uint8_t, 3> glasses_frame_rgb();  // the glasses' rims and bridge

class FrameRenderer {
 public:
  // Precomputes what does not change per frame (palette, background layers, textures).
  FrameRenderer(const SceneSpec& spec, uint64_t seed, int width, int height);
  ~FrameRenderer();
  FrameRenderer(const FrameRenderer&) = delete;
  FrameRenderer& operator=(const FrameRenderer&) = delete;

  // rgb: [height, width, 3]. truth (optional) receives one EntityTruth per entity.
  void draw(const FrameState& state, uint8_t* rgb, std::vector<EntityTruth>* truth) const;
  void draw(const FrameState& state, uint8_t* rgb, std::vector<EntityTruth>* truth, const DrawParts& parts) const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace opsis::studio
