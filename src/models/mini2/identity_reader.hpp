#pragma once
// The structured variant's identity encoder: reads, from an identity portrait (a cameo's
// reference picture), the studio identity the layered renderer draws: skin tone, hair colour
// and style, shirt colour, accessory. A small CNN trained on studio portraits of random
// identities (train/train_mini2_renderer.cpp). On a real person's portrait it gives the
// nearest studio identity it sees (a cartoon of them), which is all the built-in model can draw.
#include <torch/torch.h>

#include "core/av.hpp"
#include "studio/spec.hpp"

namespace opsis::mini2 {

inline constexpr int kIdentityPixels = 64;
inline constexpr int kIdentityClasses = 5 + 6 + 3 + 8 + 3;  // skin, hair colour, hair style, shirt, accessory

struct IdentityReaderImpl : torch::nn::Module {
  IdentityReaderImpl();
  // portraits: [B, 3, 64, 64] in [-1, 1] -> logits [B, kIdentityClasses] (the five heads side by side)
  torch::Tensor forward(const torch::Tensor& portraits);
  torch::nn::Sequential features{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(IdentityReader);

// Any image -> [3, 64, 64] in [-1, 1] (area-resampled).
torch::Tensor portrait_tensor(const Image& image);
// The five heads' targets for an identity: [5] class indices.
torch::Tensor identity_targets(const studio::Identity& identity);
// Cross-entropy summed over the five heads, averaged over the batch. targets: [B, 5].
torch::Tensor identity_loss(const torch::Tensor& logits, const torch::Tensor& targets);
// The identity the portrait shows (name left empty).
studio::Identity read_identity(IdentityReader& reader, const Image& portrait);

}  // namespace opsis::mini2
