#include "engine/sampler.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace opsis::engine {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Guided velocity: baseline + scale * (conditional - baseline), scale per modality.
void guide(std::vector<float>& conditional, const std::vector<float>& baseline, double scale) {
  const float s = float(scale);
  for (size_t i = 0; i < conditional.size(); ++i)
    conditional[i] = baseline[i] + s * (conditional[i] - baseline[i]);
}

Latents velocity(Denoiser& denoiser, const Latents& x, double t, const Encoded& encoded,
                 const SamplerOptions& options) {
  const bool guided = encoded.negative && (options.guidance_video != 1.0 || options.guidance_audio != 1.0);
  if (!guided) {
    Latents v = denoiser.denoise(x, t, *encoded.positive);
    if (v.video.size() != x.video.size() || v.audio.size() != x.audio.size())
      throw std::logic_error("denoiser returned latents of the wrong size");
    return v;
  }
  std::vector<Latents> both = denoiser.denoise_each(x, t, {encoded.positive.get(), encoded.negative.get()});
  if (both.size() != 2 || both[0].video.size() != x.video.size() || both[0].audio.size() != x.audio.size() ||
      both[1].video.size() != x.video.size() || both[1].audio.size() != x.audio.size())
    throw std::logic_error("denoiser returned latents of the wrong size");
  guide(both[0].video, both[1].video, options.guidance_video);
  guide(both[0].audio, both[1].audio, options.guidance_audio);
  return std::move(both[0]);
}

void axpy(std::vector<float>& y, double a, const std::vector<float>& x) {
  const float af = float(a);
  for (size_t i = 0; i < y.size(); ++i) y[i] += af * x[i];
}

size_t count_of(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  return shape.empty() ? 0 : n;
}

}  // namespace

std::vector<double> timesteps(int steps, double shift) {
  if (steps < 1) throw InvalidArgument("steps", "steps must be at least 1, got " + std::to_string(steps));
  if (!(shift > 0)) throw InvalidArgument("shift", "time shift must be positive");
  std::vector<double> ts(size_t(steps) + 1);
  for (int i = 0; i <= steps; ++i) {
    const double t = 1.0 - double(i) / steps;
    ts[size_t(i)] = shift * t / (1.0 + (shift - 1.0) * t);
  }
  return ts;
}

std::vector<float> gaussian_noise(size_t count, uint64_t seed, uint64_t stream) {
  std::vector<float> out(count);
  uint64_t state = seed ^ (stream * 0xd1b54a32d192ed03ull);
  splitmix64(state);
  for (size_t i = 0; i < count; i += 2) {
    // Box-Muller on two uniforms in (0, 1].
    const double u1 = (double(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = double(splitmix64(state) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = float(r * std::cos(2.0 * M_PI * u2));
    if (i + 1 < count) out[i + 1] = float(r * std::sin(2.0 * M_PI * u2));
  }
  return out;
}

Latents sample(Denoiser& denoiser, const Encoded& encoded, const SamplerOptions& options, const Progress* progress) {
  Latents x;
  x.video_shape = encoded.video_shape;
  x.audio_shape = encoded.audio_shape;
  x.video = gaussian_noise(count_of(x.video_shape), options.seed, 1);
  x.audio = gaussian_noise(count_of(x.audio_shape), options.seed, 2);
  return sample_from(denoiser, std::move(x), encoded, options, progress);
}

Latents sample_from(Denoiser& denoiser, Latents x, const Encoded& encoded, const SamplerOptions& options,
                    const Progress* progress) {
  if (!encoded.positive) throw std::logic_error("sample: no conditions");
  const std::vector<double> ts = timesteps(options.steps, options.shift);
  Progress::step(progress, 0.0);
  for (int i = 0; i < options.steps; ++i) {
    const double t = ts[size_t(i)], t_next = ts[size_t(i) + 1];
    const double dt = t_next - t;  // negative: towards the data
    const Latents v = velocity(denoiser, x, t, encoded, options);
    if (options.solver == Solver::Heun && t_next > 0) {
      Latents predicted = x;
      axpy(predicted.video, dt, v.video);
      axpy(predicted.audio, dt, v.audio);
      const Latents v_next = velocity(denoiser, predicted, t_next, encoded, options);
      axpy(x.video, 0.5 * dt, v.video);
      axpy(x.video, 0.5 * dt, v_next.video);
      axpy(x.audio, 0.5 * dt, v.audio);
      axpy(x.audio, 0.5 * dt, v_next.audio);
    } else {
      axpy(x.video, dt, v.video);
      axpy(x.audio, dt, v.audio);
    }
    Progress::step(progress, double(i + 1) / options.steps);
  }
  return x;
}

}  // namespace opsis::engine
