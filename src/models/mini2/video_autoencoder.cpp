#include "models/mini2/video_autoencoder.hpp"

namespace opsis::mini2 {

namespace nn = torch::nn;

namespace {
nn::Conv2d conv(int in, int out, int kernel, int stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(int channels) {
  norm1 = register_module("norm1", nn::GroupNorm(8, channels));
  conv1 = register_module("conv1", conv(channels, channels, 3));
  norm2 = register_module("norm2", nn::GroupNorm(8, channels));
  conv2 = register_module("conv2", conv(channels, channels, 3));
  torch::NoGradGuard no_grad;
  conv2->weight.mul_(0.1);  // start close to the identity
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  auto h = conv1(torch::silu(norm1(x)));
  return x + conv2(torch::silu(norm2(h)));
}

torch::Tensor cell_coordinates(int64_t h, int64_t w, const torch::Device& device) {
  const auto options = torch::TensorOptions().device(device);
  auto ys = (torch::arange(h, options).to(torch::kFloat32) + 0.5) / double(h) * 2 - 1;
  auto xs = (torch::arange(w, options).to(torch::kFloat32) + 0.5) / double(w) * 2 - 1;
  auto grid = torch::meshgrid({ys, xs}, "ij");
  return torch::stack({grid[1], grid[0]}).unsqueeze(0);  // [1, 2, h, w]
}

VideoAutoencoderImpl::VideoAutoencoderImpl(const AutoencoderConfig& c) : config(c) {
  const int pixels_in = 4 * 4 * 3 * c.frames_per_latent;  // pixel-unshuffle 4 of a frame pair
  enc_in = register_module("enc_in", conv(pixels_in, c.width_fine, 3));
  enc_fine = register_module("enc_fine", ResidualBlock(c.width_fine));
  enc_down1 = register_module("enc_down1", conv(c.width_fine, c.width_mid, 3, 2));
  enc_mid = register_module("enc_mid", ResidualBlock(c.width_mid));
  enc_down2 = register_module("enc_down2", conv(c.width_mid, c.width_coarse, 3, 2));
  enc_coarse = register_module("enc_coarse", ResidualBlock(c.width_coarse));
  enc_norm = register_module("enc_norm", nn::GroupNorm(8, c.width_coarse));
  enc_out = register_module("enc_out", conv(c.width_coarse, c.channels, 1));

  dec_in = register_module("dec_in", conv(c.channels + 2, c.width_coarse, 3));
  dec_coarse1 = register_module("dec_coarse1", ResidualBlock(c.width_coarse));
  dec_coarse2 = register_module("dec_coarse2", ResidualBlock(c.width_coarse));
  dec_up1 = register_module("dec_up1", conv(c.width_coarse + 2, c.width_mid, 3));
  dec_mid = register_module("dec_mid", ResidualBlock(c.width_mid));
  dec_up2 = register_module("dec_up2", conv(c.width_mid + 2, c.width_fine, 3));
  dec_fine = register_module("dec_fine", ResidualBlock(c.width_fine));
  dec_norm = register_module("dec_norm", nn::GroupNorm(8, c.width_fine));
  dec_out = register_module("dec_out", conv(c.width_fine, pixels_in, 3));
  if (c.refine_width > 0) {
    // Input at 1/2 resolution: the fine features (upsampled), coordinates, and the plain
    // decoder's frame pair pixel-unshuffled by 2 (6 x 4 channels).
    const int half_pixels = 2 * 2 * 3 * c.frames_per_latent;
    dec_refine_in = register_module("dec_refine_in", conv(c.width_fine + 2 + half_pixels, c.refine_width, 3));
    dec_refine = register_module("dec_refine", nn::ModuleList());
    for (int i = 0; i < c.refine_blocks; ++i) dec_refine->push_back(ResidualBlock(c.refine_width));
    dec_refine_norm = register_module("dec_refine_norm", nn::GroupNorm(8, c.refine_width));
    dec_refine_out = register_module("dec_refine_out", conv(c.refine_width, half_pixels, 3));
    torch::NoGradGuard no_grad;
    dec_refine_out->weight.zero_();
    dec_refine_out->bias.zero_();
  }

  cell_head = register_module("cell_head", conv(c.channels, kCellClasses, 1));
  latent_mean = register_parameter("latent_mean", torch::zeros({c.channels}), false);
  latent_std = register_parameter("latent_std", torch::ones({c.channels}), false);
}

torch::Tensor VideoAutoencoderImpl::encode(const torch::Tensor& video) {
  const int64_t B = video.size(0), F = video.size(1), H = video.size(2), W = video.size(3);
  const int64_t pair = config.frames_per_latent, T = F / pair;
  TORCH_CHECK(F % pair == 0 && H % config.downsample == 0 && W % config.downsample == 0,
              "video autoencoder: frames must be even and sides multiples of 16");
  // [B, T, 2, H, W, 3] -> [B*T, 2*3, H, W]: a frame pair as one picture of 6 channels
  auto x = video.reshape({B * T, pair, H, W, 3}).permute({0, 1, 4, 2, 3}).reshape({B * T, pair * 3, H, W});
  x = torch::pixel_unshuffle(x, 4);  // [B*T, 96, H/4, W/4]
  x = enc_fine(enc_in(x));
  x = enc_mid(enc_down1(torch::silu(x)));
  x = enc_coarse(enc_down2(torch::silu(x)));
  x = enc_out(torch::silu(enc_norm(x)));  // [B*T, C, H/16, W/16]
  return x.reshape({B, T, config.channels, H / 16, W / 16});
}

torch::Tensor VideoAutoencoderImpl::decode(const torch::Tensor& latent) {
  const int64_t B = latent.size(0), T = latent.size(1), h = latent.size(3), w = latent.size(4);
  const int64_t pair = config.frames_per_latent;
  auto with_coordinates = [&](const torch::Tensor& x) {
    auto coordinates = cell_coordinates(x.size(2), x.size(3), x.device()).expand({x.size(0), 2, x.size(2), x.size(3)});
    return torch::cat({x, coordinates.to(x.dtype())}, 1);
  };
  auto x = latent.reshape({B * T, config.channels, h, w});
  x = dec_coarse2(dec_coarse1(dec_in(with_coordinates(x))));
  x = torch::upsample_nearest2d(torch::silu(x), std::vector<int64_t>{2 * h, 2 * w});
  x = dec_mid(dec_up1(with_coordinates(x)));
  x = torch::upsample_nearest2d(torch::silu(x), std::vector<int64_t>{4 * h, 4 * w});
  const auto features = dec_fine(dec_up2(with_coordinates(x)));  // [B*T, width_fine, 4h, 4w]
  x = dec_out(torch::silu(dec_norm(features)));  // [B*T, 96, 4h, 4w]
  x = torch::pixel_shuffle(x, 4);                // [B*T, 6, 16h, 16w]
  if (config.refine_width > 0) {
    auto up = torch::upsample_nearest2d(torch::silu(features), std::vector<int64_t>{8 * h, 8 * w});
    auto r = dec_refine_in(torch::cat({with_coordinates(up), torch::pixel_unshuffle(x, 2)}, 1));  // [B*T, R, 8h, 8w]
    for (const auto& block : *dec_refine) r = block->as<ResidualBlockImpl>()->forward(r);
    x = x + torch::pixel_shuffle(dec_refine_out(torch::silu(dec_refine_norm(r))), 2);  // + [B*T, 6, 16h, 16w]
  }
  return x.reshape({B, T, pair, 3, 16 * h, 16 * w}).permute({0, 1, 2, 4, 5, 3}).reshape({B, T * pair, 16 * h, 16 * w, 3});
}

torch::Tensor VideoAutoencoderImpl::cell_logits(const torch::Tensor& latent) {
  const int64_t B = latent.size(0), T = latent.size(1), h = latent.size(3), w = latent.size(4);
  auto logits = cell_head(latent.reshape({B * T, config.channels, h, w}));  // [B*T, K, h, w]
  return logits.permute({0, 2, 3, 1}).reshape({B, T, h, w, kCellClasses});
}

bool VideoAutoencoderImpl::is_decoder_parameter(const std::string& name) {
  return name.rfind("dec_", 0) == 0;
}

torch::Tensor VideoAutoencoderImpl::normalize(const torch::Tensor& latent) const {
  return (latent - latent_mean.view({1, 1, -1, 1, 1})) / latent_std.view({1, 1, -1, 1, 1});
}

torch::Tensor VideoAutoencoderImpl::denormalize(const torch::Tensor& normalized) const {
  return normalized * latent_std.view({1, 1, -1, 1, 1}) + latent_mean.view({1, 1, -1, 1, 1});
}

}  // namespace opsis::mini2
