#pragma once
// The LTX-2 audio-video transformer (the reference's LTXModel, AV variant): two streams
// (video, audio) with their own self- and text cross-attention, audio<->video attention in
// every block, AdaLN-single timestep modulation, fractional RoPE, and the velocity heads.
// Both the 2.0 layout (interleaved RoPE, caption projections inside, plain text
// cross-attention) and the 2.3 layout (split RoPE with float64 frequencies, per-head gated
// attention, cross-attention AdaLN) are built from the checkpoint's metadata config.
// docs/ltx2/reference-map.md, section "Transformer", is the specification.
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.hpp"
#include "models/ltx2/precision.hpp"
#include "models/ltx2/config.hpp"

namespace opsis::ltx2 {

// One stream's inputs (the reference's Modality). B batch, T tokens.
struct StreamInput {
  torch::Tensor latent;     // [B, T, C] patchified latent tokens
  torch::Tensor sigma;      // [B] the stream's sigma (gates the other stream's A/V attention)
  torch::Tensor timesteps;  // [B, T] (or [B, T, 1]) per-token sigma = denoise mask x sigma
  torch::Tensor positions;  // [B, n, T, 2] [start, end) bounds (n = 3 video, 1 audio)
  torch::Tensor context;    // [B, S, Dc] text context from the connectors
};

// The perturbations the guiders use, for one batch row. `blocks` empty = every block.
enum class Skip { VideoSelfAttention, AudioSelfAttention, AudioToVideo, VideoToAudio };
struct Perturbation {
  Skip what;
  std::vector<int> blocks;
};
using PerturbationSet = std::vector<Perturbation>;

struct TransformerOutput {
  torch::Tensor video, audio;  // velocities [B, Tv, C], [B, Ta, Ca]
};

class Transformer {
 public:
  // Reads the `model.diffusion_model.*` tensors of a loaded single-file checkpoint (text
  // connectors excluded), widened to float32 and placed on `device`. Throws
  // opsis::InvalidArgument("weights", ...) naming a missing or mis-shaped tensor.
  // precision: how its linear layers' weights stay in memory (modules.hpp).
  Transformer(const TransformerConfig& config, const safetensors::TensorStore& file, const std::string& path,
              torch::Device device = torch::kCPU, WeightPrecision precision = WeightPrecision::Float32);
  ~Transformer();
  Transformer(Transformer&&) noexcept;
  Transformer& operator=(Transformer&&) noexcept;

  // perturbations: empty, or one set per batch row. trace, when given, receives the
  // intermediate tensors under the golden names without the "dit." prefix
  // (pre.video.x, pre.video.timestep, ..., block{i}.video, block{i}.audio).
  TransformerOutput forward(const StreamInput& video, const StreamInput& audio,
                            const std::vector<PerturbationSet>& perturbations = {},
                            std::map<std::string, torch::Tensor>* trace = nullptr) const;

  const TransformerConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsis::ltx2
