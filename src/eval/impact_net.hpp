#pragma once
// The visual impact detector: a small learned network over the clip's vertical change
// profile in time. For each frame t, each of 36 bands of rows gives the share of its pixels
// whose brightness changed since frame t - 1 and their mean change; a CNN over (band, time)
// scores each frame for "an object touches the ground here" (the downward change turning
// back, or stopping). Trained on studio clips of bounces and falls against the truth's
// ground impacts (train/train_probes.cpp); part of models/opsis-probes.safetensors.
#include <torch/torch.h>

#include <vector>

#include "core/av.hpp"
#include "studio/studio.hpp"

namespace opsis::eval {

inline constexpr int kImpactBands = 36;

// [2][kImpactBands][frames] float values (frame 0 is zero). The picture is read as if 72
// rows high, whatever its size.
std::vector<float> impact_profile(const Video& video);

struct ImpactNetImpl : torch::nn::Module {
  ImpactNetImpl();
  torch::Tensor forward(torch::Tensor x);  // [n][2][bands][T] -> logits [n][T]
  torch::nn::Sequential body{nullptr};
  torch::nn::Sequential head{nullptr};
};
TORCH_MODULE(ImpactNet);

// Impact times (seconds) from per-frame logits: local peaks with probability >= 0.5, at
// least 3 frames apart, refined between frames by the neighbours' weights.
std::vector<double> impact_peaks(const std::vector<float>& logits, double fps);

// Ground contacts at 1 m/s or more (a visible bounce, not the settling rattle) of an entity
// seen in the frame nearest the contact: the impacts a viewer sees. Seconds.
std::vector<double> truth_impacts(const studio::Clip& clip, double fps);

}  // namespace opsis::eval
