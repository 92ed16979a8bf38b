#include "models/layers/layers.hpp"

#include <cmath>

namespace opsis::layers {

AttentionImpl::AttentionImpl(int d_model, int heads_) : heads(heads_) {
  q = register_module("q", torch::nn::Linear(d_model, d_model));
  k = register_module("k", torch::nn::Linear(d_model, d_model));
  v = register_module("v", torch::nn::Linear(d_model, d_model));
  o = register_module("o", torch::nn::Linear(d_model, d_model));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& memory, const torch::Tensor& mask) {
  const int64_t B = x.size(0), Lq = x.size(1), Lk = memory.size(1), d = x.size(2), dh = d / heads;
  auto qh = q(x).view({B, Lq, heads, dh}).transpose(1, 2);       // [B, h, Lq, dh]
  auto kh = k(memory).view({B, Lk, heads, dh}).transpose(1, 2);  // [B, h, Lk, dh]
  auto vh = v(memory).view({B, Lk, heads, dh}).transpose(1, 2);
  auto scores = torch::matmul(qh, kh.transpose(-2, -1)) * (1.0 / std::sqrt(double(dh)));  // [B, h, Lq, Lk]
  if (mask.defined()) scores = scores.masked_fill(mask.logical_not().view({B, 1, 1, Lk}), -1e9);
  auto out = torch::matmul(torch::softmax(scores, -1), vh);  // [B, h, Lq, dh]
  return o(out.transpose(1, 2).reshape({B, Lq, d}));
}

torch::Tensor sinusoidal(const torch::Tensor& values, int dims, double min_period, double max_period) {
  const int half = dims / 2;
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(values.device());
  // frequencies 2 pi / period, periods geometric from min to max: [half]
  auto exponents = torch::arange(half, options) / std::max(1, half - 1);
  auto periods = min_period * torch::pow(torch::full({}, max_period / min_period, options), exponents);
  auto angles = values.to(torch::kFloat32).unsqueeze(-1) * (2 * M_PI) / periods;
  return torch::cat({torch::sin(angles), torch::cos(angles)}, -1);
}

}  // namespace opsis::layers
