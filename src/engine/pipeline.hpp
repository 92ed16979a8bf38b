#pragma once
// One generation, end to end inside the engine: checks the request against the backend's
// capabilities, splits long clips into windows (each conditioned on the last frame of the
// one before), samples, decodes, and mixes dialogue speech into the model's own sound.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "core/progress.hpp"
#include "engine/backend.hpp"
#include "engine/sampler.hpp"

namespace opsis::engine {

struct GenerateRequest {
  std::string prompt;
  std::string negative;
  double seconds = 4;
  int width = 0;   // 0 with height 0: the model's first native size
  int height = 0;
  uint64_t seed = 0;
  int steps = 0;                          // 0: the model's default
  std::optional<double> guidance_video;   // unset: the model's default
  std::optional<double> guidance_audio;
  Solver solver = Solver::Euler;
  std::optional<Image> first_frame;  // must already be width x height
  std::optional<Image> identity;     // any size
  std::vector<PhonemeCue> phonemes;  // dialogue on the clip's clock
  Audio speech;                      // dialogue pcm on the clip's clock, mixed in after decoding
};

struct GeneratedClip {
  Video video;
  Audio audio;
};

class Pipeline {
 public:
  explicit Pipeline(Backend& backend) : backend_(backend) {}

  // Throws opsis::InvalidArgument naming the field (prompt, seconds, size, steps, guidance,
  // image, cameo) before any work is done; opsis::Cancelled if progress asks to stop.
  GeneratedClip run(const GenerateRequest& request, const Progress* progress = nullptr);

  // The checks run() does first, with the defaults filled in.
  GenerateRequest validate(const GenerateRequest& request) const;

 private:
  Backend& backend_;
};

// Adds `speech` into `audio` (resampled linearly if rates differ) and keeps the peak below
// full scale.
void mix_into(Audio& audio, const Audio& speech);

}  // namespace opsis::engine
