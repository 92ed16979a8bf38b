#pragma once
// The studio world's front door: a spec and a seed in, a clip (frames + sound + ground
// truth) out.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "core/progress.hpp"
#include "studio/render.hpp"
#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::studio {

struct RenderOptions {
  int width = 1280;   // even, 16..1920
  int height = 720;   // even, 16..1920
  int fps = 24;
  int sample_rate = 48000;
  uint64_t seed = 0;
  bool audio = true;
  bool speech = true;  // false: the sound without the characters' spoken lines (the truth keeps their phonemes)
  // The picture's own seed (scenery layout, clouds, stars, rain); unset: `seed`. Learned
  // renderers that must predict the background use one layout per setting: fixed_scenery_seed.
  std::optional<uint64_t> scenery_seed = std::nullopt;
};

// The scenery seed of a setting's one fixed layout (see RenderOptions::scenery_seed).
inline uint64_t fixed_scenery_seed(Setting setting) { return 0x5CE9E0000ull + uint64_t(setting); }

struct FrameTruth {
  int index = 0;
  double time = 0;
  int shot = 0;
  CameraPose camera;
  std::vector<EntityTruth> entities;
};

struct Truth {
  std::vector<FrameTruth> frames;
  std::vector<Event> events;  // impacts, footsteps, phonemes, cuts... on the frames' clock
};

struct Clip {
  Video video;
  Audio audio;  // empty when options.audio is false
  Truth truth;
};

// Throws opsis::InvalidArgument for a bad spec or options (naming the field).
Clip render_clip(const SceneSpec& spec, const RenderOptions& options, const Progress* progress = nullptr);

// The spec as JSON text (canonical vocabulary words).
std::string spec_json(const SceneSpec& spec);

// Ground truth as JSON text: per frame camera, boxes, visibility, mouth, and each entity's
// world position ("position": [x, y, z] in metres, as in world.hpp: x to the right, y up, z
// away from the camera's start); events with times.
std::string truth_json(const SceneSpec& spec, const Clip& clip);

}  // namespace opsis::studio
