#pragma once
// Flow-matching (rectified flow) sampling: integrates dx/dt = v(x, t) from pure noise at
// t = 1 to data at t = 0 with Euler or Heun steps, with classifier-free guidance whose scale
// differs per modality (video, audio), the baseline being the negative prompt.
#include <cstdint>

#include "core/progress.hpp"
#include "engine/backend.hpp"

namespace opsis::engine {

enum class Solver { Euler, Heun };

struct SamplerOptions {
  int steps = 20;
  Solver solver = Solver::Euler;
  // Time shift s: t' = s t / (1 + (s - 1) t). s > 1 spends more steps at high noise.
  double shift = 1.0;
  double guidance_video = 1.0;  // 1 = no guidance (the negative conditions are not evaluated)
  double guidance_audio = 1.0;
  uint64_t seed = 0;
};

// The noise levels visited, from 1 down to 0 (steps + 1 values).
std::vector<double> timesteps(int steps, double shift);

// Standard normal noise, the same on every platform for a seed (own generator, not <random>'s
// distributions, whose output is implementation-defined).
std::vector<float> gaussian_noise(size_t count, uint64_t seed, uint64_t stream);

// Starts from noise of encoded's shapes (seeded) and returns the sample at t = 0.
// Progress is reported once per step; cancellation throws opsis::Cancelled.
Latents sample(Denoiser& denoiser, const Encoded& encoded, const SamplerOptions& options,
               const Progress* progress = nullptr);

// Same, from a given starting point x at t = 1.
Latents sample_from(Denoiser& denoiser, Latents x, const Encoded& encoded, const SamplerOptions& options,
                    const Progress* progress = nullptr);

}  // namespace opsis::engine
