#pragma once
// The LTX-2 vocoders: stereo log-mel [B, 2, T, 64] -> waveform [B, 2, samples].
// 2.0: a HiFi-GAN generator (resblock "1", leaky ReLU, tanh), 24 kHz.
// 2.3: a BigVGAN generator (AMP1 resblocks, anti-aliased SnakeBeta) at 16 kHz, then bandwidth
// extension to 48 kHz: a causal log-mel of that waveform drives a second generator whose output
// is added to the sinc-upsampled waveform. docs/ltx2/reference-map.md, section "Vocoder".
#include <torch/types.h>

#include <memory>
#include <string>

#include "core/safetensors.hpp"
#include "models/ltx2/config.hpp"

namespace opsis::ltx2 {

class Vocoder {
 public:
  Vocoder(const VocoderConfig& config, const safetensors::TensorStore& file, const std::string& path,
          torch::Device device = torch::kCPU);
  ~Vocoder();
  Vocoder(Vocoder&&) noexcept;
  Vocoder& operator=(Vocoder&&) noexcept;

  // mel [B, 2, T, 64] (the audio decoder's output) -> waveform [B, 2, samples] in [-1, 1]
  torch::Tensor forward(const torch::Tensor& mel) const;
  int sample_rate() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsis::ltx2
