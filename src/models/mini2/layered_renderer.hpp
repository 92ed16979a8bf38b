#pragma once
// opsis-mini 2's structured variant, part 1: a learned, layered renderer that turns a scene
// state (camera pose and entity poses per frame, plus the prompt's static attributes) into
// frames. Nothing of the studio's renderer runs here; what is fixed is geometry:
//   - the background is a learned multiplane scene per setting: vertical planes at fixed
//     depths (z = const) with RGBA textures indexed by angle (x/z, y/z), the room's side walls
//     and ceiling, a ground plane (a learned 4 m tile plus a coarse map), and a learned sky per
//     (setting, time of day, weather). Each pixel's camera ray meets them, they are sorted by
//     distance and composited front to back; a learned colour transform and haze per
//     (setting, time, weather) light them (the multiplane idea of stereo magnification and
//     neural textures of deferred neural rendering, with the camera rays computed exactly).
//   - every entity is a sprite: a conditioned convolutional decoder (CoordConv) makes an RGBA
//     patch (premultiplied) from the entity's kind, colours, identity and pose, placed on the
//     frame at the box its pose projects to (a pinhole camera), far to near.
//   - lens looks are fixed image operations (letterbox bars, vignette, background blur).
// Trained on the studio's parts apart (src/studio/render.hpp DrawParts): backgrounds without
// entities, and each entity alone over black and over white (train/train_mini2_renderer.cpp).
#include <array>
#include <vector>

#include <torch/torch.h>

#include "core/safetensors.hpp"

#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::mini2 {

inline constexpr int kSettings = 8, kLooks = 8 * 3 * 2;  // settings; (setting, time, weather)
inline constexpr int kSpritePixels = 48;                  // sprite patch side
inline constexpr int kSpriteConditionDims = 77;

// Index of the scene's (setting, time of day, weather) in [0, kLooks).
int look_index(const studio::SceneSpec& spec);

// The patch a sprite covers, in metres relative to the entity's anchor (the EntityPose x, y:
// bottom centre of grounded things, centre of fliers), y up.
struct SpriteBox {
  float x0 = 0, x1 = 0, y0 = 0, y1 = 0;
};
// entity: index into spec.objects then spec.characters.
SpriteBox sprite_box(const studio::SceneSpec& spec, int entity);

// [kSpriteConditionDims]: what the sprite of `entity` looks like in this pose: its kind,
// colours and identity, the scene's light (setting, time, weather), the pose, and how many
// pixels its box's larger side covers on screen (8-96; a few pixels draw thin things a pixel
// wide, as the studio does, not a fraction of one).
std::array<float, kSpriteConditionDims> sprite_condition(const studio::SceneSpec& spec, int entity,
                                                          const studio::EntityPose& pose, double time, float pixels);

// Weights written before the sprite's on-screen size was a condition (76 inputs) gain a zero
// input column for it, so they load and draw as they did. Changes nothing else; returns
// whether it changed the file (an optimiser state saved with it no longer fits).
bool upgrade_renderer_tensors(safetensors::File& file, const std::string& prefix = "renderer.");

struct BackgroundFieldImpl : torch::nn::Module {
  BackgroundFieldImpl();
  // poses: [B, 6] (camera x, y, z, yaw, pitch, focal), look: [B] int64 look_index
  // -> [B, 3, height, width] in [0, 1] (not clamped while training).
  torch::Tensor forward(const torch::Tensor& poses, const torch::Tensor& look, int height, int width);

  torch::Tensor planes;      // [kSettings, K, 4, 40, 192]: RGB + alpha logit, over x/z in [-3, 3], y/z in [-0.1, 0.9]
  torch::Tensor walls;       // [kSettings, 2, 4, 16, 64]: the side walls x = -+7 over (z, y)
  torch::Tensor ceiling;     // [kSettings, 4, 32, 32]: y = 3 over (x, z)
  torch::Tensor ground_map;  // [kSettings, 3, 64, 64]: coarse colour over x in [-40, 40], z in [-8, 72]
  torch::Tensor ground_tile; // [kSettings, 3, 64, 64]: detail repeating every 4 m
  torch::Tensor sky;         // [kLooks, 3, 32, 96]: over (azimuth, elevation)
  torch::Tensor light_scale, light_bias, haze;  // [kLooks, 3]
  torch::Tensor fog_log_distance;               // [kLooks]
};
TORCH_MODULE(BackgroundField);

struct SpriteNetImpl : torch::nn::Module {
  SpriteNetImpl();
  // condition: [N, kSpriteConditionDims] -> [N, 4, 48, 48]: premultiplied RGB in [0, 1] and alpha.
  torch::Tensor forward(const torch::Tensor& condition);

  torch::nn::Linear in1{nullptr}, in2{nullptr};
  torch::nn::ModuleList stages{nullptr};  // three: 6 -> 12 -> 24 -> 48 pixels
  torch::nn::Conv2d out{nullptr};
};
TORCH_MODULE(SpriteNet);

struct LayeredRendererImpl : torch::nn::Module {
  LayeredRendererImpl();
  BackgroundField background{nullptr};
  SpriteNet sprites{nullptr};
};
TORCH_MODULE(LayeredRenderer);

// Draws frames of one clip: [F, height, width, 3] uint8 RGB, one per state (its camera's
// shot gives the lens). No gradient.
torch::Tensor render_clip(LayeredRenderer& renderer, const studio::SceneSpec& spec,
                          const std::vector<studio::FrameState>& states, int width, int height);

// Letterbox bar height of the anamorphic look (2.39:1 inside width x height).
int anamorphic_bar(int width, int height);

}  // namespace opsis::mini2
