#pragma once
// The LTX-2 video autoencoder ("CausalVideoAutoencoder"): the encoder (pixels -> normalised
// latent means) and the timestep-conditioned decoder (latent -> pixels), built from the
// checkpoint's `vae` config. Pixel-norm variants only (LTX-2, 2.3); group-norm and the 2.5
// diffusion decoder are refused. docs/ltx2/reference-map.md, section "Video VAE".
#include <torch/types.h>

#include <memory>
#include <string>

#include "core/safetensors.hpp"
#include "models/ltx2/config.hpp"

namespace opsis::ltx2 {

class VideoEncoder {
 public:
  VideoEncoder(const VaeConfig& config, const safetensors::TensorStore& file, const std::string& path,
               torch::Device device = torch::kCPU);
  ~VideoEncoder();
  VideoEncoder(VideoEncoder&&) noexcept;
  VideoEncoder& operator=(VideoEncoder&&) noexcept;

  // video [B, 3, F, H, W] in [-1, 1] (frames beyond 1 + 8k are dropped; H, W multiples of the
  // spatial factor) -> normalised latent means [B, C, 1 + (F - 1) / 8, H / 32, W / 32].
  torch::Tensor forward(const torch::Tensor& video) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class VideoDecoder {
 public:
  static constexpr double kDecodeTimestep = 0.05;    // the pipelines' default
  static constexpr double kDecodeNoiseScale = 0.025;

  VideoDecoder(const VaeConfig& config, const safetensors::TensorStore& file, const std::string& path,
               torch::Device device = torch::kCPU);
  ~VideoDecoder();
  VideoDecoder(VideoDecoder&&) noexcept;
  VideoDecoder& operator=(VideoDecoder&&) noexcept;

  // latent [B, C, F', H', W'] (normalised) -> video [B, 3, 8 (F' - 1) + 1, 32 H', 32 W'] in about
  // [-1, 1]. With timestep conditioning: timestep [B] (kDecodeTimestep when undefined) and
  // `noise`, standard normal noise shaped like the latent, mixed in as
  // noise x 0.025 + 0.975 x (undefined: no noise, the latent is only scaled).
  torch::Tensor forward(const torch::Tensor& latent, const torch::Tensor& timestep = {},
                        const torch::Tensor& noise = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsis::ltx2
