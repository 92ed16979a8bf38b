#pragma once
// opsis-mini 2's video autoencoder: pairs of frames <-> a coarse latent grid.
//   encode: video [B, F, H, W, 3] in [-1, 1] (H, W multiples of 16, F even)
//           -> latent [B, F/2, C, H/16, W/16]
//   decode: the inverse; the decoder also sees each cell's normalised coordinates (CoordConv),
//           because plain convolutions learn coordinate -> picture mappings slowly. With
//           config.refine_width > 0 a refinement stage at 1/2 resolution corrects the picture
//           (its last layer starts at zero: a refined decoder starts as the plain one).
// Frames are flat-shaded studio pictures: the cells keep setting, camera, objects with their
// colour and place, a character's pose and mouth. A linear head reads, per cell, which
// object colour (or a character) covers it: trained on the studio's truth boxes, it makes the
// latent say what the generator must get right (the tokenizer-alignment idea of VA-VAE).
#include <torch/torch.h>

#include "models/mini2/config.hpp"

namespace opsis::mini2 {

inline constexpr int kCellClasses = 10;  // 0 nothing, 1..8 an object of studio colour c - 1, 9 a character

struct ResidualBlockImpl : torch::nn::Module {
  explicit ResidualBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);  // [N, C, h, w] -> same
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(ResidualBlock);

struct VideoAutoencoderImpl : torch::nn::Module {
  explicit VideoAutoencoderImpl(const AutoencoderConfig& config);

  torch::Tensor encode(const torch::Tensor& video);   // [B, F, H, W, 3] -> [B, T, C, h, w], unnormalised
  torch::Tensor decode(const torch::Tensor& latent);  // [B, T, C, h, w] -> [B, 2T, 16h, 16w, 3]
  torch::Tensor cell_logits(const torch::Tensor& latent);  // -> [B, T, h, w, kCellClasses]

  // The parameters a decoder-only run trains (everything after the latent); the rest is frozen.
  static bool is_decoder_parameter(const std::string& name);

  // The generator works on (latent - mean) / std, per channel: statistics measured on studio
  // clips once the autoencoder is trained (stored with the weights; 0 / 1 before).
  torch::Tensor normalize(const torch::Tensor& latent) const;
  torch::Tensor denormalize(const torch::Tensor& normalized) const;

  AutoencoderConfig config;
  // encoder
  torch::nn::Conv2d enc_in{nullptr}, enc_down1{nullptr}, enc_down2{nullptr}, enc_out{nullptr};
  ResidualBlock enc_fine{nullptr}, enc_mid{nullptr}, enc_coarse{nullptr};
  torch::nn::GroupNorm enc_norm{nullptr};
  // decoder
  torch::nn::Conv2d dec_in{nullptr}, dec_up1{nullptr}, dec_up2{nullptr}, dec_out{nullptr};
  ResidualBlock dec_coarse1{nullptr}, dec_coarse2{nullptr}, dec_mid{nullptr}, dec_fine{nullptr};
  torch::nn::GroupNorm dec_norm{nullptr};
  // decoder refinement at 1/2 resolution (config.refine_width > 0; else unset)
  torch::nn::Conv2d dec_refine_in{nullptr}, dec_refine_out{nullptr};
  torch::nn::ModuleList dec_refine{nullptr};
  torch::nn::GroupNorm dec_refine_norm{nullptr};
  torch::nn::Conv2d cell_head{nullptr};
  torch::Tensor latent_mean, latent_std;  // [C], not trained by gradient
};
TORCH_MODULE(VideoAutoencoder);

// [H, W] -> [1, 2, h, w]: x and y of each cell centre in [-1, 1].
torch::Tensor cell_coordinates(int64_t h, int64_t w, const torch::Device& device);

}  // namespace opsis::mini2
