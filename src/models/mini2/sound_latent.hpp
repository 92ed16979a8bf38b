#pragma once
// opsis-mini 2's sound latent: a normalised log-mel spectrogram on a 10 ms hop, on the same
// clock as the video (whole seconds of both line up exactly), and its way back to a
// waveform by phase reconstruction (fast Griffin-Lim, deterministic). No learned weights.
#include <torch/torch.h>

#include "models/mini2/config.hpp"

namespace opsis::mini2 {

class SoundLatent {
 public:
  explicit SoundLatent(const SoundConfig& config);

  // pcm: [B, S] mono at config.sample_rate -> [B, S / hop, mels], values ~[-1.5, 2.5]
  torch::Tensor analyze(const torch::Tensor& pcm) const;
  // [B, frames, mels] -> [B, frames * hop]; the same input and seed give the same samples.
  torch::Tensor synthesize(const torch::Tensor& mel, int iterations = -1, uint64_t seed = 0) const;

  const SoundConfig& config() const { return config_; }
  const torch::Tensor& filterbank() const { return filterbank_; }  // [n_fft/2 + 1, mels]

 private:
  torch::Tensor stft(const torch::Tensor& pcm) const;          // [B, S] -> [B, bins, frames] complex
  torch::Tensor istft(const torch::Tensor& spectrum, int64_t length) const;
  SoundConfig config_;
  torch::Tensor window_;      // [n_fft] Hann
  torch::Tensor filterbank_;  // [bins, mels], triangular on the mel scale (Slaney-style area-normalised)
  torch::Tensor inverse_;     // [mels, bins]: non-negative least-squares-ish inverse of the filterbank
};

}  // namespace opsis::mini2
