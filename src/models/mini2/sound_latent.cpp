#include "models/mini2/sound_latent.hpp"

#include <cmath>

namespace opsis::mini2 {

namespace {
double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }
}  // namespace

SoundLatent::SoundLatent(const SoundConfig& config) : config_(config) {
  const int bins = config.n_fft / 2 + 1;
  window_ = torch::hann_window(config.n_fft, torch::kFloat32);
  filterbank_ = torch::zeros({bins, config.mels});
  auto fb = filterbank_.accessor<float, 2>();
  const double low = hz_to_mel(config.min_hz), high = hz_to_mel(config.max_hz);
  std::vector<double> edges(size_t(config.mels) + 2);
  for (size_t i = 0; i < edges.size(); ++i) edges[i] = mel_to_hz(low + (high - low) * double(i) / double(config.mels + 1));
  for (int m = 0; m < config.mels; ++m) {
    const double left = edges[size_t(m)], centre = edges[size_t(m) + 1], right = edges[size_t(m) + 2];
    for (int b = 0; b < bins; ++b) {
      const double hz = double(b) * config.sample_rate / config.n_fft;
      double v = 0;
      if (hz > left && hz <= centre) v = (hz - left) / (centre - left);
      else if (hz > centre && hz < right) v = (right - hz) / (right - centre);
      fb[b][m] = float(v * 2.0 / (right - left) * 100.0);  // equal area per band
    }
  }
  // Inverse: the pseudo-inverse maps a mel power spectrum back to the linear bins it came from
  // (negative values are clamped at use).
  inverse_ = torch::linalg_pinv(filterbank_);  // [mels, bins]
}

torch::Tensor SoundLatent::stft(const torch::Tensor& pcm) const {
  return torch::stft(pcm, config_.n_fft, config_.hop, config_.n_fft, window_.to(pcm.device()), /*center=*/true,
                     "reflect", /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
}

torch::Tensor SoundLatent::istft(const torch::Tensor& spectrum, int64_t length) const {
  return torch::istft(spectrum, config_.n_fft, config_.hop, config_.n_fft, window_.to(spectrum.device()),
                      /*center=*/true, /*normalized=*/false, /*onesided=*/true, length);
}

torch::Tensor SoundLatent::analyze(const torch::Tensor& pcm) const {
  const int64_t frames = pcm.size(1) / config_.hop;
  auto power = stft(pcm.to(torch::kFloat32)).abs().pow(2);  // [B, bins, frames + 1]
  power = power.narrow(2, 0, frames);
  auto mel = torch::matmul(power.transpose(1, 2), filterbank_.to(pcm.device()));  // [B, frames, mels]
  return (torch::log10(mel.clamp_min(config_.log_floor)) + config_.log_offset) / config_.log_scale;
}

torch::Tensor SoundLatent::synthesize(const torch::Tensor& mel, int iterations, uint64_t seed) const {
  torch::NoGradGuard no_grad;
  if (iterations < 0) iterations = config_.griffin_lim_iterations;
  const int64_t B = mel.size(0), frames = mel.size(1), length = frames * config_.hop;
  auto power_mel = torch::pow(10.0, mel.to(torch::kFloat32) * config_.log_scale - config_.log_offset);
  // Below the floor is silence: subtract it so a quiet latent decodes to quiet, not to hiss.
  power_mel = (power_mel - config_.log_floor).clamp_min(0);
  auto power = torch::matmul(power_mel, inverse_.to(mel.device())).clamp_min(0);  // [B, frames, bins]
  auto magnitude = power.sqrt().transpose(1, 2);                                   // [B, bins, frames]
  // stft(center) gives frames + 1 columns for frames * hop samples: repeat the last one.
  magnitude = torch::cat({magnitude, magnitude.narrow(2, frames - 1, 1)}, 2);

  auto generator = at::detail::createCPUGenerator(seed);
  auto phase = torch::rand(magnitude.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat32)).to(mel.device()) * (2 * M_PI);
  auto spectrum = torch::polar(magnitude, phase);
  torch::Tensor previous;
  torch::Tensor signal = istft(spectrum, length);
  const double momentum = 0.99;  // fast Griffin-Lim (Perraudin et al. 2013)
  for (int i = 0; i < iterations; ++i) {
    auto rebuilt = stft(signal);
    auto accelerated = previous.defined() ? rebuilt + (momentum / (1 + momentum)) * (rebuilt - previous) : rebuilt;
    previous = rebuilt;
    spectrum = magnitude * accelerated / accelerated.abs().clamp_min(1e-8);
    signal = istft(spectrum, length);
  }
  return signal.reshape({B, length});
}

}  // namespace opsis::mini2
