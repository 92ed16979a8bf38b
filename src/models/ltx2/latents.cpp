#include "models/ltx2/latents.hpp"

#include <torch/torch.h>

#include <cmath>

namespace opsis::ltx2 {
namespace {

constexpr int64_t kTimeScale = 8, kSpaceScale = 32, kAudioDownsample = 4;

}  // namespace

torch::Tensor patchify_video(const torch::Tensor& latent) { return latent.flatten(2).transpose(1, 2); }

torch::Tensor unpatchify_video(const torch::Tensor& tokens, int64_t frames, int64_t height, int64_t width) {
  return tokens.transpose(1, 2).reshape({tokens.size(0), tokens.size(2), frames, height, width});
}

torch::Tensor patchify_audio(const torch::Tensor& latent) {
  return latent.permute({0, 2, 1, 3}).reshape({latent.size(0), latent.size(2), latent.size(1) * latent.size(3)});
}

torch::Tensor unpatchify_audio(const torch::Tensor& tokens, int64_t channels, int64_t mel_bins) {
  return tokens.view({tokens.size(0), tokens.size(1), channels, mel_bins}).permute({0, 2, 1, 3});
}

torch::Tensor video_positions(int64_t batch, int64_t frames, int64_t height, int64_t width, double fps) {
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  std::vector<torch::Tensor> grid = torch::meshgrid({torch::arange(frames, i64), torch::arange(height, i64),
                                                     torch::arange(width, i64)}, "ij");
  std::vector<torch::Tensor> axes;
  const int64_t scale[3] = {kTimeScale, kSpaceScale, kSpaceScale};
  for (int a = 0; a < 3; ++a) {
    torch::Tensor start = grid[size_t(a)].flatten();
    torch::Tensor bounds = torch::stack({start, start + 1}, -1) * scale[a];  // [T, 2] in pixels
    if (a == 0) bounds = (bounds + 1 - kTimeScale).clamp_min(0);            // causal first frame
    axes.push_back(bounds);
  }
  torch::Tensor positions = torch::stack(axes, 0).to(torch::kFloat32);  // [3, T, 2]
  positions[0] = positions[0] / fps;
  return positions.unsqueeze(0).expand({batch, -1, -1, -1}).contiguous();
}

torch::Tensor audio_positions(int64_t batch, int64_t frames, int sample_rate, int hop_length) {
  auto seconds = [&](int64_t from, int64_t to) {
    torch::Tensor mel = torch::arange(from, to, torch::kFloat32) * double(kAudioDownsample);
    mel = (mel + 1 - double(kAudioDownsample)).clamp_min(0);
    return mel * double(hop_length) / double(sample_rate);
  };
  torch::Tensor bounds = torch::stack({seconds(0, frames), seconds(1, frames + 1)}, -1);  // [T, 2]
  return bounds.view({1, 1, frames, 2}).expand({batch, 1, frames, 2}).contiguous();
}

int64_t audio_latent_frames(double seconds, int sample_rate, int hop_length) {
  const double per_second = double(sample_rate) / double(hop_length) / double(kAudioDownsample);
  return int64_t(std::nearbyint(seconds * per_second));
}

}  // namespace opsis::ltx2
