#include "models/mini2/identity_reader.hpp"

#include <array>

#include "models/mini2/conditioning.hpp"

namespace opsis::mini2 {

namespace nn = torch::nn;
using torch::indexing::Slice;

namespace {
constexpr std::array<int64_t, 5> kHeads{5, 6, 3, 8, 3};
}

IdentityReaderImpl::IdentityReaderImpl() {
  features = register_module("features", nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(3, 32, 3).stride(2).padding(1)), nn::SiLU(),   // 32x32
      nn::Conv2d(nn::Conv2dOptions(32, 64, 3).stride(2).padding(1)), nn::SiLU(),  // 16x16
      nn::Conv2d(nn::Conv2dOptions(64, 96, 3).stride(2).padding(1)), nn::SiLU(),  // 8x8
      nn::Conv2d(nn::Conv2dOptions(96, 128, 3).stride(2).padding(1)), nn::SiLU()  // 4x4
      ));
  head = register_module("head", nn::Linear(128 * 4 * 4, kIdentityClasses));
}

torch::Tensor IdentityReaderImpl::forward(const torch::Tensor& portraits) {
  return head->forward(features->forward(portraits).flatten(1));
}

torch::Tensor portrait_tensor(const Image& image) { return identity_tensor(image, kIdentityPixels).permute({2, 0, 1}).contiguous(); }

torch::Tensor identity_targets(const studio::Identity& id) {
  return torch::tensor(std::vector<int64_t>{int64_t(id.skin), int64_t(id.hair_color), int64_t(id.hair_style), int64_t(id.shirt),
                                            int64_t(id.accessory)});
}

torch::Tensor identity_loss(const torch::Tensor& logits, const torch::Tensor& targets) {
  torch::Tensor loss = torch::zeros({}, logits.options());
  int64_t at = 0;
  for (size_t h = 0; h < kHeads.size(); ++h) {
    loss = loss + torch::cross_entropy_loss(logits.index({Slice(), Slice(at, at + kHeads[h])}), targets.index({Slice(), int64_t(h)}));
    at += kHeads[h];
  }
  return loss;
}

studio::Identity read_identity(IdentityReader& reader, const Image& portrait) {
  torch::NoGradGuard no_grad;
  const auto logits = reader->forward(portrait_tensor(portrait).unsqueeze(0))[0];
  std::array<int, 5> pick{};
  int64_t at = 0;
  for (size_t h = 0; h < kHeads.size(); ++h) {
    pick[h] = int(logits.index({Slice(at, at + kHeads[h])}).argmax().item<int64_t>());
    at += kHeads[h];
  }
  studio::Identity id;
  id.skin = studio::SkinTone(pick[0]);
  id.hair_color = studio::HairColor(pick[1]);
  id.hair_style = studio::HairStyle(pick[2]);
  id.shirt = studio::Color(pick[3]);
  id.accessory = studio::Accessory(pick[4]);
  id.name.clear();
  return id;
}

}  // namespace opsis::mini2
