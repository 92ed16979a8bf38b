#pragma once
// The LTX-2 audio VAE decoder: a 2-D causal (along time) convolutional decoder from the audio
// latent [B, z, T, 16] to a stereo log-mel spectrogram [B, 2, 4T - 3, mel_bins], built from the
// checkpoint's `audio_vae` config (pixel norm only). docs/ltx2/reference-map.md, "Audio VAE".
#include <torch/types.h>

#include <memory>
#include <string>

#include "core/safetensors.hpp"
#include "models/ltx2/config.hpp"

namespace opsis::ltx2 {

class AudioDecoder {
 public:
  AudioDecoder(const AudioVaeConfig& config, const safetensors::TensorStore& file, const std::string& path,
               torch::Device device = torch::kCPU);
  ~AudioDecoder();
  AudioDecoder(AudioDecoder&&) noexcept;
  AudioDecoder& operator=(AudioDecoder&&) noexcept;

  // latent [B, z, T, M] (normalised; z * M must equal the config's ch) -> log-mel [B, 2, 4T - 3, mel_bins]
  torch::Tensor forward(const torch::Tensor& latent) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsis::ltx2
