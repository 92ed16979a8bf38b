#pragma once
// Layers shared by the model families (opsis-mini, opsis-mini 2; later real families).
#include <torch/torch.h>

namespace opsis::layers {

// Multi-head attention of x over memory. Parameter names q, k, v, o (checkpoints use them).
struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int d_model, int heads);
  // x: [B, Lq, d], memory: [B, Lk, d], mask: [B, Lk] bool (true = attend) or undefined -> [B, Lq, d]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& memory, const torch::Tensor& mask = {});
  int heads;
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
};
TORCH_MODULE(Attention);

// Sinusoidal features of `values` (any shape) -> [..., dims]: sines then cosines, periods
// geometric in [min_period, max_period].
torch::Tensor sinusoidal(const torch::Tensor& values, int dims, double min_period, double max_period);

}  // namespace opsis::layers
