#pragma once
// The interface every model family implements (the built-in mini model, later Wan, LTX-2...).
// The sampler and the pipeline only see this: they never know which model runs.
// Tensor-library free on purpose: latents cross it as plain float arrays.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/av.hpp"

namespace opsis {
struct Progress;
}

namespace opsis::engine {

struct SamplerOptions;  // engine/sampler.hpp

struct Capabilities {
  std::string name;
  double min_seconds = 1;
  double max_seconds = 25;
  double window_seconds = 4;  // longest stretch one denoising pass makes; longer clips use windows
  std::vector<std::pair<int, int>> sizes;  // width, height the model can make
  int fps = 24;
  int sample_rate = 16000;  // 0 = no audio
  bool image_conditioning = false;
  bool identity_conditioning = false;
  bool dialogue_conditioning = false;
  int default_steps = 20;
  double default_guidance_video = 3.0;
  double default_guidance_audio = 2.0;
  double timestep_shift = 1.0;  // the sampler's time shift (see SamplerOptions::shift)
};

// One phoneme of a spoken line, on the clip's clock (seconds from the clip's start).
struct PhonemeCue {
  std::string phoneme;  // espeak-ng mnemonic
  double start = 0;
  double duration = 0;
  int viseme = 0;
  float openness = 0;
};

// What one denoising pass is asked to make.
struct WindowRequest {
  std::string prompt;
  std::string negative;
  double seconds = 4;
  int width = 0;
  int height = 0;
  std::optional<Image> first_frame;  // the window starts from this picture
  std::optional<Image> identity;     // portrait of the character whose likeness to keep
  std::vector<PhonemeCue> phonemes;  // on this window's clock
  double time_offset = 0;            // where this window starts on the clip's clock, seconds
  std::vector<float> carry;          // what the previous window's decode left for this one (the backend's own; empty at first)
};

// The sampler's state. Shapes are the backend's business; the sampler only needs sizes.
struct Latents {
  std::vector<float> video;
  std::vector<float> audio;
  std::vector<int64_t> video_shape;
  std::vector<int64_t> audio_shape;
};

// A backend's encoded conditioning, opaque to everyone else.
class Conditions {
 public:
  virtual ~Conditions() = default;
};

struct Encoded {
  std::shared_ptr<const Conditions> positive;  // prompt + image + identity + dialogue
  std::shared_ptr<const Conditions> negative;  // negative prompt (or empty text): the guidance baseline
  std::vector<int64_t> video_shape;            // latent shapes for this window
  std::vector<int64_t> audio_shape;
};

struct Decoded {
  Video video;
  Audio audio;
  std::vector<float> carry;  // handed to the next window's request as-is (a backend's own state, e.g. its last scene state)
};

// The denoiser the sampler integrates: the velocity of the flow x_t = (1 - t) x0 + t noise,
// i.e. a prediction of (noise - x0), at noise level t in [0, 1].
class Denoiser {
 public:
  virtual ~Denoiser() = default;
  virtual Latents denoise(const Latents& x, double t, const Conditions& conditions) = 0;
  // The same x under several conditions (guidance: positive and negative). Backends that can
  // batch them in one pass override this; results equal calling denoise() for each.
  virtual std::vector<Latents> denoise_each(const Latents& x, double t,
                                            const std::vector<const Conditions*>& conditions) {
    std::vector<Latents> out;
    for (const Conditions* c : conditions) out.push_back(denoise(x, t, *c));
    return out;
  }
};

class Backend : public Denoiser {
 public:
  virtual Capabilities capabilities() const = 0;
  // Throws opsis::InvalidArgument naming the field for a request this model cannot honour.
  virtual Encoded encode(const WindowRequest& request) = 0;
  virtual Decoded decode(const Latents& x, const WindowRequest& request) = 0;
  // 2 x multiply-adds of one denoiser forward pass (batch 1) for this window: what benchmarks
  // compare with the machine's rate. 0 = not known.
  virtual double forward_flops(const WindowRequest& request) const { return 0; }
  // A family whose sampling differs from the engine's sampler (its own noise schedule, guidance
  // passes the engine has not: LTX-2's perturbed and modality-isolated passes) makes a window's
  // latents itself here, reporting once per step and throwing opsis::Cancelled when asked;
  // nullopt (the default) means the engine's sampler runs. options: steps, guidance, seed.
  virtual std::optional<Latents> sample_window(const Encoded& /*encoded*/, const SamplerOptions& /*options*/,
                                               const Progress* /*progress*/) {
    return std::nullopt;
  }
};

}  // namespace opsis::engine
